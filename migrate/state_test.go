package migrate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/export"
)

// TestStateCrashBeforeRename: a write that stops between the temporary
// file and the rename (a crash) leaves the old state readable, whole,
// and the next write replaces it.
func TestStateCrashBeforeRename(t *testing.T) {
	dir := t.TempDir()
	old := &State{User: "anna@example.org", Status: Importing, Pass: "full"}
	if err := saveState(dir, old); err != nil {
		t.Fatal(err)
	}
	rename = func(string, string) error { return errors.New("crash") }
	err := saveState(dir, &State{User: "anna@example.org", Status: Done, Pass: "full"})
	rename = os.Rename
	if err == nil {
		t.Fatal("a failed rename was not reported")
	}
	// A crash would also leave the temporary file: write one, torn.
	udir := userDir(dir, "anna@example.org")
	if err := os.WriteFile(filepath.Join(udir, "."+statusFileName+".123"), []byte(`{"user":"anna@exa`), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := LoadState(dir, "anna@example.org")
	if err != nil || st.Status != Importing {
		t.Fatalf("after a crash before the rename: %+v, %v; want the old state (importing)", st, err)
	}
	if err := saveState(dir, &State{User: "anna@example.org", Status: Done, Pass: "full"}); err != nil {
		t.Fatal(err)
	}
	if st, err := LoadState(dir, "anna@example.org"); err != nil || st.Status != Done {
		t.Fatalf("the next write: %+v, %v; want done", st, err)
	}
}

// TestStateOfAnotherUser: a state file naming another user (copied by
// hand into this user's directory) is refused, never taken for this one's.
func TestStateOfAnotherUser(t *testing.T) {
	dir := t.TempDir()
	if err := saveState(dir, &State{User: "a/b", Status: Done}); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(userDir(dir, "a_b"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(userDir(dir, "a/b"), statusFileName), filepath.Join(userDir(dir, "a_b"), statusFileName)); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadState(dir, "a_b"); err == nil || !strings.Contains(err.Error(), "a/b") {
		t.Errorf("a_b read a/b's state: %v", err)
	}
}

// TestUsersThatWouldCollide: two users that differ only in case (one user
// to a mail server) are refused before anything runs, both named; so is
// an --only user not in the list. Names a file system would have mixed up
// before (a/b and a_b) have keys of their own, and are not refused.
func TestUsersThatWouldCollide(t *testing.T) {
	job := Job{Stage: Full, StateDir: t.TempDir(), ArchiveDir: t.TempDir(), Users: []User{{Name: "a/b"}, {Name: "a_b"}, {Name: "X@y"}, {Name: "x@Y"}},
		Steps: Steps{Export: nopExport, Import: nopImport}, Only: []string{"nobody"}}
	_, err := Run(context.Background(), job)
	if !errors.Is(err, ErrUsers) {
		t.Fatalf("err %v, want ErrUsers", err)
	}
	for _, want := range []string{`"X@y" and "x@Y"`, `"nobody"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if strings.Contains(err.Error(), `"a_b"`) {
		t.Errorf("a/b and a_b were refused: %v", err)
	}
	if userDir("s", "a/b") == userDir("s", "a_b") {
		t.Error("a/b and a_b share a directory")
	}
}

func nopExport(context.Context, User, string) (export.Job, error) { return export.Job{}, nil }
func nopImport(User) ([]Import, error)                            { return nil, nil }
