package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/report"
	"github.com/mailhaul/mailhaul/transport"
	"github.com/mailhaul/mailhaul/transport/local"
)

// writeTransferArchives writes fake archives (the transport does not parse
// them) with their .sha256; an archive named in noSum gets none.
func writeTransferArchives(t *testing.T, dir string, noSum string, names ...string) {
	t.Helper()
	for i, n := range names {
		b := []byte(strings.Repeat(n, 1000+i*5000))
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if n == noSum {
			continue
		}
		sum := sha256.Sum256(b)
		if err := format.WriteChecksumFile(p, hex.EncodeToString(sum[:])); err != nil {
			t.Fatal(err)
		}
	}
}

// exportSamples exports the sample mailbox once per user into a new
// directory: real archives, so verify can check them after a transfer.
func exportSamples(t *testing.T, users ...string) string {
	t.Helper()
	out := t.TempDir()
	for _, u := range users {
		mustRun(t, "export", "maildir", "--user", u, "--src", sample+"/alice-maildir", "--out", out)
	}
	return out
}

func TestCopyExitCodesAndReport(t *testing.T) {
	src, dst := exportSamples(t, "alice", "bob"), filepath.Join(t.TempDir(), "drive")
	reportPath := filepath.Join(t.TempDir(), "report.json")

	code, out, errOut := mailhaul(t, "copy", "--report", reportPath, src, dst)
	if code != exitOK {
		t.Fatalf("copy: exit %d, want 0\n%s%s", code, out, errOut)
	}
	wantWording(t, "copy", out, "copied")
	var rep report.Transfer
	b, _ := os.ReadFile(reportPath)
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("report: %v", err)
	}
	if rep.Sent != 2 || rep.Failed != 0 || len(rep.Results) != 2 {
		t.Errorf("report: sent %d failed %d results %d, want 2, 0, 2", rep.Sent, rep.Failed, len(rep.Results))
	}
	if code, out, _ := mailhaul(t, "verify", dst); code != exitOK {
		t.Errorf("verify after copy: exit %d\n%s", code, out)
	}

	code, out, _ = mailhaul(t, "copy", src, dst)
	if code != exitOK || strings.Count(out, "skipped  ") != 2 {
		t.Errorf("copy again: exit %d, output %q; want both skipped", code, out)
	}

	// One archive without its .sha256: the other still goes, exit 3.
	src2 := t.TempDir()
	writeTransferArchives(t, src2, "carol.tgz", "carol.tgz", "dave.tgz")
	code, out, errOut = mailhaul(t, "--json", "copy", src2, dst)
	if code != exitPartial {
		t.Errorf("copy with one archive lacking .sha256: exit %d, want %d\n%s%s", code, exitPartial, out, errOut)
	}
	if !strings.Contains(out, `"reason":"no .sha256 beside the archive"`) {
		t.Errorf("JSON output does not give the reason:\n%s", out)
	}

	// Nothing arrives: exit 1.
	src3 := t.TempDir()
	writeTransferArchives(t, src3, "erin.tgz", "erin.tgz")
	if code, _, _ := mailhaul(t, "copy", src3, dst); code != exitFailed {
		t.Errorf("copy where everything fails: exit %d, want %d", code, exitFailed)
	}
}

func TestPushPullThroughSSHD(t *testing.T) {
	s := testservers.StartSSHD(t, testservers.SSHDOptions{})
	src, remote, back := exportSamples(t, "alice", "bob"), t.TempDir(), t.TempDir()
	auth := []string{"--identity", s.Identity, "--known-hosts", s.KnownHosts, "--no-agent"}

	code, out, errOut := mailhaul(t, append(append([]string{"push"}, auth...), src, s.URL(remote))...)
	if code != exitOK {
		t.Fatalf("push: exit %d\n%s%s", code, out, errOut)
	}
	wantWording(t, "push", out, "sent")
	code, out, errOut = mailhaul(t, append(append([]string{"pull"}, auth...), s.URL(remote), back)...)
	if code != exitOK {
		t.Fatalf("pull: exit %d\n%s%s", code, out, errOut)
	}
	wantWording(t, "pull", out, "received")
	if code, out, _ := mailhaul(t, "verify", back); code != exitOK {
		t.Errorf("verify after pull: exit %d\n%s", code, out)
	}
	// No known_hosts entry: refused, exit 12 (the server's identity is not
	// verified, as for TLS), and the message says what to do.
	empty := filepath.Join(t.TempDir(), "known_hosts")
	code, _, errOut = mailhaul(t, "pull", "--identity", s.Identity, "--known-hosts", empty, "--no-agent", s.URL(remote), t.TempDir())
	if code != exitTLS || !strings.Contains(errOut, "--accept-new-host-key") {
		t.Errorf("unknown host: exit %d, stderr %q; want %d and advice", code, errOut, exitTLS)
	}
}

// wantWording checks that a run that moved alice.tgz and bob.tgz says so
// with the verb of its direction, per archive and in the summary, and no
// other direction's verb.
func wantWording(t *testing.T, cmd, out, verb string) {
	t.Helper()
	for _, want := range []string{verb + " alice.tgz", verb + " bob.tgz", "2 archives: 2 " + verb + ",", " " + verb + " in "} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
			t.Errorf("%s output lacks %q:\n%s", cmd, want, out)
		}
	}
	for _, other := range []string{"sent", "received", "copied"} {
		if other != verb && strings.Contains(out, other) {
			t.Errorf("%s output says %q:\n%s", cmd, other, out)
		}
	}
}

type fakeLink struct {
	transport.Endpoint
	rtt time.Duration
}

func (f fakeLink) RoundTrip() time.Duration { return f.rtt }

func TestAutoTransfers(t *testing.T) {
	for _, tc := range []struct {
		name string
		eps  []transport.Endpoint
		want int
	}{
		{"local copy", []transport.Endpoint{local.Endpoint{}, local.Endpoint{}}, 4},
		{"push", []transport.Endpoint{local.Endpoint{}, fakeLink{rtt: 200 * time.Microsecond}}, 8},
		{"pull", []transport.Endpoint{fakeLink{rtt: 20 * time.Millisecond}, local.Endpoint{}}, 8},
	} {
		if got := autoTransfers(tc.eps...); got != tc.want {
			t.Errorf("%s: %d transfers, want %d", tc.name, got, tc.want)
		}
	}
}
