package sftp

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/progress"
	"github.com/mailhaul/mailhaul/report"
	"github.com/mailhaul/mailhaul/transport"
	"github.com/mailhaul/mailhaul/transport/local"
	"github.com/mailhaul/mailhaul/transport/transporttest"
)

// makeArchives writes archives of the given sizes, with their .sha256, into dir.
func makeArchives(t *testing.T, dir string, sizes map[string]int) {
	t.Helper()
	for name, size := range sizes {
		transporttest.WriteArchive(t, dir, name, size)
	}
}

// sameFiles fails unless every archive in want and its .sha256 are in got
// with the same bytes, and no partial file is left.
func sameFiles(t *testing.T, want, got string, names ...string) {
	t.Helper()
	for _, n := range names {
		for _, f := range []string{n, n + format.ChecksumSuffix} {
			a, err := os.ReadFile(filepath.Join(want, f))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(got, f))
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			if !bytes.Equal(a, b) {
				t.Errorf("%s differs after the transfer (%d bytes, want %d)", f, len(b), len(a))
			}
		}
		if _, err := os.Stat(filepath.Join(got, n+transport.PartialSuffix)); err == nil {
			t.Errorf("%s%s left behind", n, transport.PartialSuffix)
		}
	}
}

// run plans and runs a transfer between a local folder and an endpoint.
func run(t *testing.T, ctx context.Context, ep transport.Endpoint, push bool, from, to string, opt transport.Options) *report.Transfer {
	t.Helper()
	var src, dst transport.Endpoint = local.Endpoint{}, ep
	if !push {
		src, dst = ep, local.Endpoint{}
	}
	sc, err := src.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := dst.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := transport.Plan(ctx, sc, []string{from}, dc, to)
	// Given back before the run, as the CLI does: the first transfer
	// takes the listing connection over.
	sc.Close()
	dc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if opt.Backoff.First == 0 {
		opt.Backoff = retry.Policy{First: 10 * time.Millisecond, Max: 50 * time.Millisecond}
	}
	rep, _ := transport.Run(ctx, src, dst, jobs, opt)
	return rep
}

// attempts records what each attempt of a transfer did: its progress
// events (Progress) and the retries between them (it is the Observer).
type attempts struct {
	mu     sync.Mutex
	starts []int64        // from offsets
	bytes  []int64        // bytes per attempt
	cur    map[string]int // each archive's attempt under way
	onByte func(total int64)
}

func (a *attempts) Progress(e progress.Event) {
	a.mu.Lock()
	i, ok := a.cur[e.Folder]
	if !ok {
		if a.cur == nil {
			a.cur = map[string]int{}
		}
		i = len(a.starts)
		a.cur[e.Folder] = i
		a.starts = append(a.starts, e.Bytes)
		a.bytes = append(a.bytes, 0)
	}
	a.bytes[i] = e.Bytes - a.starts[i]
	total := a.bytes[i]
	a.mu.Unlock()
	if a.onByte != nil {
		a.onByte(total)
	}
}

func (a *attempts) Retry(j transport.Job, _ int, _ error, _ time.Duration) {
	a.mu.Lock()
	delete(a.cur, j.Name) // the next event starts a new attempt
	a.mu.Unlock()
}
func (a *attempts) Done(report.TransferFile) {}
