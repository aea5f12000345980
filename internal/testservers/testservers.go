// Package testservers starts real servers (Dovecot, Radicale, Xandikos,
// OpenSSH's sshd) on 127.0.0.1 for tests, each with a throwaway
// configuration in the test's temporary directory, stopped when the test
// ends. The packages come from Debian (.ci/install-deps.sh installs them).
//
// A test that needs a server the machine lacks is skipped, except under
// CI=true, where it fails: CI must never pass by skipping the real thing.
package testservers

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// InCI reports whether the tests run under CI, where a missing server is a
// failure rather than a skip.
func InCI() bool {
	v, _ := strconv.ParseBool(os.Getenv("CI"))
	return v
}

// Need finds the named program (a name on PATH or an absolute path) or ends
// the test: Fatal under CI, Skip elsewhere.
func Need(t testing.TB, program string) string {
	t.Helper()
	path, err := exec.LookPath(program)
	if err != nil {
		Unavailable(t, fmt.Sprintf("%s is not installed (run .ci/install-deps.sh): %v", program, err))
	}
	return path
}

// Unavailable ends a test whose real server cannot be had.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if InCI() {
		t.Fatalf("real server unavailable under CI=true: %s", why)
	}
	t.Skip("real server unavailable:", why)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testservers: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitPort waits until something accepts connections on 127.0.0.1:port,
// for at most timeout.
func WaitPort(port int, timeout time.Duration) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testservers: nothing listens on %s after %s: %w", addr, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Start runs cmd in the background, stopping it when the test ends, and
// waits for it to listen on port. Its output goes to logPath, which is
// printed if the server does not come up.
func Start(t testing.TB, cmd *exec.Cmd, port int, logPath string) {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("testservers: start %s: %v", cmd.Path, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	if err := WaitPort(port, 20*time.Second); err != nil {
		out, _ := os.ReadFile(logPath)
		t.Fatalf("%v\n%s output:\n%s", err, cmd.Path, out)
	}
}
