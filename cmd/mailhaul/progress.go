package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/termtext"
	"github.com/mailhaul/mailhaul/progress"
)

// display shows a running export or import: a live line on a terminal,
// throttled JSON lines with --json, nothing otherwise. The core reports
// progress.Events to update; it never prints itself.
type display struct {
	update progress.Func
	done   func()
}

// totalFunc finds how many items a run will go through, or false when it
// cannot tell. It may take a while (it reads the archives' summaries), so
// progress calls it in the background; ctx ends when the run does.
type totalFunc func(ctx context.Context) (int, bool)

// archiveTotals counts the items of kinds in the archives from their
// summaries, which sit at each archive's end: the scan reads tar headers
// only, alongside the import.
func archiveTotals(archives []string, kinds ...format.Kind) totalFunc {
	return func(ctx context.Context) (int, bool) {
		n := 0
		for _, path := range archives {
			s, err := format.ScanSummary(ctx, path)
			if err != nil {
				return 0, false
			}
			for _, k := range kinds {
				switch k {
				case format.KindMessage:
					n += s.Counts.Messages
				case format.KindContact:
					n += s.Counts.Contacts
				case format.KindEvent:
					n += s.Counts.Events
				case format.KindTask:
					n += s.Counts.Tasks
				}
			}
		}
		return n, true
	}
}

// progressState is what both displays show: the last update, when the run
// started, and the total once known.
type progressState struct {
	mu    sync.Mutex
	last  progress.Event
	start time.Time
	total int64 // 0 until known
}

// eta estimates the time left from the average rate so far.
func (s *progressState) eta() (time.Duration, bool) {
	if s.total <= 0 || s.last.Items <= 0 {
		return 0, false
	}
	left := max(s.total-s.last.Items, 0)
	per := time.Since(s.start) / time.Duration(s.last.Items)
	return (per * time.Duration(left)).Round(time.Second), true
}

// seeTotal takes the total an event carries, when the stage knows it;
// call it with mu held.
func (s *progressState) seeTotal(e progress.Event) {
	if e.ItemsTotal > 0 {
		s.total = e.ItemsTotal
	}
}

// findTotal runs total in the background, calling found once it is known.
func (s *progressState) findTotal(ctx context.Context, total totalFunc, found func(int)) {
	if total == nil {
		return
	}
	go func() {
		if n, ok := total(ctx); ok && ctx.Err() == nil {
			s.mu.Lock()
			s.total = int64(n)
			s.mu.Unlock()
			found(n)
		}
	}()
}

func (a *app) newProgress(label string, total totalFunc) *display {
	switch {
	case a.json:
		return jsonProgress(a.stdout, label, total)
	case !a.quiet && isTerminal(a.stderr):
		return barProgress(a.stderr, label, total)
	}
	return &display{update: func(progress.Event) {}, done: func() {}}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// barProgress draws counts, bytes and rate; with a total (an import's,
// from the archives' summaries) a bar and the time left, else a spinner
// (an export reads its source in one pass and knows no total).
func barProgress(w io.Writer, label string, total totalFunc) *display {
	ctx, cancel := context.WithCancel(context.Background())
	p := mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithRefreshRate(200*time.Millisecond))
	st := &progressState{start: time.Now()}
	var style mpb.BarFillerBuilder = mpb.BarStyle()
	if total == nil {
		style = mpb.SpinnerStyle()
	}
	bar := p.New(0, style,
		mpb.PrependDecorators(decor.Name(termtext.Escape(label)+" ")),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			st.mu.Lock()
			defer st.mu.Unlock()
			rate := float64(st.last.Bytes) / time.Since(st.start).Seconds()
			items := fmt.Sprintf("%d items", st.last.Items)
			if st.total > 0 {
				items = fmt.Sprintf("%d of %d items", st.last.Items, st.total)
			}
			line := fmt.Sprintf(" %s  %s  %s/s", items, humanBytes(st.last.Bytes), humanBytes(int64(rate)))
			if eta, ok := st.eta(); ok {
				line += "  ETA " + eta.String()
			}
			return line + "  " + termtext.Escape(st.last.Folder)
		})),
		mpb.BarFillerClearOnComplete(),
	)
	st.findTotal(ctx, total, func(n int) { bar.SetTotal(int64(n), false) })
	return &display{
		update: func(pr progress.Event) {
			st.mu.Lock()
			st.last = pr
			st.seeTotal(pr)
			st.mu.Unlock()
			if pr.ItemsTotal > 0 {
				bar.SetTotal(pr.ItemsTotal, false)
			}
			bar.SetCurrent(pr.Items)
		},
		done: func() {
			bar.SetTotal(-1, true)
			p.Wait()
			cancel()
		},
	}
}

// jsonProgress writes at most one progress line a second, with the total
// and the time left once known.
func jsonProgress(w io.Writer, label string, total totalFunc) *display {
	ctx, cancel := context.WithCancel(context.Background())
	st := &progressState{start: time.Now()}
	st.findTotal(ctx, total, func(int) {})
	var next time.Time
	return &display{
		update: func(pr progress.Event) {
			// Importers report from several goroutines.
			st.mu.Lock()
			st.seeTotal(pr)
			now := time.Now()
			if !now.After(next) {
				st.mu.Unlock()
				return
			}
			next = now.Add(time.Second)
			st.last = pr
			line := map[string]any{"event": "progress", "task": label,
				"folder": pr.Folder, "items": pr.Items, "bytes": pr.Bytes}
			if st.total > 0 {
				line["total"] = st.total
			}
			// The event's own fields, when the stage gives them.
			for k, v := range map[string]string{"stage": pr.Stage, "user": pr.User} {
				if v != "" {
					line[k] = v
				}
			}
			if pr.BytesTotal > 0 {
				line["bytesTotal"] = pr.BytesTotal
			}
			if eta, ok := st.eta(); ok {
				line["etaSeconds"] = eta.Seconds()
			}
			st.mu.Unlock()
			writeJSONLine(w, line)
		},
		done: cancel,
	}
}
