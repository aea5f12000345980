package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMigrateRunDebugLogFileMode: with --debug the --log-file gets the
// trace (addresses, folder names, server answers), so a log file an
// earlier run left readable by others is made 0600, as --debug-file is.
func TestMigrateRunDebugLogFileMode(t *testing.T) {
	e := newRunEnv(t, 1)
	logFile := filepath.Join(e.dir, "run.log")
	write(t, logFile, "earlier\n")
	os.Chmod(logFile, 0o644)
	out, errOut, code := e.run("--debug", "migrate", "run", e.plan, "--stage", "full", "--log-file", logFile)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	fi, err := os.Stat(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Fatalf("--log-file holding the trace is %v, want 0600", m)
	}
}
