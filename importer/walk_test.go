package importer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer/localfile/localfiletest"
)

// writeArchive writes one mail folder with the given message bodies.
func writeArchive(t *testing.T, path, folder string, bodies ...string) {
	t.Helper()
	var items []localfiletest.Item
	for i, b := range bodies {
		items = append(items, localfiletest.Item{Folder: folder, ID: folder + string(rune('a'+i)),
			Recv: time.Unix(int64(1e9+i), 0), Body: b})
	}
	localfiletest.WriteArchive(t, path, []string{folder}, items)
}

func TestWalkVisitsArchivesInOrder(t *testing.T) {
	dir := t.TempDir()
	full, delta := filepath.Join(dir, "full.tar.gz"), filepath.Join(dir, "delta.tar.gz")
	writeArchive(t, full, "INBOX", "Subject: one\r\n\r\n1\r\n", "Subject: two\r\n\r\n2\r\n")
	writeArchive(t, delta, "Sent", "Subject: three\r\n\r\n3\r\n")
	var seen []string
	err := Walk(context.Background(), []string{full, delta}, Visitor{
		Folder: func(a string, f format.Folder, _ []string) error {
			seen = append(seen, filepath.Base(a)+":"+f.Path)
			return nil
		},
		Item: func(a string, e *format.Entry) error {
			b, err := io.ReadAll(e.Body)
			seen = append(seen, string(bytes.TrimSpace(b[bytes.LastIndexByte(bytes.TrimSpace(b), '\n')+1:])))
			return err
		},
		Summary: func(a string, s *format.Summary) error {
			seen = append(seen, "end:"+filepath.Base(a))
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "full.tar.gz:INBOX 1 2 end:full.tar.gz delta.tar.gz:Sent 3 end:delta.tar.gz"
	if got := strings.Join(seen, " "); got != want {
		t.Fatalf("walk order:\n got %s\nwant %s", got, want)
	}
}

func TestWalkEndsAtATruncatedArchiveNamingIt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cut.tar.gz")
	writeArchive(t, path, "INBOX", strings.Repeat("Subject: x\r\n\r\nbody\r\n", 2000))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b[:len(b)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	items := 0
	err = Walk(context.Background(), []string{path}, Visitor{Item: func(string, *format.Entry) error {
		items++
		return nil
	}})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("truncated archive: err = %v; want an error naming %s", err, path)
	}
}

func TestWalkStopsAtTheVisitorsError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.tar.gz")
	writeArchive(t, path, "INBOX", "a", "b", "c")
	stop := errors.New("target gone")
	calls := 0
	err := Walk(context.Background(), []string{path}, Visitor{Item: func(string, *format.Entry) error {
		calls++
		return stop
	}})
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("err %v after %d items; want the visitor's error after 1", err, calls)
	}
}

// TestWalkHandsOverTheStateRecord: a delta's state record reaches the
// State visitor after the summary, line by line; a visitor that stops
// early leaves the rest to the walk, and one without State is not
// bothered by the record.
func TestWalkHandsOverTheStateRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "delta.tar.gz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := format.NewWriter(f, format.Manifest{User: "alice", Source: format.Source{Kind: "test"},
		After: time.Unix(1e9, 0)}, &format.WriterOptions{SpillDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.AddFolder(format.Folder{Path: "INBOX", Kind: format.FolderMail}); err != nil {
		t.Fatal(err)
	}
	if err := w.AddItem(format.Item{Kind: format.KindMessage, Folder: "INBOX", SourceID: "new", Received: time.Unix(2e9, 0)},
		strings.NewReader("Subject: new\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	for _, s := range []format.StateItem{
		{Kind: format.KindMessage, Folder: "INBOX", SourceID: "new", Key: "k-new", Flags: []string{`\Seen`}},
		{Kind: format.KindMessage, Folder: "Archive", SourceID: "Archive/old", Key: "k-old", Size: 42},
	} {
		if err := w.AddState(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	var seen []string
	err = Walk(context.Background(), []string{path}, Visitor{
		Summary: func(string, *format.Summary) error { seen = append(seen, "summary"); return nil },
		State: func(a string, items iter.Seq2[format.StateItem, error]) error {
			for it, err := range items {
				if err != nil {
					return err
				}
				seen = append(seen, it.Folder+":"+it.Key+":"+strings.Join(it.Flags, ","))
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(seen, " "); got != `summary INBOX:k-new:\Seen Archive:k-old:` {
		t.Errorf("walk saw %q", got)
	}

	// Stopping after the first line: the walk reads (and checks) the rest.
	n := 0
	err = Walk(context.Background(), []string{path}, Visitor{State: func(_ string, items iter.Seq2[format.StateItem, error]) error {
		for range items {
			n++
			break
		}
		return nil
	}})
	if err != nil || n != 1 {
		t.Errorf("early stop: %d lines, %v; want 1, nil", n, err)
	}
	items := 0
	if err := Walk(context.Background(), []string{path}, Visitor{Item: func(string, *format.Entry) error { items++; return nil }}); err != nil || items != 1 {
		t.Errorf("without State: %d items, %v; want 1, nil", items, err)
	}
}
