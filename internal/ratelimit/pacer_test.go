package ratelimit

import (
	"context"
	"testing"
	"time"
)

// A byte rate alone (the transfer's --bwlimit) holds a copy to it: after
// the first second's burst, 1.5 MB more at 1 MB/s take at least 1.5 s
// (at most is up to the machine's load).
func TestPacerBytesOnly(t *testing.T) {
	p := NewPacer(1e6, 0)
	start := time.Now()
	for range 25 {
		if err := p.Wait(context.Background(), 0, 100_000); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 1400*time.Millisecond {
		t.Errorf("2.5 MB at 1 MB/s with a 1 MB burst took %v, want at least 1.5 s", d)
	}
}

// No limits, or no pacer at all, never wait; a cancelled wait says so.
func TestPacerUnlimitedAndCancelled(t *testing.T) {
	for _, p := range []*Pacer{nil, NewPacer(0, 0)} {
		start := time.Now()
		if err := p.Wait(context.Background(), 1000, 1<<40); err != nil || time.Since(start) > time.Second {
			t.Errorf("unlimited pacer %v: %v after %v", p, err, time.Since(start))
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := NewPacer(10, 0).Wait(ctx, 0, 1000); err == nil {
		t.Errorf("a cancelled wait for 100 s of bytes returned no error")
	}
}

// A wait that would pass the context's deadline ends with the deadline,
// as the context's own error: rate.Limiter alone refuses it at once with
// an error of its own, which callers took for a failure while the run
// was still going.
func TestPacerWaitPastDeadlineEndsWithIt(t *testing.T) {
	p := NewPacer(0, 1)
	if err := p.Wait(context.Background(), 1, 0); err != nil { // the burst
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := p.Wait(ctx, 5, 0) // 5 s of messages
	if err != context.DeadlineExceeded || ctx.Err() == nil {
		t.Fatalf("wait past the deadline: %v (context: %v), want the deadline, once passed", err, ctx.Err())
	}
}
