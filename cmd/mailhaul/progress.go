package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/mailhaul/mailhaul/export"
)

// progress shows a running export: a live line on a terminal, throttled
// JSON lines with --json, nothing otherwise. The core calls update; it
// never prints itself.
type progress struct {
	update func(export.Progress)
	done   func()
}

func (a *app) newProgress(label string) *progress {
	switch {
	case a.json:
		return jsonProgress(a.stdout, label)
	case !a.quiet && isTerminal(a.stderr):
		return barProgress(a.stderr, label)
	}
	return &progress{update: func(export.Progress) {}, done: func() {}}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// barProgress draws a spinner with counts, bytes and rate; the total is not
// known in advance because sources are read in one pass.
func barProgress(w io.Writer, label string) *progress {
	p := mpb.New(mpb.WithOutput(w), mpb.WithRefreshRate(200*time.Millisecond))
	var (
		mu    sync.Mutex
		last  export.Progress
		start = time.Now()
	)
	bar := p.New(0, mpb.SpinnerStyle(),
		mpb.PrependDecorators(decor.Name(label+" ")),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			mu.Lock()
			defer mu.Unlock()
			rate := float64(last.Bytes) / time.Since(start).Seconds()
			return fmt.Sprintf(" %d items  %s  %s/s  %s", last.Items, humanBytes(last.Bytes), humanBytes(int64(rate)), last.Folder)
		})),
		mpb.BarFillerClearOnComplete(),
	)
	return &progress{
		update: func(pr export.Progress) {
			mu.Lock()
			last = pr
			mu.Unlock()
		},
		done: func() {
			bar.SetTotal(-1, true)
			p.Wait()
		},
	}
}

// jsonProgress writes at most one progress line a second.
func jsonProgress(w io.Writer, label string) *progress {
	var next time.Time
	return &progress{
		update: func(pr export.Progress) {
			if now := time.Now(); now.After(next) {
				next = now.Add(time.Second)
				writeJSONLine(w, map[string]any{"event": "progress", "task": label,
					"folder": pr.Folder, "items": pr.Items, "bytes": pr.Bytes})
			}
		},
		done: func() {},
	}
}
