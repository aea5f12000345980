package retry

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

func noSleep(ctx context.Context, d time.Duration) error { return ctx.Err() }

func TestDoStopsAtPermanent(t *testing.T) {
	calls := 0
	boom := errors.New("refused")
	err := Do(context.Background(), Loop{Sleep: noSleep}, func(context.Context, int) error {
		calls++
		return boom
	})
	if calls != 1 || !errors.Is(err, boom) {
		t.Fatalf("permanent error: %d calls, err %v; want 1 call and the error", calls, err)
	}
}

func TestDoRetriesTransientUpToAttempts(t *testing.T) {
	calls := 0
	var waits []time.Duration
	l := Loop{Attempts: 4, Backoff: Policy{First: 10 * time.Millisecond, Max: time.Second}, Sleep: noSleep,
		OnRetry: func(_ int, _ error, w time.Duration) { waits = append(waits, w) }}
	err := Do(context.Background(), l, func(context.Context, int) error {
		calls++
		return MarkTransient(errors.New("dropped"))
	})
	if calls != 4 || err == nil || len(waits) != 3 {
		t.Fatalf("%d calls, %d waits, err %v; want 4 calls, 3 waits and an error", calls, len(waits), err)
	}
	for i, w := range waits {
		full := l.Backoff.Delay(i + 1)
		if w < full/2 || w > full {
			t.Errorf("wait %d = %v, want jittered within [%v, %v]", i+1, w, full/2, full)
		}
	}
}

func TestDoSucceedsAfterTransient(t *testing.T) {
	calls := 0
	err := Do(context.Background(), Loop{Sleep: noSleep}, func(_ context.Context, attempt int) error {
		calls++
		if attempt < 3 {
			return MarkTransient(errors.New("dropped"))
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("err %v after %d calls; want success on the third", err, calls)
	}
}

func TestServerWaitIsHonouredAndCapped(t *testing.T) {
	var got []time.Duration
	l := Loop{Attempts: 2, MaxWait: 30 * time.Second, Sleep: func(_ context.Context, d time.Duration) error {
		got = append(got, d)
		return nil
	}}
	Do(context.Background(), l, func(context.Context, int) error {
		return MarkThrottled(errors.New("slow down"), time.Hour)
	})
	if len(got) != 1 || got[0] != 30*time.Second {
		t.Fatalf("slept %v; want one pause of 30s (the hour capped)", got)
	}
	l.MaxWait = 0
	got = nil
	Do(context.Background(), l, func(context.Context, int) error {
		return MarkThrottled(errors.New("slow down"), 1500*time.Millisecond)
	})
	if len(got) != 1 || got[0] != 1500*time.Millisecond {
		t.Fatalf("slept %v; want the server's 1.5s", got)
	}
}

func TestCancelDuringPauseNamesBothCauses(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	last := errors.New("dropped")
	l := Loop{Backoff: Policy{First: time.Hour}}
	err := Do(ctx, l, func(context.Context, int) error {
		cancel()
		return MarkTransient(last)
	})
	// cancel() ran before the pause, so the loop ends without sleeping.
	if !errors.Is(err, last) {
		t.Fatalf("err = %v; want the last attempt's error", err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel2() }()
	err = Do(ctx2, l, func(context.Context, int) error { return MarkTransient(last) })
	if !errors.Is(err, context.Canceled) || !errors.Is(err, last) {
		t.Fatalf("err = %v; want both context.Canceled and the last error", err)
	}
}

func TestClassifyOutermostMarkWins(t *testing.T) {
	inner := MarkTransient(errors.New("EOF"))
	if k, _ := Classify(MarkPermanent(inner)); k != Permanent {
		t.Errorf("permanent over transient: got %v", k)
	}
	if k, _ := Classify(context.Canceled); k != Permanent {
		t.Errorf("cancelled: got %v, want permanent", k)
	}
	if k, w := Classify(MarkThrottled(errors.New("x"), time.Second)); k != Throttled || w != time.Second {
		t.Errorf("throttled: got %v %v", k, w)
	}
}

// TestWaitOutThrottling: throttled answers, however many, use up no
// attempt; transient failures still do.
func TestWaitOutThrottling(t *testing.T) {
	throttled := MarkThrottled(errors.New("slow down"), time.Millisecond)
	dropped := MarkTransient(errors.New("dropped"))
	calls := 0
	l := Loop{Attempts: 3, WaitOutThrottling: true, Sleep: noSleep}
	err := Do(context.Background(), l, func(_ context.Context, attempt int) error {
		calls++
		if attempt != calls {
			t.Errorf("attempt %d on call %d", attempt, calls)
		}
		if calls <= 20 {
			return throttled
		}
		return nil
	})
	if err != nil || calls != 21 {
		t.Fatalf("err %v after %d calls; want success on call 21, after 20 throttles", err, calls)
	}

	calls = 0
	err = Do(context.Background(), l, func(context.Context, int) error {
		calls++
		if calls%2 == 1 {
			return throttled
		}
		return dropped
	})
	if !errors.Is(err, dropped) || calls != 6 {
		t.Fatalf("err %v after %d calls; want the third transient failure to end it (call 6)", err, calls)
	}

	// Without the option a throttle counts like any retryable failure.
	calls = 0
	err = Do(context.Background(), Loop{Attempts: 3, Sleep: noSleep}, func(context.Context, int) error {
		calls++
		return throttled
	})
	if err == nil || calls != 3 {
		t.Fatalf("err %v after %d calls; want 3 throttled tries, then the error", err, calls)
	}

	// Only ctx ends a run of throttles.
	ctx, cancel := context.WithCancel(context.Background())
	calls = 0
	err = Do(ctx, l, func(context.Context, int) error {
		calls++
		if calls == 50 {
			cancel()
		}
		return throttled
	})
	if calls != 50 || err == nil {
		t.Fatalf("err %v after %d calls; want the loop to end at the cancel (call 50)", err, calls)
	}
}

// A connect that timed out says it is context.DeadlineExceeded too (the
// net package's timeout error does), yet the run goes on: its transient
// mark is what counts. A loop that Do ended in a pause stays final
// whatever its last error's mark.
func TestClassifyMarkedTimeoutStaysTransient(t *testing.T) {
	_, err := (&net.Dialer{Timeout: time.Nanosecond}).Dial("tcp", "127.0.0.1:9")
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a dial with a 1 ns timeout: %v, want a timeout that is context.DeadlineExceeded", err)
	}
	if k, _ := Classify(MarkTransient(err)); k != Transient {
		t.Errorf("a marked connect timeout: got %v, want transient", k)
	}
	if k, _ := Classify(err); k != Permanent {
		t.Errorf("an unmarked one: got %v, want permanent", k)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	stopped := Do(ctx, Loop{Backoff: Policy{First: time.Second, Max: time.Second}},
		func(context.Context, int) error { return MarkTransient(errors.New("EOF")) })
	if k, _ := Classify(stopped); k != Permanent {
		t.Errorf("a loop stopped in its pause: got %v, want permanent", k)
	}
}
