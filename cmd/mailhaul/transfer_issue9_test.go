package main

import (
	"os"
	"path/filepath"
	"testing"
)

// Private mail stays private at every step run from the command line:
// the --out directory export creates, the archive, and what extract and
// copy write (issue 9, item 12).
func TestCommandsKeepMailPrivate(t *testing.T) {
	top := t.TempDir()
	out := filepath.Join(top, "exports", "site")
	mustRun(t, "export", "maildir", "--user", "alice", "--src", sample+"/alice-maildir", "--out", out)
	mustRun(t, "extract", filepath.Join(out, "alice.tgz"), filepath.Join(top, "x", "alice"))
	mustRun(t, "copy", out, filepath.Join(top, "drive", "archives"))
	for p, want := range map[string]os.FileMode{
		filepath.Join(top, "exports"):    0o700,
		out:                              0o700,
		filepath.Join(out, "alice.tgz"):  0o600,
		filepath.Join(top, "x"):          0o700,
		filepath.Join(top, "x", "alice"): 0o700,
		filepath.Join(top, "x", "alice", "manifest.json"):    0o600,
		filepath.Join(top, "x", "alice", "mail"):             0o700,
		filepath.Join(top, "drive"):                          0o700,
		filepath.Join(top, "drive", "archives"):              0o700,
		filepath.Join(top, "drive", "archives", "alice.tgz"): 0o600,
	} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Error(err)
			continue
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %#o, want %#o", p, fi.Mode().Perm(), want)
		}
	}
}
