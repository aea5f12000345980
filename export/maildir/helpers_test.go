package maildir

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/export/srcfs"
)

// file is one entry of a test tree. A path ending in "/" is a directory.
type file struct {
	path, body string
	mtime      time.Time // zero: leave as created
}

// writeTree creates files under root.
func writeTree(t testing.TB, root string, files ...file) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.path))
		if strings.HasSuffix(f.path, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.body), 0o644); err != nil {
			t.Fatal(err)
		}
		if !f.mtime.IsZero() {
			if err := os.Chtimes(p, f.mtime, f.mtime); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// msg builds a small message with the given Message-ID header value.
func msg(id, text string) string {
	return "From: a@example.com\nMessage-ID: " + id + "\nSubject: " + text + "\n\n" + text + "\n"
}

// run exports root with opt into a recording sink.
func run(t testing.TB, src *Source, opt export.Options) *exporttest.Sink {
	t.Helper()
	var s exporttest.Sink
	if err := src.Export(context.Background(), &s, opt); err != nil {
		t.Fatalf("Export(%s): %v", src.Root, err)
	}
	return &s
}

func folderPaths(s *exporttest.Sink) []string {
	var out []string
	for _, f := range s.Folders {
		out = append(out, f.Path)
	}
	return out
}

// itemNames lists the SourceIDs of a folder's items, in order.
func itemIDs(s *exporttest.Sink, folder string) []string {
	var out []string
	for _, it := range s.InFolder(folder) {
		out = append(out, it.SourceID)
	}
	return out
}

// itemBySource finds the item with the given SourceID.
func itemBySource(t testing.TB, s *exporttest.Sink, id string) exporttest.Item {
	t.Helper()
	for _, it := range s.Items {
		if it.SourceID == id {
			return it
		}
	}
	t.Fatalf("no item with SourceID %q; have %v", id, func() []string {
		var ids []string
		for _, it := range s.Items {
			ids = append(ids, it.SourceID)
		}
		return ids
	}())
	return exporttest.Item{}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// hookOpen replaces the opening of message files for the test: fn gets
// the file's path and the real open, and may act around it.
func hookOpen(t testing.TB, fn func(path string, open func() (*os.File, error)) (*os.File, error)) {
	t.Helper()
	orig := openFile
	t.Cleanup(func() { openFile = orig })
	openFile = func(d *srcfs.Dir, name string) (*os.File, error) {
		return fn(d.Path()+"/"+name, func() (*os.File, error) { return orig(d, name) })
	}
}

// openRoot opens dir as Export does, closed when the test ends.
func openRoot(t testing.TB, dir string) *srcfs.Dir {
	t.Helper()
	d, err := srcfs.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}
