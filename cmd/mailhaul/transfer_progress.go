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
	stage "github.com/mailhaul/mailhaul/progress"
	"github.com/mailhaul/mailhaul/report"
	"github.com/mailhaul/mailhaul/transport"
)

// transferProgress shows a running transfer: on a terminal one bar per
// archive in flight and an overall line (archives and bytes done of the
// run's total, rate, ETA); throttled JSON lines with --json; retries on
// stderr otherwise. Its event method is the run's progress.Func; it is
// the transport.Observer for retries and outcomes.
type transferProgress struct {
	a   *app
	p   *mpb.Progress // nil without a terminal
	now func() time.Time

	mu       sync.Mutex
	bars     map[string]*mpb.Bar
	last     map[string]time.Time // previous bytes of each archive: its rate's clock
	next     map[string]time.Time // JSON throttle per archive
	total    *mpb.Bar             // the overall line
	archives *atomic.Value        // its "3/10 archives", read while drawing
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

// update: have bytes of name's size are at the destination; it returns
// how many more than before (fewer when a retry resumes before what the
// failed attempt had counted).
func (t *transferTotals) update(name string, size, have int64) int64 {
	t.Bytes += size - t.size[name]
	t.size[name] = size
	n := have - t.counted[name]
	t.BytesDone += n
	t.counted[name] = have
	return n
}

func (t *transferTotals) done(r report.TransferFile) {
	t.ArchivesDone++
	if r.Status == report.TransferFailed {
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
		bars: map[string]*mpb.Bar{}, last: map[string]time.Time{}, next: map[string]time.Time{}}
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

// event follows one archive's progress event: the first of an attempt
// (after a retry, or its first) makes its bar.
func (tp *transferProgress) event(e stage.Event) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	now := tp.now()
	name := e.Folder
	_, going := tp.last[name]
	n := tp.tot.update(name, e.BytesTotal, e.Bytes)
	// The rates are bytes over the time they took: since this archive's
	// previous bytes for its bar, since anyone's for the overall line.
	sinceOwn, sinceAny := now.Sub(tp.last[name]), now.Sub(tp.tot.lastAny)
	tp.last[name] = now
	if !going {
		tp.startBar(name, e, now)
		return
	}
	tp.tot.lastAny = now
	if bar := tp.bars[name]; bar != nil {
		bar.EwmaIncrInt64(n, sinceOwn)
		tp.total.EwmaIncrInt64(n, sinceAny)
		return
	}
	if tp.a.json && now.After(tp.next[name]) {
		tp.next[name] = now.Add(time.Second)
		writeJSONLine(tp.a.stdout, map[string]any{"event": "progress", "archive": name, "bytes": e.Bytes, "run": tp.tot})
	}
}

// startBar shows an attempt beginning with e.Bytes already there.
func (tp *transferProgress) startBar(name string, e stage.Event, now time.Time) {
	if tp.p == nil {
		return
	}
	tp.total.SetTotal(tp.tot.Bytes, false)
	tp.total.SetCurrent(tp.tot.BytesDone)
	if old := tp.bars[name]; old != nil {
		old.Abort(true)
	}
	bar := tp.p.AddBar(e.BytesTotal,
		mpb.PrependDecorators(decor.Name(termtext.Escape(name)+" ", decor.WCSyncSpaceR), decor.CountersKibiByte("% .1f / % .1f")),
		mpb.AppendDecorators(decor.EwmaSpeed(decor.SizeB1024(0), " % .1f", 30), decor.Name("  ETA "), decor.EwmaETA(decor.ET_STYLE_GO, 30)),
		mpb.BarRemoveOnComplete(),
	)
	bar.SetCurrent(e.Bytes)
	bar.DecoratorAverageAdjust(now)
	tp.bars[name] = bar
}

func (tp *transferProgress) Retry(j transport.Job, attempt int, err error, wait time.Duration) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	delete(tp.last, j.Name) // the next event begins an attempt
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

func (tp *transferProgress) Done(r report.TransferFile) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.tot.done(r)
	delete(tp.last, r.Name)
	if bar := tp.bars[r.Name]; bar != nil {
		if r.Status == report.TransferFailed {
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
