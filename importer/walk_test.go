package importer

import (
	"bytes"
	"context"
	"errors"
	"io"
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
