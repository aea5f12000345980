package transport

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/mailhaul/mailhaul/internal/ratelimit"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/progress"
	"github.com/mailhaul/mailhaul/report"
)

// Options tune Run. The zero value works.
type Options struct {
	// Transfers is how many archives move at once, each with its own Conn
	// to each side (default 8); an endpoint decides whether Conns share a
	// network connection. On a delayed link one SSH channel is
	// window-bound, so several are what fills it.
	Transfers int
	// Streams is how many connections one large archive may use at once
	// (default 1). Its bytes are cut into chunks that go over several
	// connections at once, into the partial file at their offsets: over a
	// delayed link one SSH channel carries only its window per round
	// trip, so a single archive on one channel is slow. Extra streams
	// take only the places of idle transfers: no more than
	// max(Transfers, Streams) connections to a side move data at once.
	Streams int
	// Retries is how many more attempts an archive gets after a lost
	// connection (default 5), each after a Backoff pause (with jitter).
	Retries int
	Backoff retry.Policy
	// SegmentSize is the resume granularity: an interrupted transfer
	// continues after the last segment whose SHA-256 matches on both sides
	// (default 8 MiB).
	SegmentSize int64
	// Limit is the bandwidth shared by all transfers (a byte-rate
	// ratelimit.NewPacer); nil for none.
	Limit *ratelimit.Pacer
	// Overwrite allows replacing a different archive of the same name at
	// the destination; without it that archive fails with ErrExists.
	Overwrite bool
	// Progress hears how each archive advances, as progress.Event (see
	// Run); nil for none. It is called from several goroutines.
	Progress progress.Func
	// Observer hears what an Event cannot say: a failed attempt and an
	// archive's outcome; nil for none. It is called from several
	// goroutines.
	Observer Observer
}

// Observer hears of the turns in an archive's transfer that a progress
// bar must follow, beside the byte counts in progress events.
type Observer interface {
	// Retry: an attempt of j failed with err; the next starts after wait
	// (its first event may give fewer bytes than this one's last: it
	// resumes from what it verified).
	Retry(j Job, attempt int, err error, wait time.Duration)
	// Done: j finished, well or not.
	Done(r report.TransferFile)
}

const (
	defaultTransfers = 8
	defaultRetries   = 5
	defaultSegment   = 8 << 20
)

func (o Options) withDefaults() Options {
	if o.Transfers <= 0 {
		o.Transfers = defaultTransfers
	}
	if o.Streams <= 0 {
		o.Streams = 1
	}
	if o.Retries < 0 {
		o.Retries = 0
	} else if o.Retries == 0 {
		o.Retries = defaultRetries
	}
	if o.Backoff.First <= 0 {
		o.Backoff = retry.Policy{First: time.Second, Max: 30 * time.Second}
	}
	if o.SegmentSize <= 0 {
		o.SegmentSize = defaultSegment
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	return o
}

// NoRetries is the Retries value for a single attempt.
const NoRetries = -1

type nopObserver struct{}

func (nopObserver) Retry(Job, int, error, time.Duration) {}
func (nopObserver) Done(report.TransferFile)             {}

// Plan lists the archives at each of srcPaths and names each one's
// destination inside dstDir, which it creates. Two archives with the same
// name are refused: one would overwrite the other.
func Plan(ctx context.Context, src Conn, srcPaths []string, dst Conn, dstDir string) ([]Job, error) {
	var jobs []Job
	seen := map[string]string{}
	for _, p := range srcPaths {
		archives, err := src.List(ctx, p)
		if err != nil {
			return nil, err
		}
		for _, a := range archives {
			name := baseName(a.Path)
			if prev, dup := seen[name]; dup {
				return nil, fmt.Errorf("transport: %s and %s have the same name; the second would replace the first", prev, a.Path)
			}
			seen[name] = a.Path
			jobs = append(jobs, Job{Name: name, Src: a.Path, Dst: dst.Join(dstDir, name), Listed: a.Size})
		}
	}
	if len(jobs) == 0 {
		return nil, fmt.Errorf("transport: no archives (*.tgz, *.tar.zst, *.tar) in %v", srcPaths)
	}
	if err := dst.MkdirAll(ctx, dstDir); err != nil {
		return nil, err
	}
	return jobs, nil
}

// baseName is the last element of a local or remote path.
func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' || p[i] == '\\' {
			return p[i+1:]
		}
	}
	return path.Base(p)
}

