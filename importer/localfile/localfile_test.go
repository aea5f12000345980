package localfile

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/importer/localfile/localfiletest"
)

func TestOpenDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	if root, err := OpenDir(dir, true); root != nil || err != nil {
		t.Fatalf("dry run of a missing directory: %v %v, want nil, nil", root, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a dry run made the directory")
	}
	root, err := OpenDir(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != DirMode {
		t.Errorf("made %v %v, want mode %v", fi.Mode(), err, DirMode)
	}
	if Exists(root, "x") || Exists(nil, "x") {
		t.Error("Exists of nothing")
	}
}

// recorder is a Restorer that notes what Restore hands it.
type recorder struct {
	folders []string
	items   int
	walkErr error
	closed  bool
	closeEr error
}

func (r *recorder) Folder(_ string, f format.Folder) error {
	r.folders = append(r.folders, f.Path)
	return nil
}

func (r *recorder) Item(_ context.Context, _ string, e *format.Entry) error {
	r.items++
	_, err := io.Copy(io.Discard, e.Body)
	return err
}

func (r *recorder) Close(_ context.Context, walkErr error) error {
	r.closed, r.walkErr = true, walkErr
	return r.closeEr
}

// writeWithSummary writes an archive of two folders, an item in each, and
// a summary naming one item the export could not read.
func writeWithSummary(t *testing.T, path string) {
	t.Helper()
	localfiletest.WriteArchive(t, path, []string{"INBOX", "Work"},
		[]localfiletest.Item{{Folder: "INBOX", ID: "1", Body: "a\r\n"}, {Folder: "Work", ID: "2", Body: "b\r\n"}},
		format.Problem{Folder: "Work", Item: "9", Reason: "unreadable"})
}

// The shell owns what is the same for every local target: unselected
// folders never reach the Restorer, the summary's unread items are noted,
// Close always runs, and a failing Close after a whole walk still says
// every item was read.
func TestRestoreDrivesTheRestorer(t *testing.T) {
	a := filepath.Join(t.TempDir(), "a.tar.gz")
	writeWithSummary(t, a)
	rec := &recorder{closeEr: errors.New("disk full")}
	res, err := Restore(context.Background(), "test", t.TempDir(),
		importer.Request{User: "alice", Archives: []string{a}, Select: importer.Select{Folders: []string{"Work"}}},
		func(*Run, *os.Root) (Restorer, error) { return rec, nil })
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err %v, want the Close error", err)
	}
	rep := res.Report
	if !slices.Equal(rec.folders, []string{"Work"}) || rec.items != 2 || !rec.closed || rec.walkErr != nil {
		t.Errorf("restorer saw folders %q, %d items, closed %v (%v)", rec.folders, rec.items, rec.closed, rec.walkErr)
	}
	if !rep.AllRead || rep.Stage != "finish" || len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "could not read 1 item(s)") {
		t.Errorf("report: allRead %v, stage %q, notes %q", rep.AllRead, rep.Stage, rep.Notes)
	}
	// The last line says what happened: every item read, the finishing
	// step failed, and why; not that the archives' rest went unread.
	if st := rep.Statement; strings.Contains(st, "was not imported") || !strings.Contains(st, "every item of the archives was read") ||
		!strings.Contains(st, "finishing step") || !strings.Contains(st, "disk full") || rep.Status != "failed" {
		t.Errorf("status %q, statement %q", rep.Status, st)
	}
}

func TestRestoreNeedsADirectory(t *testing.T) {
	started := false
	res, err := Restore(context.Background(), "test", "", importer.Request{User: "alice"},
		func(*Run, *os.Root) (Restorer, error) { started = true; return &recorder{}, nil })
	if err == nil || !strings.Contains(err.Error(), "no directory given") || started || res.Report.Stage != "connect" {
		t.Errorf("err %v, started %v, stage %q", err, started, res.Report.Stage)
	}
}

// A damaged archive ends the walk; Close is still called, with that error,
// so a target can flush what it wrote.
func TestCloseSeesTheWalkError(t *testing.T) {
	a := filepath.Join(t.TempDir(), "a.tar.gz")
	writeWithSummary(t, a)
	rec := &recorder{}
	_, err := Restore(context.Background(), "test", t.TempDir(),
		importer.Request{User: "alice", Archives: []string{a, filepath.Join(t.TempDir(), "missing.tar.gz")}},
		func(*Run, *os.Root) (Restorer, error) { return rec, nil })
	if err == nil || !rec.closed || rec.walkErr == nil || rec.walkErr.Error() != err.Error() {
		t.Errorf("err %v; Close saw %v (closed %v)", err, rec.walkErr, rec.closed)
	}
}
