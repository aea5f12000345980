package dav

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mailhaul/mailhaul/internal/testservers"
)

// noTempDir points the OS's temporary directory at a file, so that any
// temporary file made there fails (even as root, which a read-only
// directory would not stop).
func noTempDir(t *testing.T) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "not-a-directory")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", file)
}

// TestBulkSpoolsBesideTheJournal: a whole-collection upload's batch waits
// in the state directory the user named, not the OS's temporary
// directory (here unusable), and leaves nothing there.
func TestBulkSpoolsBesideTheJournal(t *testing.T) {
	if testing.Short() {
		t.Skip("real server")
	}
	// Not parallel: TMPDIR is the process's.
	r := testservers.StartRadicale(t, map[string]string{"alice": "a"})
	archive := bookArchive(t, "full", bulkCards())
	state := t.TempDir()
	noTempDir(t)
	rep := importOnce(t, archive, testRun{Options: Options{URL: r.URL, User: "alice", Password: "a", Concurrency: 2}, StateDir: state})
	if !hasNote(rep, "40 of 40 cards were stored by one whole-collection PUT") || rep.Imported != 42 {
		t.Errorf("imported %d; notes %q; want 42, 40 of them in one PUT", rep.Imported, rep.Notes)
	}
	err := filepath.WalkDir(state, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) != ".journal" {
			t.Errorf("left in the state directory: %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
