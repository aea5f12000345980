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
