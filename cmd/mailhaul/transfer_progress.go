package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/mailhaul/mailhaul/transport"
)

// transferProgress shows a running transfer: one bar per archive in
// flight with rate and ETA on a terminal, throttled JSON lines with
// --json, retries on stderr otherwise. It implements transport.Observer.
type transferProgress struct {
	a    *app
	p    *mpb.Progress // nil without a terminal
	mu   sync.Mutex
	bars map[string]*mpb.Bar
	next map[string]time.Time // JSON throttle per archive
	sent map[string]int64
}

func (a *app) newTransferProgress(files int) *transferProgress {
	tp := &transferProgress{a: a, bars: map[string]*mpb.Bar{}, next: map[string]time.Time{}, sent: map[string]int64{}}
	if !a.json && !a.quiet && isTerminal(a.stderr) {
		tp.p = mpb.New(mpb.WithOutput(a.stderr), mpb.WithRefreshRate(200*time.Millisecond))
	}
	return tp
}

func (tp *transferProgress) Start(j transport.Job, size, from int64) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.sent[j.Name] = from
	if tp.p == nil {
		return
	}
	if old := tp.bars[j.Name]; old != nil {
		old.Abort(true)
	}
	bar := tp.p.AddBar(size,
		mpb.PrependDecorators(decor.Name(j.Name+" ", decor.WCSyncSpaceR), decor.CountersKibiByte("% .1f / % .1f")),
		mpb.AppendDecorators(decor.EwmaSpeed(decor.SizeB1024(0), " % .1f", 30), decor.Name("  ETA "), decor.EwmaETA(decor.ET_STYLE_GO, 30)),
		mpb.BarRemoveOnComplete(),
	)
	bar.SetCurrent(from)
	bar.DecoratorAverageAdjust(time.Now())
	tp.bars[j.Name] = bar
}

func (tp *transferProgress) Bytes(j transport.Job, n int64) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.sent[j.Name] += n
	if bar := tp.bars[j.Name]; bar != nil {
		bar.EwmaIncrInt64(n, 0)
		return
	}
	if tp.a.json {
		if now := time.Now(); now.After(tp.next[j.Name]) {
			tp.next[j.Name] = now.Add(time.Second)
			writeJSONLine(tp.a.stdout, map[string]any{"event": "progress", "archive": j.Name, "bytes": tp.sent[j.Name]})
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
	fmt.Fprintf(w, "retry    %s in %s (attempt %d failed: %v)\n", j.Name, wait, attempt, err)
}

func (tp *transferProgress) Done(r transport.FileResult) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if bar := tp.bars[r.Name]; bar != nil {
		if r.Status == transport.StatusFailed {
			bar.Abort(true)
		} else {
			bar.SetTotal(-1, true)
		}
		delete(tp.bars, r.Name)
	}
}

func (tp *transferProgress) wait() {
	if tp.p != nil {
		tp.p.Wait()
	}
}
