package migrate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mailhaul/mailhaul/export"
)

// TestKilledWhileImportingContinues: a user whose process died while
// importing (its state says importing, its export finished) continues
// with the import alone: the archive is not made again.
func TestKilledWhileImportingContinues(t *testing.T) {
	e := newEnv(t, 2)
	e.exportPart()
	u := e.users[0]
	st, err := LoadState(e.state, u.Name)
	if err != nil {
		t.Fatal(err)
	}
	st.Status = Importing // as a SIGKILL during the import leaves it
	if err := saveState(e.state, st); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(st.Archives[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), e.job(Full))
	if err != nil || res.ExitCode() != ExitOK {
		t.Fatalf("%v\n%s", err, res.Summary())
	}
	after, err := os.Stat(st.Archives[0].Path)
	if err != nil || !after.ModTime().Equal(before.ModTime()) || len(res.Users[0].State.Archives) != 1 {
		t.Errorf("the finished export was made again (%v, %d archives)", err, len(res.Users[0].State.Archives))
	}
	for _, r := range res.Users {
		e.exactlyOnce(r.User)
	}
}

// TestItemFailedIsWarning: an item the export cannot take (a symbolic
// link in the Maildir) leaves the user done with warnings, the item
// listed with its code; the run is partial and the user is in the
// failures file.
func TestItemFailedIsWarning(t *testing.T) {
	e := newEnv(t, 2)
	link := filepath.Join(e.src, e.users[1].Name, "cur", "1700000000.link.test:2,S")
	if err := os.Symlink("/etc/hostname", link); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), e.job(Full))
	if err != nil {
		t.Fatal(err)
	}
	w := res.Users[1]
	if w.Status != DoneWarnings || len(w.State.Failures) != 1 || w.State.Failures[0].Code != "not-regular" {
		t.Fatalf("user02: %s, failures %+v; want done-with-warnings and the link, not-regular", w.Status, w.State.Failures)
	}
	if res.Users[0].Status != Done || res.ExitCode() != ExitPartial || !strings.Contains(res.Summary(), "1 done-with-warnings") {
		t.Errorf("exit %d, summary %q", res.ExitCode(), res.Summary())
	}
	var b strings.Builder
	if err := res.WriteFailures(&b); err != nil || !strings.Contains(b.String(), e.users[1].Name) || strings.Contains(b.String(), e.users[0].Name) {
		t.Errorf("failures file %q (%v): want user02 alone", b.String(), err)
	}
	var c strings.Builder
	res.WriteCSV(&c)
	if !strings.Contains(c.String(), "not-regular:1") {
		t.Errorf("users report %q: no failure code", c.String())
	}
}

// TestKilledAfterDeltaExportNotExportedAgain: a process killed right
// after a delta's archive was recorded (before any later write) leaves
// the state as that save wrote it; the rerun of the pass does not export
// the user again, so the counts hold the delta once and equal the source.
func TestKilledAfterDeltaExportNotExportedAgain(t *testing.T) {
	e := newEnv(t, 1)
	u := e.users[0]
	source := e.fullThenNewMail(u)

	// The "kill": keep the record as export's save left it, stop the run
	// there, and put the record back after the run's later writes.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	status := filepath.Join(userDir(e.state, u.Name), statusFileName)
	var left []byte
	stepSaved = func(_, step string) {
		if step == "export" && left == nil {
			left, _ = os.ReadFile(status)
			cancel()
		}
	}
	t.Cleanup(func() { stepSaved = nil })
	Run(ctx, e.job(Delta))
	stepSaved = nil
	if left == nil {
		t.Fatal("the delta export never saved its archive")
	}
	if err := os.WriteFile(status, left, 0o600); err != nil {
		t.Fatal(err)
	}

	job := e.job(Delta)
	var exports atomic.Int32
	next := job.Steps.Export
	job.Steps.Export = func(ctx context.Context, u User, since string) (export.Job, error) {
		exports.Add(1)
		return next(ctx, u, since)
	}
	res, err := Run(context.Background(), job)
	if err != nil || res.ExitCode() != ExitOK {
		t.Fatalf("rerun: %v\n%s", err, res.Summary())
	}
	st := res.Users[0].State
	if n := exports.Load(); n != 0 {
		t.Errorf("the rerun exported the user %d times again, want 0", n)
	}
	if st.Counts.Messages != source || len(st.Archives) != 2 {
		t.Errorf("counts %d messages in %d archives, want %d (the source) in 2", st.Counts.Messages, len(st.Archives), source)
	}
	e.exactlyOnce(u)
}
