package sftp

import (
	"context"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/report"
	"github.com/mailhaul/mailhaul/transport"
)

func sshdEndpoint(t *testing.T, s *testservers.SSHD, remoteDir string, mod func(*Config)) *Endpoint {
	t.Helper()
	tg, err := ParseURL(s.URL(remoteDir))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Target: tg, Identities: []string{s.Identity}, KnownHosts: s.KnownHosts, NoAgent: true}
	if mod != nil {
		mod(&cfg)
	}
	ep, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	return ep
}

func TestSSHDPushSkipPull(t *testing.T) {
	s := testservers.StartSSHD(t, testservers.SSHDOptions{})
	ctx := context.Background()
	src, remote, back := t.TempDir(), filepath.Join(t.TempDir(), "inbox"), t.TempDir()
	sizes := map[string]int{"alice.tgz": 3 << 20, "bob.tar.zst": 700 << 10, "carol.tar": 10}
	makeArchives(t, src, sizes)
	ep := sshdEndpoint(t, s, remote, nil)

	rep := run(t, ctx, ep, true, src, remote, transport.Options{Transfers: 2})
	if rep.Sent != 3 || rep.Failed != 0 {
		t.Fatalf("push: sent %d failed %d, want 3 and 0: %+v", rep.Sent, rep.Failed, rep.Results)
	}
	sameFiles(t, src, remote, "alice.tgz", "bob.tar.zst", "carol.tar")
	if rtt := ep.RoundTrip(); rtt <= 0 || rtt > time.Second {
		t.Errorf("RoundTrip on loopback = %v, want a measured time under a second", rtt)
	}
	if want := int64(3<<20 + 700<<10 + 10); rep.BytesSent != want {
		t.Errorf("push sent %d bytes, want %d", rep.BytesSent, want)
	}

	rep = run(t, ctx, ep, true, src, remote, transport.Options{})
	if rep.Skipped != 3 || rep.BytesSent != 0 {
		t.Errorf("second push: skipped %d, sent %d bytes; want 3 skipped and nothing sent", rep.Skipped, rep.BytesSent)
	}

	rep = run(t, ctx, ep, false, remote, back, transport.Options{Transfers: 3})
	if rep.Sent != 3 || rep.Failed != 0 {
		t.Fatalf("pull: sent %d failed %d: %+v", rep.Sent, rep.Failed, rep.Results)
	}
	sameFiles(t, src, back, "alice.tgz", "bob.tar.zst", "carol.tar")
}

// A push interrupted half-way (the run is cancelled, as when the process
// is stopped) continues from a verified boundary: the bytes before it are
// not sent again.
func TestSSHDResumeAfterInterruption(t *testing.T) {
	s := testservers.StartSSHD(t, testservers.SSHDOptions{})
	src, remote := t.TempDir(), t.TempDir()
	const size = 6 << 20
	makeArchives(t, src, map[string]int{"big.tgz": size})
	ep := sshdEndpoint(t, s, remote, nil)

	ctx, cancel := context.WithCancel(context.Background())
	obs := &attempts{onByte: func(total int64) {
		if total > size/2 {
			cancel()
		}
	}}
	seg := int64(256 << 10)
	rep := run(t, ctx, ep, true, src, remote, transport.Options{SegmentSize: seg, Observer: obs, Progress: obs.Progress, Retries: transport.NoRetries})
	if rep.Failed != 1 {
		t.Fatalf("interrupted push: failed %d, want 1", rep.Failed)
	}
	fi, err := os.Stat(filepath.Join(remote, "big.tgz"+transport.PartialSuffix))
	if err != nil {
		t.Fatalf("no partial file after the interruption: %v", err)
	}
	t.Logf("partial file after interruption: %d bytes", fi.Size())

	obs2 := &attempts{}
	rep = run(t, context.Background(), ep, true, src, remote, transport.Options{SegmentSize: seg, Observer: obs2, Progress: obs2.Progress})
	if rep.Sent != 1 {
		t.Fatalf("resumed push: %+v", rep.Results)
	}
	r := rep.Results[0]
	if r.ResumedFrom < size/4 || r.ResumedFrom > fi.Size() || r.ResumedFrom%seg != 0 {
		t.Errorf("resumed from %d; want a segment boundary between %d and the partial size %d", r.ResumedFrom, size/4, fi.Size())
	}
	if r.Sent != size-r.ResumedFrom || obs2.bytes[0] != size-r.ResumedFrom {
		t.Errorf("resumed push sent %d bytes (observer %d), want exactly %d: the bytes before the boundary must not be sent again",
			r.Sent, obs2.bytes[0], size-r.ResumedFrom)
	}
	sameFiles(t, src, remote, "big.tgz")
}

