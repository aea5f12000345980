package main

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/mailhaul/mailhaul/internal/termtext"
	"github.com/mailhaul/mailhaul/transport"
)

// transferProgress shows a running transfer: on a terminal one bar per
// archive in flight and an overall line (archives and bytes done of the
// run's total, rate, ETA); throttled JSON lines with --json; retries on
// stderr otherwise. It implements transport.Observer.
type transferProgress struct {
	a   *app
	p   *mpb.Progress // nil without a terminal
	now func() time.Time

	mu       sync.Mutex
	bars     map[string]*mpb.Bar
	last     map[string]time.Time // previous bytes of each archive: its rate's clock
	next     map[string]time.Time // JSON throttle per archive
	sent     map[string]int64
	total    *mpb.Bar      // the overall line
	archives *atomic.Value // its "3/10 archives", read while drawing
	tot      transferTotals
}

// transferTotals is the overall line's arithmetic: archives and bytes
// done of the run's total. The total starts as the listing's sizes and
// follows what the transfers learn: an archive's size when it starts, and
// the bytes a failed archive will not bring.
type transferTotals struct {
	Archives     int   `json:"archives"`
	ArchivesDone int   `json:"archivesDone"`
	Bytes        int64 `json:"bytes"`
	BytesDone    int64 `json:"bytesDone"`

	size    map[string]int64 // each archive's expected size
	counted map[string]int64 // each archive's bytes counted in BytesDone
	lastAny time.Time        // previous bytes of any archive: the overall rate's clock
}

func newTransferTotals(jobs []transport.Job) transferTotals {
	t := transferTotals{Archives: len(jobs), size: map[string]int64{}, counted: map[string]int64{}}
	for _, j := range jobs {
		t.size[j.Name] = j.Listed
		t.Bytes += j.Listed
	}
	return t
}

// start: an attempt at name begins with from bytes already there (a
// retry may resume before what the failed attempt had counted).
func (t *transferTotals) start(name string, size, from int64) {
	t.Bytes += size - t.size[name]
	t.size[name] = size
	t.BytesDone += from - t.counted[name]
	t.counted[name] = from
}

func (t *transferTotals) bytes(name string, n int64) {
	t.BytesDone += n
	t.counted[name] += n
}

func (t *transferTotals) done(r transport.FileResult) {
	t.ArchivesDone++
	if r.Status == transport.StatusFailed {
		t.Bytes -= t.size[r.Name] - t.counted[r.Name] // will not come
		return
	}
	if r.Size > 0 && r.Size != t.size[r.Name] {
		t.Bytes += r.Size - t.size[r.Name]
		t.size[r.Name] = r.Size
	}
	t.BytesDone += t.size[r.Name] - t.counted[r.Name] // skipped: all there
	t.counted[r.Name] = t.size[r.Name]
}

func (a *app) newTransferProgress(jobs []transport.Job) *transferProgress {
	var p *mpb.Progress
	if !a.json && !a.quiet && isTerminal(a.stderr) {
		p = mpb.New(mpb.WithOutput(a.stderr), mpb.WithRefreshRate(200*time.Millisecond))
	}
	return newTransferProgressOn(a, p, jobs, time.Now)
}

func newTransferProgressOn(a *app, p *mpb.Progress, jobs []transport.Job, now func() time.Time) *transferProgress {
	tp := &transferProgress{a: a, p: p, now: now, tot: newTransferTotals(jobs),
		bars: map[string]*mpb.Bar{}, last: map[string]time.Time{}, next: map[string]time.Time{}, sent: map[string]int64{}}
	tp.tot.lastAny = now()
	if p != nil {
		var archives atomic.Value
		archives.Store(fmt.Sprintf("0/%d archives", len(jobs)))
		tp.total = p.New(tp.tot.Bytes, mpb.BarStyle(),
			mpb.BarPriority(1<<30), // the last line, below the archives' bars
			mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return archives.Load().(string) + "  " }),
				decor.CountersKibiByte("% .1f / % .1f")),
			mpb.AppendDecorators(decor.EwmaSpeed(decor.SizeB1024(0), " % .1f", 60), decor.Name("  ETA "), decor.EwmaETA(decor.ET_STYLE_GO, 60)),
		)
		tp.total.DecoratorAverageAdjust(now())
		tp.archives = &archives
	}
	return tp
}

