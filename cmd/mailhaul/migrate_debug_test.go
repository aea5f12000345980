package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// traceLine is one --debug line: date and time, [user] when known,
// protocol#number, server, direction.
var traceLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (\[([^\]]+)\] )?(imap|http)#\d+ \S+ [CS]: `)

// traceLines are the trace's lines in out, and the other lines.
func traceLines(out string) (traced, other []string) {
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if traceLine.MatchString(l) {
			traced = append(traced, l)
		} else if l != "" {
			other = append(other, l)
		}
	}
	return traced, other
}

// TestMigrateRunDebug: migrate run --debug with four users at once into
// a real Dovecot and Radicale: every trace line names its user, each
// user's IMAP and DAV conversations are there, the --log-file holds the
// same trace lines beside its own (an older log file made 0600, as
// --debug-file), and no password (nor its PLAIN or
// Basic base64) appears in either; migrate compare --debug names its
// users the same way. Then --debug-file: the trace goes to
// a file made 0600, none to stderr, and names the users there too.
func TestMigrateRunDebug(t *testing.T) {
	e := newRunEnv(t, 4)
	logFile := filepath.Join(e.dir, "run.log")
	write(t, logFile, "") // an earlier run's, readable by others
	os.Chmod(logFile, 0o644)
	out, errOut, code := e.run("--debug", "migrate", "run", e.plan, "--stage", "full", "--log-file", logFile)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if fi, err := os.Stat(logFile); err != nil {
		t.Error(err)
	} else if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("--log-file holding the trace is %v, want 0600", m)
	}
	logBytes, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	traced, _ := traceLines(errOut)
	logTraced, logOwn := traceLines(string(logBytes))
	e.wantTracedUsers("stderr", traced)
	if !slices.Equal(logTraced, traced) {
		t.Errorf("the log file has %d trace lines, stderr %d; they differ", len(logTraced), len(traced))
	}
	if !slices.ContainsFunc(logOwn, func(l string) bool { return strings.Contains(l, "u03@example.org: done") }) {
		t.Errorf("the log file lacks its own lines:\n%s", strings.Join(logOwn, "\n"))
	}
	e.wantNoPasswords("stderr", errOut)
	e.wantNoPasswords("the log file", string(logBytes))

	// migrate compare's users are labelled as well.
	out, errOut, code = e.run("--debug", "migrate", "compare", e.plan)
	if code != 0 {
		t.Fatalf("compare: exit %d\n%s\n%s", code, out, errOut)
	}
	traced, _ = traceLines(errOut)
	e.wantTracedUsers("compare", traced)
	e.wantNoPasswords("compare", errOut)

	// --debug-file, into a file an earlier run left readable by others.
	debugFile := filepath.Join(e.dir, "trace.txt")
	write(t, debugFile, "earlier\n")
	os.Chmod(debugFile, 0o644)
	out, errOut, code = e.run("--debug-file", debugFile, "migrate", "run", e.plan, "--stage", "delta")
	if code != 0 {
		t.Fatalf("delta: exit %d\n%s\n%s", code, out, errOut)
	}
	b := readDebugFile(t, debugFile, out+errOut)
	if !strings.HasPrefix(b, "earlier\n") {
		t.Errorf("--debug-file was not appended to: %.200q", b)
	}
	traced, _ = traceLines(b)
	e.wantTracedUsers("--debug-file", traced)
	e.wantNoPasswords("--debug-file", b)
}

// wantTracedUsers: every line names a user of the plan, and each user has
// IMAP and HTTP (DAV) conversations.
func (e *runEnv) wantTracedUsers(where string, traced []string) {
	e.t.Helper()
	seen := map[string]bool{}
	for _, l := range traced {
		m := traceLine.FindStringSubmatch(l)
		if m[2] == "" {
			e.t.Errorf("%s: a trace line names no user: %q", where, l)
			continue
		}
		seen[m[2]+" "+m[3]] = true
	}
	for _, login := range e.logins {
		for _, proto := range []string{"imap", "http"} {
			if !seen[login+"@example.org "+proto] {
				e.t.Errorf("%s: no %s conversation of %s in %d trace lines (seen %v)", where, proto, login, len(traced), seen)
			}
		}
	}
}

// wantNoPasswords: no user's password, as it is or in PLAIN's or Basic's
// base64, is in s.
func (e *runEnv) wantNoPasswords(where, s string) {
	e.t.Helper()
	for _, login := range e.logins {
		pw := e.pass[login]
		for _, secret := range []string{pw, base64.StdEncoding.EncodeToString([]byte("\x00" + login + "\x00" + pw)),
			base64.StdEncoding.EncodeToString([]byte(login + ":" + pw))} {
			if strings.Contains(s, secret) {
				e.t.Errorf("%s shows %s's password (%q)", where, login, secret)
			}
		}
	}
}

// readDebugFile returns the --debug-file at path after checking that it
// is mode 0600 and that the run's terminal output (stdout and stderr,
// together) holds no trace line.
func readDebugFile(t *testing.T, path, terminal string) string {
	t.Helper()
	if traced, _ := traceLines(terminal); len(traced) != 0 {
		t.Errorf("with --debug-file, %d trace lines on stdout and stderr, e.g. %q", len(traced), traced[0])
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("--debug-file is mode %v, want 0600", fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