func TestSSHDHostKeys(t *testing.T) {
	s := testservers.StartSSHD(t, testservers.SSHDOptions{})
	ctx := context.Background()
	dir := t.TempDir()

	// A different key recorded for the host: always refused.
	other := filepath.Join(dir, "other_known_hosts")
	line := "[127.0.0.1]:" + itoa(s.Port) + " ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"
	os.WriteFile(other, []byte(line), 0o600)
	for _, accept := range []bool{false, true} {
		ep := sshdEndpoint(t, s, dir, func(c *Config) { c.KnownHosts = other; c.AcceptNewHostKey = accept })
		_, err := ep.Connect(ctx)
		if err == nil || !strings.Contains(err.Error(), "HOST KEY CHANGED") {
			t.Errorf("changed host key, accept-new=%v: got %v, want a refusal saying HOST KEY CHANGED", accept, err)
		}
		if retry.IsRetryable(err) {
			t.Errorf("a changed host key must not be retried")
		}
	}

	// An unknown host: refused, unless accepted; then recorded.
	fresh := filepath.Join(dir, "fresh_known_hosts")
	ep := sshdEndpoint(t, s, dir, func(c *Config) { c.KnownHosts = fresh })
	if _, err := ep.Connect(ctx); err == nil || !strings.Contains(err.Error(), "--accept-new-host-key") {
		t.Errorf("unknown host: got %v, want a refusal naming --accept-new-host-key", err)
	}
	ep = sshdEndpoint(t, s, dir, func(c *Config) { c.KnownHosts = fresh; c.AcceptNewHostKey = true })
	c, err := ep.Connect(ctx)
	if err != nil {
		t.Fatalf("accept new host key: %v", err)
	}
	c.Close()
	b, _ := os.ReadFile(fresh)
	if !strings.Contains(string(b), s.HostKeyLine) {
		t.Errorf("known_hosts after accepting = %q, want the server's key %q", b, s.HostKeyLine)
	}
	ep = sshdEndpoint(t, s, dir, func(c *Config) { c.KnownHosts = fresh })
	if c, err := ep.Connect(ctx); err != nil {
		t.Errorf("connect with the recorded key: %v", err)
	} else {
		c.Close()
	}
}

func TestSSHDReadOnlyDestination(t *testing.T) {
	s := testservers.StartSSHD(t, testservers.SSHDOptions{ReadOnly: true})
	src, remote := t.TempDir(), t.TempDir()
	makeArchives(t, src, map[string]int{"alice.tgz": 1000})
	ep := sshdEndpoint(t, s, remote, nil)
	ctx := context.Background()
	sc, _ := ep.Connect(ctx)
	defer sc.Close()
	var rep *report.Transfer
	jobs := []transport.Job{{Name: "alice.tgz", Src: filepath.Join(src, "alice.tgz"), Dst: remote + "/alice.tgz"}}
	rep, _ = transport.Run(ctx, localEP(), ep, jobs, transport.Options{})
	if rep.Failed != 1 {
		t.Fatalf("push to a read-only server: %+v, want a failure", rep.Results)
	}
	r := rep.Results[0]
	if r.Reason != "permission denied" || r.Code != report.CodePermission || !strings.Contains(r.Error, "alice.tgz") || r.Attempts != 1 {
		t.Errorf("read-only destination: reason %q, error %q, %d attempts; want permission denied naming the file, not retried", r.Reason, r.Error, r.Attempts)
	}
}

// A copy at the destination that no longer matches is found (hashed on the
// server, not trusted from its .sha256) and replaced; a source that does
// not match its own .sha256 is refused.
func TestSSHDCorruptCopies(t *testing.T) {
	s := testservers.StartSSHD(t, testservers.SSHDOptions{})
	ctx := context.Background()
	src, remote := t.TempDir(), t.TempDir()
	makeArchives(t, src, map[string]int{"alice.tgz": 2 << 20})
	ep := sshdEndpoint(t, s, remote, nil)
	if rep := run(t, ctx, ep, true, src, remote, transport.Options{}); rep.Sent != 1 {
		t.Fatalf("push: %+v", rep.Results)
	}
	flipByte(t, filepath.Join(remote, "alice.tgz"), 1<<20)
	rep := run(t, ctx, ep, true, src, remote, transport.Options{})
	if rep.Sent != 1 || !strings.Contains(rep.Results[0].Note, "corrupt") {
		t.Errorf("push over a corrupt copy: status %q note %q, want sent with a note about the corrupt copy", rep.Results[0].Status, rep.Results[0].Note)
	}
	sameFiles(t, src, remote, "alice.tgz")

	// Corrupted after arriving, before the check: caught before the rename,
	// whether the server hashes (large files) or the bytes are read back.
	for _, min := range []int64{0, 1 << 40} {
		defer func(old int64) { execHashMin = old }(execHashMin)
		execHashMin = min
		remote2 := t.TempDir()
		rep = run(t, ctx, corruptBeforeCheck{ep, t}, true, src, remote2, transport.Options{})
		if rep.Failed != 1 || rep.Results[0].Reason != transport.ErrVerify.Error() {
			t.Errorf("corrupted on arrival (server hashing from %d bytes): %+v, want failed with %q", min, rep.Results, transport.ErrVerify)
		}
		if _, err := os.Stat(filepath.Join(remote2, "alice.tgz")); err == nil {
			t.Errorf("a copy that failed verification was renamed to its final name")
		}
	}

	// The source itself is corrupt: pulling it fails and says so.
	flipByte(t, filepath.Join(remote, "alice.tgz"), 5)
	rep = run(t, ctx, ep, false, remote, t.TempDir(), transport.Options{})
	if rep.Failed != 1 || rep.Results[0].Reason != transport.ErrSourceCorrupt.Error() {
		t.Errorf("pull of a corrupt source: %+v, want %q", rep.Results, transport.ErrSourceCorrupt)
	}
}

