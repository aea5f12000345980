package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/report"
	"github.com/mailhaul/mailhaul/transport"
	"github.com/mailhaul/mailhaul/transport/transporttest"
)

// A push killed with SIGKILL half-way (no chance to clean up) is resumed
// by the next run from what arrived, checked, and the result is whole.
func TestPushResumesAfterSIGKILL(t *testing.T) {
	s := testservers.StartSSHD(t, testservers.SSHDOptions{})
	bin := buildMailhaul(t)
	src, remote := t.TempDir(), t.TempDir()
	const size = 64 << 20
	want := transporttest.WriteArchive(t, src, "big.tgz", size)
	auth := []string{"--identity", s.Identity, "--known-hosts", s.KnownHosts, "--no-agent"}

	// 16 MiB/s: about 4 s for the whole archive, so there is time to kill
	// it after a few 8 MiB resume segments have arrived.
	first := exec.Command(bin, append(append([]string{"-q", "push", "--bwlimit", "16M"}, auth...), src, s.URL(remote))...)
	var firstErr bytes.Buffer
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- first.Wait() }()
	partial := filepath.Join(remote, "big.tgz"+transport.PartialSuffix)
	if err := waitForSize(partial, 24<<20, exited); err != nil {
		first.Process.Kill()
		t.Fatalf("first push: %v\n%s", err, firstErr.String())
	}
	if err := first.Process.Kill(); err != nil { // SIGKILL on Unix
		t.Fatal(err)
	}
	<-exited
	// The server's sftp-server may still write what it had received when
	// the connection dropped; let it finish, as a real re-run would.
	killedAt := waitStable(partial)
	if killedAt >= size {
		t.Fatalf("the whole archive arrived before the kill (%d bytes); nothing to resume", killedAt)
	}
	if _, err := os.Stat(filepath.Join(remote, "big.tgz")); err == nil {
		t.Fatalf("a killed push left big.tgz under its final name")
	}

	reportPath := filepath.Join(t.TempDir(), "report.json")
	second := exec.Command(bin, append(append([]string{"-q", "push", "--report", reportPath}, auth...), src, s.URL(remote))...)
	if out, err := second.CombinedOutput(); err != nil {
		t.Fatalf("second push: %v\n%s", err, out)
	}
	var rep report.Transfer
	if b, err := os.ReadFile(reportPath); err != nil || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("report: %v %s", err, b)
	}
	if rep.Sent != 1 || rep.Resumed != 1 || rep.BytesResumed <= 0 || rep.BytesSent >= size || rep.BytesSent+rep.BytesResumed != size {
		t.Errorf("second push: sent %d, resumed %d, %d bytes resumed, %d bytes sent (partial was %d bytes); "+
			"want 1 sent and resumed, resumed > 0, sent < %d, the two adding up to the size",
			rep.Sent, rep.Resumed, rep.BytesResumed, rep.BytesSent, killedAt, size)
	}
	if rep.BytesResumed > killedAt {
		t.Errorf("resumed from %d, beyond the %d bytes that had arrived", rep.BytesResumed, killedAt)
	}
	got, err := os.ReadFile(filepath.Join(remote, "big.tgz"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the resumed archive differs from the source (%d bytes, %v)", len(got), err)
	}
	// The bytes are random, not an archive "mailhaul verify" could read:
	// check the .sha256 that arrived instead.
	sum, err := format.ReadChecksumFile(filepath.Join(remote, "big.tgz"))
	if h := sha256.Sum256(got); err != nil || sum != hex.EncodeToString(h[:]) {
		t.Errorf("the .sha256 at the destination says %s (%v), the bytes have %x", sum, err, h)
	}
}

// buildMailhaul compiles the command, so a test can kill a real process.
func buildMailhaul(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mailhaul")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// waitForSize waits until file p has at least n bytes; an error if the
// process exits first or it takes more than 30 s.
func waitForSize(p string, n int64, exited <-chan error) error {
	deadline := time.After(30 * time.Second)
	for {
		if fi, err := os.Stat(p); err == nil && fi.Size() >= n {
			return nil
		}
		select {
		case err := <-exited:
			return &exitedEarly{err}
		case <-deadline:
			return os.ErrDeadlineExceeded
		case <-time.After(10 * time.Millisecond):
		}
	}
}

type exitedEarly struct{ err error }

func (e *exitedEarly) Error() string {
	if e.err == nil {
		return "exited before the file grew (finished too fast?)"
	}
	return "exited before the file grew: " + e.err.Error()
}

// waitStable waits until p's size stops changing for 300 ms (at most 5 s)
// and returns it.
func waitStable(p string) int64 {
	var last int64 = -1
	stableSince := time.Now()
	for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(20 * time.Millisecond) {
		var size int64
		if fi, err := os.Stat(p); err == nil {
			size = fi.Size()
		}
		if size != last {
			last, stableSince = size, time.Now()
		} else if time.Since(stableSince) >= 300*time.Millisecond {
			break
		}
	}
	return last
}
