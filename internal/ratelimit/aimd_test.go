package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"
)

// tryAcquire reports whether a slot is free right now.
func tryAcquire(a *AIMD) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	return a.Acquire(ctx) == nil
}

func TestAIMDWindowBoundsInFlight(t *testing.T) {
	a := NewAIMD(1, 8, 2)
	if !tryAcquire(a) || !tryAcquire(a) {
		t.Fatal("a window of 2 refused one of its first two requests")
	}
	if tryAcquire(a) {
		t.Fatal("a third request got in with a window of 2")
	}
	a.Release(Failed, 0) // refused for its own reasons: the window stays
	if got := a.Stats().Window; got != 2 {
		t.Errorf("window after a plain failure = %v, want 2", got)
	}
	if !tryAcquire(a) {
		t.Error("a freed slot was not given to the next request")
	}
}

func TestAIMDReleaseWakesWaiter(t *testing.T) {
	a := NewAIMD(1, 1, 1)
	a.Acquire(context.Background())
	got := make(chan error, 1)
	go func() { got <- a.Acquire(context.Background()) }()
	time.Sleep(20 * time.Millisecond)
	a.Release(Success, time.Millisecond)
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a waiting Acquire was not woken by Release")
	}
}

func TestAIMDIncreaseAndDecrease(t *testing.T) {
	a := NewAIMD(1, 4, 1)
	// Additive increase: about one more slot per window of successes.
	wantAfter := []float64{2, 2.5, 2.9}
	for i, want := range wantAfter {
		a.Acquire(context.Background())
		a.Release(Success, time.Millisecond)
		if got := a.Stats().Window; got < want-0.01 || got > want+0.01 {
			t.Errorf("window after %d successes = %.2f, want %.2f", i+1, got, want)
		}
	}
	for range 50 {
		a.Acquire(context.Background())
		a.Release(Success, time.Millisecond)
	}
	if got := a.Stats().Window; got != 4 {
		t.Errorf("window after many successes = %v, want the maximum 4", got)
	}
	// Multiplicative decrease on throttling and dropped connections,
	// never below the minimum.
	for i, want := range []float64{2, 1, 1} {
		a.Acquire(context.Background())
		o := Throttled
		if i == 1 {
			o = Lost
		}
		a.Release(o, 0)
		if got := a.Stats().Window; got != want {
			t.Errorf("window after cut %d = %v, want %v", i+1, got, want)
		}
	}
	if s := a.Stats(); s.Cuts != 3 || s.InFlight != 0 {
		t.Errorf("stats %+v, want 3 cuts and nothing in flight", s)
	}
}

// TestAIMDLatencyRise: a server that slows down (Exchange's micro-delays)
// shrinks the window before it starts refusing.
func TestAIMDLatencyRise(t *testing.T) {
	a := NewAIMD(1, 16, 16)
	for range 30 {
		a.Acquire(context.Background())
		a.Release(Success, 10*time.Millisecond)
	}
	if s := a.Stats(); s.Cuts != 0 || s.Window != 16 {
		t.Fatalf("steady latency changed the window: %+v", s)
	}
	for range 30 {
		a.Acquire(context.Background())
		a.Release(Success, 200*time.Millisecond)
	}
	if s := a.Stats(); s.Cuts == 0 || s.Window >= 16 {
		t.Errorf("latency up 20 times left the window at %+v", s)
	}
}

func TestAIMDPause(t *testing.T) {
	a := NewAIMD(1, 4, 4)
	// A server's own figure is honoured as given.
	if d := a.Pause(60*time.Millisecond, time.Second); d != 60*time.Millisecond {
		t.Errorf("Pause(60ms) = %s", d)
	}
	start := time.Now()
	if err := a.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Errorf("Acquire during a 60 ms pause returned after %s", took)
	}
	a.Release(Success, time.Millisecond)
	// Without a figure: exponential backoff, capped.
	b := NewAIMD(1, 4, 4)
	b.Acquire(context.Background())
	for i, want := range []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, 600 * time.Millisecond, 600 * time.Millisecond} {
		if got := b.Pause(0, 600*time.Millisecond); got != want {
			t.Errorf("backoff %d = %s, want %s", i+1, got, want)
		}
	}
	// A success resets the backoff.
	b.Release(Success, time.Millisecond)
	if got := b.Pause(0, time.Minute); got != 250*time.Millisecond {
		t.Errorf("backoff after a success = %s, want 250ms", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire with a cancelled context during a pause = %v", err)
	}
}

func TestPacer(t *testing.T) {
	ctx := context.Background()
	var none *Pacer
	if err := none.Wait(ctx, 1000, 1<<30); err != nil {
		t.Fatal(err)
	}
	if err := NewPacer(0, 0).Wait(ctx, 1000, 1<<30); err != nil {
		t.Fatal(err)
	}
	// A second's worth goes at once, then the rate holds.
	p := NewPacer(0, 40)
	start := time.Now()
	p.Wait(ctx, 40, 0)
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Errorf("the first second's burst waited %s", took)
	}
	p.Wait(ctx, 20, 0)
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Errorf("60 messages at 40/s took %s, want about 500ms", took)
	}
	// One message bigger than a second's bytes waits for all of them.
	p = NewPacer(100000, 0)
	start = time.Now()
	p.Wait(ctx, 1, 150000)
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Errorf("150 kB at 100 kB/s took %s, want about 500ms", took)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := p.Wait(cctx, 1, 1e6); err == nil {
		t.Error("Wait with a cancelled context returned nil")
	}
}

func TestAIMDWiden(t *testing.T) {
	a := NewAIMD(1, 1, 1)
	a.Widen(8)
	if s := a.Stats(); s.Window != 8 {
		t.Fatalf("window %v after Widen(8) of a fresh window, want 8", s.Window)
	}
	if err := a.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.Release(Throttled, 0) // a cut: the window shrinks below the ceiling
	cut := a.Stats().Window
	a.Widen(4) // lower than the ceiling: nothing changes
	if s := a.Stats(); s.Window != cut {
		t.Errorf("Widen below the ceiling changed the window from %v to %v", cut, s.Window)
	}
	a.Widen(10) // another run joins with two more
	if s := a.Stats(); s.Window != cut+2 {
		t.Errorf("window %v after widening by 2, want %v", s.Window, cut+2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for i := 0; i < int(cut+2); i++ {
		if err := a.Acquire(ctx); err != nil {
			t.Fatalf("slot %d of a widened window: %v", i+1, err)
		}
	}
}
