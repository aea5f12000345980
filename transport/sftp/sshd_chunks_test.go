package sftp

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/progress"
	"github.com/mailhaul/mailhaul/transport"
)

// delayedEndpoint is an endpoint that takes the link for a delayed one, as
// measured over a long link: each transfer, and each extra stream of one
// archive, gets a connection of its own, all counted in d.
func delayedEndpoint(t *testing.T, s *testservers.SSHD, remote string, d *dialCounter) *Endpoint {
	ep := sshdEndpoint(t, s, remote, func(c *Config) { c.Dial = d.dial })
	ep.rtt.Store(int64(20 * time.Millisecond))
	return ep
}

// ends says where a push (src to remote) or a pull (remote to back) goes.
func ends(push bool, src, remote, back string) (from, to string) {
	if push {
		return src, remote
	}
	return remote, back
}

// One archive goes over several connections at once, both ways, and
// arrives whole: the same bytes and .sha256, no partial file left.
func TestSSHDOneArchiveOverSeveralConnections(t *testing.T) {
	s := testservers.StartSSHD(t, testservers.SSHDOptions{})
	src, remote, back := t.TempDir(), filepath.Join(t.TempDir(), "in"), t.TempDir()
	const size = 24<<20 + 12345 // a short last chunk
	makeArchives(t, src, map[string]int{"big.tgz": size})
	opt := transport.Options{Streams: 4, SegmentSize: 1 << 20}
	for _, push := range []bool{true, false} {
		var d dialCounter
		ep := delayedEndpoint(t, s, remote, &d)
		from, to := ends(push, src, remote, back)
		rep := run(t, context.Background(), ep, push, from, to, opt)
		if rep.Sent != 1 || rep.BytesSent != size {
			t.Fatalf("push %v: %+v, want sent, %d bytes", push, rep.Results, size)
		}
		sameFiles(t, src, to, "big.tgz")
		// The listing's connection, the hashing shell's, and at least
		// two more for the extra streams; one stream alone makes 2.
		if n := d.n.Load(); n < 4 {
			t.Errorf("push %v: %d SSH connections for one archive in 4 streams, want at least 4", push, n)
		}
	}
}

// Every connection cut while chunks are under way, each in the middle of a
// segment: the retry resumes from a segment boundary and the archive
// arrives whole, both ways.
func TestSSHDChunksCutMidSegmentResume(t *testing.T) {
	s := testservers.StartSSHD(t, testservers.SSHDOptions{})
	src, remote, back := t.TempDir(), filepath.Join(t.TempDir(), "in"), t.TempDir()
	const size = 24 << 20
	const seg = 1 << 20
	makeArchives(t, src, map[string]int{"big.tgz": size})
	for _, push := range []bool{true, false} {
		var d dialCounter
		ep := delayedEndpoint(t, s, remote, &d)
		from, to := ends(push, src, remote, back)
		var once sync.Once
		cut := func(e progress.Event) {
			if e.Bytes > 5*seg+seg/2 {
				once.Do(d.cutAll)
			}
		}
		rep := run(t, context.Background(), ep, push, from, to, transport.Options{Streams: 4, SegmentSize: seg, Progress: cut})
		if rep.Sent != 1 {
			t.Fatalf("push %v with every connection cut: %+v", push, rep.Results)
		}
		r := rep.Results[0]
		if r.Attempts < 2 || r.ResumedFrom%seg != 0 {
			t.Errorf("push %v: %d attempts, resumed from %d; want a retry resuming at a segment boundary", push, r.Attempts, r.ResumedFrom)
		}
		sameFiles(t, src, to, "big.tgz")
	}
}

// A run stopped while chunks are under way leaves a partial file with
// holes; the next keeps the whole segments that match, sends exactly the
// rest, and the archive is whole.
func TestSSHDChunksInterruptedThenResumed(t *testing.T) {
	s := testservers.StartSSHD(t, testservers.SSHDOptions{})
	src, remote := t.TempDir(), t.TempDir()
	const size = 24 << 20
	const seg = 1 << 20
	makeArchives(t, src, map[string]int{"big.tgz": size})
	var d dialCounter
	ep := delayedEndpoint(t, s, remote, &d)
	ctx, cancel := context.WithCancel(context.Background())
	stop := func(e progress.Event) {
		if e.Bytes > size/2 {
			cancel()
		}
	}
	opt := transport.Options{Streams: 4, SegmentSize: seg, Retries: transport.NoRetries}
	opt.Progress = stop
	if rep := run(t, ctx, ep, true, src, remote, opt); rep.Failed != 1 {
		t.Fatalf("interrupted push: %+v", rep.Results)
	}
	opt.Progress = nil
	rep := run(t, context.Background(), ep, true, src, remote, opt)
	if rep.Sent != 1 {
		t.Fatalf("resumed push: %+v", rep.Results)
	}
	r := rep.Results[0]
	if r.ResumedFrom%seg != 0 || r.Sent != size-r.ResumedFrom {
		t.Errorf("kept %d, sent %d; want whole segments kept and exactly the rest sent (%d)", r.ResumedFrom, r.Sent, size-r.ResumedFrom)
	}
	sameFiles(t, src, remote, "big.tgz")
}