// Each hashing command the probe may pick gives the server's answer for
// the stored bytes, whole and by segments.
func TestSSHDHashCommands(t *testing.T) {
	s := testservers.StartSSHD(t, testservers.SSHDOptions{})
	ctx := context.Background()
	remote := t.TempDir()
	makeArchives(t, remote, map[string]int{"a.tgz": 3<<20 + 5})
	data, _ := os.ReadFile(filepath.Join(remote, "a.tgz"))
	want, _ := format.ReadChecksumFile(filepath.Join(remote, "a.tgz"))
	defer func(old []string) { hashCommands = old }(hashCommands)
	for _, cmd := range slices.Clone(hashCommands) {
		t.Run(strings.Fields(cmd)[0], func(t *testing.T) {
			if _, err := exec.LookPath(strings.Fields(cmd)[0]); err != nil {
				t.Skipf("%s is not installed here: %v", cmd, err)
			}
			hashCommands = []string{"false", cmd} // a command that fails is passed over
			ep := sshdEndpoint(t, s, remote, nil)
			tc, err := ep.Connect(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tc.Close()
			c := tc.(*Conn)
			if got := c.hashCommand(ctx); got != cmd {
				t.Fatalf("probe picked %q, want %q", got, cmd)
			}
			if got, err := c.Sum(ctx, filepath.Join(remote, "a.tgz")); err != nil || got != want {
				t.Errorf("Sum = %s, %v; want %s", got, err, want)
			}
			sums, err := c.SegmentSums(ctx, filepath.Join(remote, "a.tgz"), 1<<20, 3)
			if err != nil {
				t.Fatal(err)
			}
			for i, got := range sums {
				if w := sha256.Sum256(data[i<<20 : (i+1)<<20]); got != w {
					t.Errorf("segment %d: %x, want %x", i, got, w)
				}
			}
			// One transfer hashing in turn needs one shell, kept for the next.
			if n := len(ep.hashing.idle); n != 1 {
				t.Errorf("%d idle shells after hashing in turn, want 1", n)
			}
		})
	}
}

// An account that may only use SFTP (ForceCommand internal-sftp) is found
// out by the probe without hanging, and its archives are verified by
// reading them back; a corrupted arrival is still caught.
func TestSSHDSFTPOnlyAccount(t *testing.T) {
	s := testservers.StartSSHD(t, testservers.SSHDOptions{SFTPOnly: true})
	ctx := context.Background()
	src, remote := t.TempDir(), t.TempDir()
	makeArchives(t, src, map[string]int{"alice.tgz": 1 << 20})
	ep := sshdEndpoint(t, s, remote, nil)
	start := time.Now()
	rep := run(t, ctx, ep, true, src, remote, transport.Options{})
	if rep.Sent != 1 {
		t.Fatalf("push to an SFTP-only account: %+v", rep.Results)
	}
	if d := time.Since(start); d > probeTimeout/2 {
		t.Errorf("push took %v: the probe waited for an answer that never comes", d)
	}
	if ep.hashing.cmd != "" {
		t.Errorf("probe found %q on an account that runs no commands", ep.hashing.cmd)
	}
	sameFiles(t, src, remote, "alice.tgz")
	rep = run(t, ctx, corruptBeforeCheck{ep, t}, true, src, t.TempDir(), transport.Options{})
	if rep.Failed != 1 || rep.Results[0].Reason != transport.ErrVerify.Error() {
		t.Errorf("corrupted on arrival, read back: %+v, want %q", rep.Results, transport.ErrVerify)
	}
}
