package retry

import (
	"context"
	"testing"
	"time"
)

func TestDelayDoublesUpToMax(t *testing.T) {
	p := Policy{First: 100 * time.Millisecond, Max: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := p.Delay(i + 1); got != w*time.Millisecond {
			t.Errorf("Delay(%d) = %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
	if got := (Policy{}).Delay(1); got != time.Second {
		t.Errorf("zero policy: Delay(1) = %v, want 1s", got)
	}
	if got := (Policy{First: time.Second}).Delay(100); got <= 0 {
		t.Errorf("no Max: Delay(100) = %v must not overflow to a non-positive pause", got)
	}
}

func TestJitterStaysInHalfToFull(t *testing.T) {
	p := Policy{First: time.Second, Max: 8 * time.Second, Jitter: true}
	for n := 1; n <= 5; n++ {
		full := Policy{First: time.Second, Max: 8 * time.Second}.Delay(n)
		for range 100 {
			if d := p.Delay(n); d < full/2 || d > full {
				t.Fatalf("Delay(%d) with jitter = %v, want within [%v, %v]", n, d, full/2, full)
			}
		}
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := Sleep(ctx, time.Hour); err != context.Canceled {
		t.Errorf("Sleep on a cancelled context = %v, want context.Canceled", err)
	}
	if time.Since(start) > time.Second {
		t.Error("Sleep did not return when its context ended")
	}
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Sleep(1ms) = %v", err)
	}
}
