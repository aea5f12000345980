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

	"github.com/mailhaul/mailhaul/internal/termtext"
	"github.com/mailhaul/mailhaul/migrate"
	"github.com/mailhaul/mailhaul/progress"
)

// runLog is migrate run's --log-file: one timestamped line per user's
// step, retry and the summary, appended.
type runLog struct {
	mu sync.Mutex
	f  *os.File
}

func openRunLog(path string) (*runLog, error) {
	if path == "" {
		return &runLog{}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--log-file: %w", err)
	}
	return &runLog{f: f}, nil
}

func (l *runLog) printf(format string, args ...any) {
	if l.f == nil {
		return
	}
	line := termtext.Escape(fmt.Sprintf(format, args...))
	l.mu.Lock()
	fmt.Fprintf(l.f, "%s %s\n", time.Now().UTC().Format(time.RFC3339Nano), line)
	l.mu.Unlock()
}

// Write takes one --debug trace line (it carries its own time).
func (l *runLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

func (l *runLog) close() {
	if l.f != nil {
		l.f.Close()
	}
}

// runUser is one user's standing as the display sees it.
type runUser struct {
	status       string
	stage        string
	items, bytes int64 // of the current stage's events
	folder       string
	// base is what earlier targets of the stage counted (the imports of
	// mail, then of contacts, each count from zero).
	baseItems, baseBytes int64
	bar                  *mpb.Bar
}

// runTally sums what every user moved, for the overall line.
type runTally struct {
	mu          sync.Mutex
	start       time.Time
	total, done int64
	users       map[string]*runUser
	counted     string // the stage whose items and bytes are counted
}

func (t *runTally) sums() (items, bytes int64) {
	for _, u := range t.users {
		items += u.baseItems + u.items
		bytes += u.baseBytes + u.bytes
	}
	return items, bytes
}

// see takes an event in and says whether it changed the user's status
// (or ended it: finished).
func (t *runTally) see(e progress.Event) (u *runUser, changed, finished bool) {
	u = t.users[e.User]
	if u == nil {
		u = &runUser{}
		t.users[e.User] = u
	}
	if e.Stage == migrate.StageMigrate {
		changed = u.status != e.Folder
		u.status = e.Folder
		if e.ItemsTotal > 0 { // the user's part of the run ended
			t.done, t.total, finished = e.Items, e.ItemsTotal, true
		}
		return u, changed, finished
	}
	if e.Stage != t.counted {
		u.stage, u.folder = e.Stage, e.Folder
		return u, false, false
	}
	if e.Stage != u.stage || e.Items < u.items || e.Bytes < u.bytes {
		u.baseItems += u.items
		u.baseBytes += u.bytes
	}
	u.stage, u.items, u.bytes, u.folder = e.Stage, e.Items, e.Bytes, e.Folder
	return u, false, false
}

// eta is the time the users left take at the rate of those done.
func (t *runTally) eta() (time.Duration, bool) {
	if t.done <= 0 || t.total <= t.done {
		return 0, false
	}
	per := time.Since(t.start) / time.Duration(t.done)
	return (per * time.Duration(t.total-t.done)).Round(time.Second), true
}

// migrateDisplay shows a migrate run: on a terminal an overall bar and a
// line per user at work, with --json the events as JSON lines; the log
// file hears every change of a user's status either way.
type migrateDisplay struct {
	update progress.Func
	logf   func(format string, args ...any)
	done   func()
}

func (a *app) newMigrateProgress(job migrate.Job, log *runLog) *migrateDisplay {
	t := &runTally{start: time.Now(), total: int64(len(job.Users)), users: map[string]*runUser{}, counted: "import"}
	if job.Part == migrate.ExportOnly {
		t.counted = "export"
	}
	logf := func(format string, args ...any) { log.printf(format, args...) }
	switch {
	case a.json:
		return jsonMigrateProgress(a.stdout, t, log)
	case !a.quiet && isTerminal(a.stderr):
		return barMigrateProgress(a.stderr, t, log)
	}
	return &migrateDisplay{update: func(e progress.Event) {
		t.mu.Lock()
		_, changed, _ := t.see(e)
		t.mu.Unlock()
		if changed {
			log.printf("%s: %s", e.User, e.Folder)
		}
	}, logf: logf, done: func() {}}
}

// jsonMigrateProgress writes every change of a user's status, and each
// user's progress at most once a second, as the one progress event.
func jsonMigrateProgress(w io.Writer, t *runTally, log *runLog) *migrateDisplay {
	var mu sync.Mutex // one line at a time
	next := map[string]time.Time{}
	write := func(v any) {
		mu.Lock()
		writeJSONLine(w, v)
		mu.Unlock()
	}
	return &migrateDisplay{
		update: func(e progress.Event) {
			t.mu.Lock()
			_, changed, _ := t.see(e)
			now := time.Now()
			due := changed || now.After(next[e.User])
			if due {
				next[e.User] = now.Add(time.Second)
			}
			t.mu.Unlock()
			if changed {
				log.printf("%s: %s", e.User, e.Folder)
			}
			if due {
				line := map[string]any{"event": "progress", "stage": e.Stage, "user": e.User, "items": e.Items, "bytes": e.Bytes}
				if e.Stage == migrate.StageMigrate {
					line["status"] = e.Folder // the engine's events carry the status there
				} else if e.Folder != "" {
					line["folder"] = e.Folder
				}
				if e.ItemsTotal > 0 {
					line["itemsTotal"] = e.ItemsTotal
				}
				if e.BytesTotal > 0 {
					line["bytesTotal"] = e.BytesTotal
				}
				write(line)
			}
		},
		logf: func(format string, args ...any) {
			msg := fmt.Sprintf(format, args...)
			log.printf("%s", msg)
			write(map[string]string{"event": "log", "message": msg})
		},
		done: func() {},
	}
}

// barMigrateProgress draws the overall bar (users done of all, items,
// bytes, rate, time left) and a line per user at work, which goes when
// the user's part ends.
func barMigrateProgress(w io.Writer, t *runTally, log *runLog) *migrateDisplay {
	ctx, cancel := context.WithCancel(context.Background())
	p := mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithRefreshRate(200*time.Millisecond))
	overall := p.New(t.total, mpb.BarStyle(),
		mpb.PrependDecorators(decor.Name("users ")),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			t.mu.Lock()
			defer t.mu.Unlock()
			items, bytes := t.sums()
			rate := float64(bytes) / time.Since(t.start).Seconds()
			line := fmt.Sprintf(" %d of %d users  %d items  %s  %s/s", t.done, t.total, items, humanBytes(bytes), humanBytes(int64(rate)))
			if eta, ok := t.eta(); ok {
				line += "  ETA " + eta.String()
			}
			return line
		})))
	userLine := func(name string, u *runUser) *mpb.Bar {
		return p.New(0, mpb.NopStyle(), mpb.BarPriority(1),
			mpb.PrependDecorators(decor.Name("  "+termtext.Escape(name)+" ")),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
				t.mu.Lock()
				defer t.mu.Unlock()
				return fmt.Sprintf("%s  %d items  %s  %s", u.status, u.baseItems+u.items, humanBytes(u.baseBytes+u.bytes), termtext.Escape(u.folder))
			})))
	}
	var mu sync.Mutex // bars are added and removed in order
	return &migrateDisplay{
		update: func(e progress.Event) {
			mu.Lock()
			defer mu.Unlock()
			t.mu.Lock()
			u, changed, finished := t.see(e)
			done := t.done
			t.mu.Unlock()
			if changed {
				log.printf("%s: %s", e.User, e.Folder)
			}
			switch {
			case finished:
				if u.bar != nil {
					u.bar.Abort(true)
					u.bar = nil
				}
				overall.SetCurrent(done)
			case u.bar == nil && !migrate.Status(u.status).Finished() && u.status != "":
				u.bar = userLine(e.User, u)
			}
		},
		logf: func(format string, args ...any) { log.printf(format, args...) },
		done: func() {
			mu.Lock()
			for _, u := range t.users {
				if u.bar != nil {
					u.bar.Abort(true)
				}
			}
			mu.Unlock()
			overall.SetTotal(-1, true)
			p.Wait()
			cancel()
		},
	}
}