// Run moves every job from src to dst, opt.Transfers at a time, and
// reports each file. An archive's failure does not stop the others; Run
// returns an error only when ctx ended (the report is still filled).
//
// Progress events (Stage "transfer") are per archive: Folder is its name,
// Bytes of BytesTotal what of it is at the destination (resumed bytes
// included) of its size, Items of ItemsTotal the run's archives finished
// of all. An attempt's first event comes before its first byte.
func Run(ctx context.Context, src, dst Endpoint, jobs []Job, opt Options) (*report.Transfer, error) {
	opt = opt.withDefaults()
	var finished atomic.Int64
	slots := semaphore.NewWeighted(int64(max(opt.Transfers, opt.Streams)))
	rep := &report.Transfer{Event: "transfer", From: src.String(), To: dst.String(), Started: time.Now()}
	results := make([]report.TransferFile, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(opt.Transfers, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{src: src, dst: dst, opt: opt, finished: &finished, archives: int64(len(jobs)), slots: slots}
			defer w.disconnect()
			for i := range next {
				if err := slots.Acquire(ctx, 1); err != nil {
					continue // ctx ended: reported as never started
				}
				results[i] = w.do(ctx, jobs[i])
				slots.Release(1)
				finished.Add(1)
				opt.Observer.Done(results[i])
			}
		}()
	}
feed:
	for i := range jobs {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	for i, r := range results {
		if r.Status == "" { // never started: ctx ended first
			r = jobs[i].result()
			r.Status, r.Code, r.Reason, r.Error = report.TransferFailed, report.CodeInterrupted, "interrupted", "transport: interrupted before it started"
		}
		rep.Add(r)
	}
	rep.Finished = time.Now()
	rep.Seconds = rep.Finished.Sub(rep.Started).Seconds()
	return rep, ctx.Err()
}

// worker runs one transfer at a time over its own Conns.
type worker struct {
	src, dst     Endpoint
	opt          Options
	sconn, dconn Conn
	finished     *atomic.Int64 // the run's archives done
	archives     int64         // of all
	// slots are the connections moving data: a worker holds one per
	// archive, a chunk's extra stream one per chunk (chunks.go).
	slots *semaphore.Weighted
	// replaces: what is at the destination was checked during this
	// attempt and may be replaced.
	replaces bool
}

// tally starts an attempt's count of j's bytes at the destination, from
// bytes of size, and reports it.
func (w *worker) tally(j Job, size, from int64) *tally {
	t := &tally{fn: w.opt.Progress, finished: w.finished,
		e: progress.Event{Stage: "transfer", Folder: j.Name, ItemsTotal: w.archives, Bytes: from, BytesTotal: size}}
	t.add(0)
	return t
}

// tally counts one attempt's bytes; its events go out in order, whichever
// of the attempt's streams adds.
type tally struct {
	mu       sync.Mutex
	e        progress.Event
	fn       progress.Func
	finished *atomic.Int64
}

func (t *tally) add(n int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.e.Bytes += n
	t.e.Items = t.finished.Load()
	t.fn.Report(t.e)
}

func (w *worker) connect(ctx context.Context) error {
	var err error
	if w.sconn == nil {
		if w.sconn, err = w.src.Connect(ctx); err != nil {
			return err
		}
	}
	if w.dconn == nil {
		if w.dconn, err = w.dst.Connect(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (w *worker) disconnect() {
	if w.sconn != nil {
		w.sconn.Close()
		w.sconn = nil
	}
	if w.dconn != nil {
		w.dconn.Close()
		w.dconn = nil
	}
}

// do moves one archive, retrying after lost connections (internal/retry:
// errors marked transient by ConnLost are tried again, each attempt over
// new connections and resuming from what arrived).
func (w *worker) do(ctx context.Context, j Job) report.TransferFile {
	fr := j.result()
	start := time.Now()
	err := retry.Do(ctx, retry.Loop{
		Attempts: w.opt.Retries + 1,
		Backoff:  w.opt.Backoff,
		OnRetry: func(attempt int, err error, wait time.Duration) {
			// The connection is gone: the next attempt makes new ones.
			w.disconnect()
			w.opt.Observer.Retry(j, attempt, err, wait)
		},
	}, func(ctx context.Context, attempt int) error {
		fr.Attempts = attempt
		if err := w.connect(ctx); err != nil {
			return err
		}
		return w.transfer(ctx, j, &fr)
	})
	fr.Seconds = time.Since(start).Seconds()
	if err != nil {
		fr.Status, fr.Error = report.TransferFailed, err.Error()
		fr.Code, fr.Reason = Failure(err)
		if errors.Is(err, ErrConnLost) && fr.Attempts > 1 {
			fr.Error += fmt.Sprintf(" (gave up after %d attempts)", fr.Attempts)
		}
	}
	return fr
}
