// Package retry is mailhaul's one retry loop: transport, the DAV client
// and the IMAP batch resend all repeat their work through Do. What a
// failure means stays with each protocol, which marks its errors as
// transient (try again after a backoff), throttled (try again after the
// server's own wait) or leaves them permanent (give up at once).
package retry

import (
	"context"
	"errors"
	"time"
)

// Kind says whether an error is worth another attempt.
type Kind int

const (
	// Permanent: trying again gives the same answer (refused, not found,
	// bad credentials, a checksum mismatch). Unmarked errors are permanent.
	Permanent Kind = iota
	// Transient: the connection dropped or the server failed briefly.
	Transient
	// Throttled: the server asked the client to slow down, perhaps with a
	// wait of its own.
	Throttled
)

func (k Kind) String() string {
	switch k {
	case Transient:
		return "transient"
	case Throttled:
		return "throttled"
	}
	return "permanent"
}

// marked carries a Kind and a server-suggested wait through error
// wrapping, keeping the original text.
type marked struct {
	err  error
	kind Kind
	wait time.Duration
}

func (m *marked) Error() string { return m.err.Error() }
func (m *marked) Unwrap() error { return m.err }

// MarkTransient marks err as worth another attempt after a backoff.
func MarkTransient(err error) error {
	if err == nil {
		return nil
	}
	return &marked{err: err, kind: Transient}
}

// MarkThrottled marks err as the server asking to slow down; wait is its
// suggested pause (0: none given, the policy's backoff applies).
func MarkThrottled(err error, wait time.Duration) error {
	if err == nil {
		return nil
	}
	return &marked{err: err, kind: Throttled, wait: wait}
}

// MarkPermanent marks err as final, overriding a transient mark further
// down the chain (a lost connection that was in fact a TLS mismatch).
func MarkPermanent(err error) error {
	if err == nil {
		return nil
	}
	return &marked{err: err, kind: Permanent}
}

// Classify reads the outermost mark of err: its kind and the server's
// suggested wait. Unmarked errors are permanent, a cancelled or expired
// context among them, and so is a loop Do ended in a pause. A mark wins
// over the context test, because a network timeout (a connect that timed
// out) also reports itself as context.DeadlineExceeded while the run goes
// on; Do stops once the run's own context has ended, so no loop outlives
// the run.
func Classify(err error) (Kind, time.Duration) {
	var s *stopped
	if err == nil || errors.As(err, &s) {
		return Permanent, 0
	}
	var m *marked
	if errors.As(err, &m) {
		return m.kind, m.wait
	}
	return Permanent, 0
}

// IsRetryable reports whether Classify would try err again.
func IsRetryable(err error) bool {
	k, _ := Classify(err)
	return k != Permanent
}

// Loop bounds one retry loop. The zero value takes the defaults.
type Loop struct {
	// Attempts is the number of tries in all, the first included
	// (default 6); with WaitOutThrottling, of tries that failed other
	// than throttled.
	Attempts int
	// WaitOutThrottling tries throttled failures again however many come:
	// they use up no attempt, and only ctx ends a run of them. It suits
	// work the server takes once its load falls (the IMAP batch resend),
	// where giving up would fail items for no fault of their own; the
	// caller's own pacing (a shrinking window) keeps the pressure off.
	WaitOutThrottling bool
	// Backoff paces transient failures; jitter is always on, so that
	// parallel workers hit by one outage do not come back in step.
	Backoff Policy
	// MaxWait caps a server-suggested wait (default: no cap). A server
	// asking for more than the run can afford should be met by failing
	// the item, not by sleeping for hours.
	MaxWait time.Duration
	// OnRetry, when set, hears of every failed attempt that will be
	// tried again, before the pause (for logs and progress).
	OnRetry func(attempt int, err error, wait time.Duration)
	// Sleep replaces the pause in tests; nil: Sleep.
	Sleep func(ctx context.Context, d time.Duration) error
}

const defaultAttempts = 6

// Wait is the pause before retry number n (1 for the first retry) after
// err: the server's suggestion when it gave one, else the backoff.
func (l Loop) Wait(n int, err error) time.Duration {
	_, suggested := Classify(err)
	if suggested > 0 {
		if l.MaxWait > 0 {
			return min(suggested, l.MaxWait)
		}
		return suggested
	}
	p := l.Backoff
	p.Jitter = true
	return p.Delay(n)
}

// Do calls op until it succeeds, fails permanently, runs out of attempts
// or ctx ends. op receives the attempt number (1 for the first, throttled
// tries included). The error
// returned is op's last one; when ctx ended during a pause, ctx's error
// wrapped around it is returned, so the caller sees both causes.
func Do(ctx context.Context, l Loop, op func(ctx context.Context, attempt int) error) error {
	attempts := l.Attempts
	if attempts <= 0 {
		attempts = defaultAttempts
	}
	sleep := l.Sleep
	if sleep == nil {
		sleep = Sleep
	}
	spent := 0 // tries counted against attempts
	for attempt := 1; ; attempt++ {
		err := op(ctx, attempt)
		if err == nil || !IsRetryable(err) {
			return err
		}
		if k, _ := Classify(err); k != Throttled || !l.WaitOutThrottling {
			spent++
		}
		if spent >= attempts || ctx.Err() != nil {
			return err
		}
		wait := l.Wait(attempt, err)
		if l.OnRetry != nil {
			l.OnRetry(attempt, err, wait)
		}
		if serr := sleep(ctx, wait); serr != nil {
			return &stopped{ctx: serr, last: err}
		}
	}
}

// stopped is a loop ended by its context during a pause.
type stopped struct{ ctx, last error }

func (s *stopped) Error() string   { return s.ctx.Error() + " (after: " + s.last.Error() + ")" }
func (s *stopped) Unwrap() []error { return []error{s.ctx, s.last} }
