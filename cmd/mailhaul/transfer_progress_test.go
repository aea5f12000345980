package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8"

	stage "github.com/mailhaul/mailhaul/progress"
	"github.com/mailhaul/mailhaul/report"
	"github.com/mailhaul/mailhaul/transport"
)

// fakeClock advances only when told, so rates are exact.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time               { return c.t }
func (c *fakeClock) add(d time.Duration)          { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock                    { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }
func job(name string, listed int64) transport.Job { return transport.Job{Name: name, Listed: listed} }

// at is the progress event: have bytes of j's size are there.
func at(j transport.Job, have, size int64) stage.Event {
	return stage.Event{Stage: "transfer", Folder: j.Name, Bytes: have, BytesTotal: size}
}

// The overall figures follow the run: the listing's sizes, a size that
// changed by the time an archive starts, a retry that resumes before
// what its failed attempt had counted, a skipped archive (all there), a
// failed one (its missing bytes leave the total). With --json each
// progress line carries them (issue 9, item 19).
func TestTransferTotals(t *testing.T) {
	var out bytes.Buffer
	clock := newFakeClock()
	jobs := []transport.Job{job("a.tgz", 1000), job("b.tgz", 2000), job("c.tgz", 500)}
	tp := newTransferProgressOn(&app{json: true, stdout: &out}, nil, jobs, clock.now)
	want := func(step string, archivesDone int, bytes, done int64) {
		t.Helper()
		got := tp.totals()
		if got.Archives != 3 || got.ArchivesDone != archivesDone || got.Bytes != bytes || got.BytesDone != done {
			t.Errorf("%s: %d/%d archives, %d/%d bytes; want %d/3, %d/%d", step, got.ArchivesDone, got.Archives, got.BytesDone, got.Bytes, archivesDone, done, bytes)
		}
	}
	want("listed", 0, 3500, 0)
	tp.event(at(jobs[0], 0, 1000))
	clock.add(2 * time.Second)
	tp.event(at(jobs[0], 600, 1000))
	want("a under way", 0, 3500, 600)
	tp.Retry(jobs[0], 1, transport.ErrConnLost, time.Second)
	tp.event(at(jobs[0], 512, 1000))
	want("a resumed at 512", 0, 3500, 512)
	tp.event(at(jobs[0], 1000, 1000))
	tp.Done(report.TransferFile{Name: jobs[0].Name, Status: report.TransferSent, Size: 1000})
	want("a sent", 1, 3500, 1000)
	tp.Done(report.TransferFile{Name: jobs[1].Name, Status: report.TransferSkipped, Size: 2000})
	want("b skipped", 2, 3500, 3000)
	tp.event(at(jobs[2], 0, 800))
	want("c larger than listed", 2, 3800, 3000)
	clock.add(2 * time.Second)
	tp.event(at(jobs[2], 100, 800))
	tp.Done(report.TransferFile{Name: jobs[2].Name, Status: report.TransferFailed, Size: 800})
	want("c failed", 3, 3100, 3100)

	var first struct {
		Event string         `json:"event"`
		Run   transferTotals `json:"run"`
	}
	line, _, _ := strings.Cut(out.String(), "\n")
	if err := json.Unmarshal([]byte(line), &first); err != nil || first.Event != "progress" ||
		first.Run.Archives != 3 || first.Run.ArchivesDone != 0 || first.Run.Bytes != 3500 || first.Run.BytesDone != 600 {
		t.Errorf("first JSON progress line %q (%v): want the run's totals, 600 of 3500 bytes", line, err)
	}
}

// syncBuffer is written by mpb's drawing goroutine and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The bars show the rate at which bytes cross and the time left: each
// 1 MiB taking 10 ms is 100 MiB/s, 500 MiB left of an archive 5 s, and
// 1500 MiB left of the run 15 s; the old bars said "0.0 b/s ETA 0s" whatever the
// speed (issue 9, item 19).
func TestTransferProgressShowsRateAndETA(t *testing.T) {
	var out syncBuffer
	clock := newFakeClock()
	p := mpb.New(mpb.WithOutput(&out), mpb.WithAutoRefresh(), mpb.WithRefreshRate(5*time.Millisecond), mpb.WithWidth(160))
	jobs := []transport.Job{job("a.tgz", 520<<20), job("b.tgz", 1000<<20)}
	tp := newTransferProgressOn(&app{stdout: &out, stderr: &out}, p, jobs, clock.now)
	tp.event(at(jobs[0], 0, 520<<20))
	for i := range 20 {
		clock.add(10 * time.Millisecond)
		tp.event(at(jobs[0], int64(i+1)<<20, 520<<20))
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(out.String(), "ETA 15s") {
		time.Sleep(10 * time.Millisecond)
	}
	screen := out.String()
	for _, want := range []string{"a.tgz  20.0 MiB / 520.0 MiB", "100.0 MiB/s  ETA 5s", "0/2 archives  20.0 MiB / 1.5 GiB", "100.0 MiB/s  ETA 15s"} {
		if !strings.Contains(screen, want) {
			t.Errorf("progress lacks %q:\n%s", want, screen)
		}
	}
	tp.Done(report.TransferFile{Name: jobs[0].Name, Status: report.TransferFailed})
	tp.Done(report.TransferFile{Name: jobs[1].Name, Status: report.TransferFailed})
	tp.wait()
	if !strings.Contains(out.String(), "2/2 archives") {
		t.Errorf("the overall line does not end with 2/2 archives:\n%s", out.String())
	}
}