func (tp *transferProgress) Start(j transport.Job, size, from int64) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	now := tp.now()
	tp.sent[j.Name] = from
	tp.last[j.Name] = now
	tp.tot.start(j.Name, size, from)
	if tp.p == nil {
		return
	}
	tp.total.SetTotal(tp.tot.Bytes, false)
	tp.total.SetCurrent(tp.tot.BytesDone)
	if old := tp.bars[j.Name]; old != nil {
		old.Abort(true)
	}
	bar := tp.p.AddBar(size,
		mpb.PrependDecorators(decor.Name(termtext.Escape(j.Name)+" ", decor.WCSyncSpaceR), decor.CountersKibiByte("% .1f / % .1f")),
		mpb.AppendDecorators(decor.EwmaSpeed(decor.SizeB1024(0), " % .1f", 30), decor.Name("  ETA "), decor.EwmaETA(decor.ET_STYLE_GO, 30)),
		mpb.BarRemoveOnComplete(),
	)
	bar.SetCurrent(from)
	bar.DecoratorAverageAdjust(now)
	tp.bars[j.Name] = bar
}

func (tp *transferProgress) Bytes(j transport.Job, n int64) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	now := tp.now()
	tp.sent[j.Name] += n
	tp.tot.bytes(j.Name, n)
	// The rates are bytes over the time they took: since this archive's
	// previous bytes for its bar, since anyone's for the overall line.
	sinceOwn, sinceAny := now.Sub(tp.last[j.Name]), now.Sub(tp.tot.lastAny)
	tp.last[j.Name], tp.tot.lastAny = now, now
	if bar := tp.bars[j.Name]; bar != nil {
		bar.EwmaIncrInt64(n, sinceOwn)
		tp.total.EwmaIncrInt64(n, sinceAny)
		return
	}
	if tp.a.json {
		if now.After(tp.next[j.Name]) {
			tp.next[j.Name] = now.Add(time.Second)
			writeJSONLine(tp.a.stdout, map[string]any{"event": "progress", "archive": j.Name, "bytes": tp.sent[j.Name], "run": tp.tot})
		}
	}
}

func (tp *transferProgress) Retry(j transport.Job, attempt int, err error, wait time.Duration) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if bar := tp.bars[j.Name]; bar != nil {
		bar.Abort(true)
		delete(tp.bars, j.Name)
	}
	if tp.a.json {
		writeJSONLine(tp.a.stdout, map[string]any{"event": "retry", "archive": j.Name, "attempt": attempt, "error": err.Error(), "waitSeconds": wait.Seconds()})
		return
	}
	var w io.Writer = tp.a.stderr
	if tp.p != nil {
		w = tp.p // print above the bars
	}
	fmt.Fprintf(w, "retry    %s in %s (attempt %d failed: %s)\n", termtext.Escape(j.Name), wait, attempt, termtext.Escape(err.Error()))
}

func (tp *transferProgress) Done(r transport.FileResult) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.tot.done(r)
	if bar := tp.bars[r.Name]; bar != nil {
		if r.Status == transport.StatusFailed {
			bar.Abort(true)
		} else {
			bar.SetTotal(-1, true)
		}
		delete(tp.bars, r.Name)
	}
	if tp.total != nil {
		tp.archives.Store(fmt.Sprintf("%d/%d archives", tp.tot.ArchivesDone, tp.tot.Archives))
		tp.total.SetTotal(tp.tot.Bytes, false)
		tp.total.SetCurrent(tp.tot.BytesDone)
	}
}

// totals returns the overall figures so far.
func (tp *transferProgress) totals() transferTotals {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.tot
}

func (tp *transferProgress) wait() {
	if tp.p != nil {
		tp.total.SetTotal(-1, true)
		tp.p.Wait()
	}
}
