// Package ratelimit holds the flow control importers share: an AIMD window
// of requests in flight that shrinks when a server throttles or slows down
// and grows back when it recovers, server-imposed pauses, and a pacer for
// polite byte and message rates.
package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"
)

// AIMD bounds the requests in flight with a window that grows by one per
// window's worth of successes (additive increase) and halves on throttling
// (multiplicative decrease), the way TCP shares a link. Rising latency
// counts as a soft signal: servers such as Exchange slow their answers
// ("micro-delays") before they refuse, and backing off then avoids the
// refusal and its long penalty.
type AIMD struct {
	mu       sync.Mutex
	cond     chan struct{} // closed and replaced when a slot frees or a pause ends
	window   float64
	min, max float64
	inFlight int
	pause    time.Time // no new request before this

	base     time.Duration // lowest smoothed latency seen: the unloaded server
	smooth   time.Duration // smoothed recent latency
	lastCut  time.Time
	cuts     int // decreases so far, for reports
	failures int // consecutive throttles without a success, for backoff
}

// NewAIMD starts with start requests in flight, kept within [min, max].
func NewAIMD(min, max, start int) *AIMD {
	if min < 1 {
		min = 1
	}
	if max < min {
		max = min
	}
	s := math.Max(float64(min), math.Min(float64(max), float64(start)))
	return &AIMD{cond: make(chan struct{}), window: s, min: float64(min), max: float64(max)}
}

// Acquire waits for a slot in the window and for any pause to end.
func (a *AIMD) Acquire(ctx context.Context) error {
	for {
		a.mu.Lock()
		now := time.Now()
		wait := a.pause.Sub(now)
		if wait <= 0 && a.inFlight < int(a.window) {
			a.inFlight++
			a.mu.Unlock()
			return nil
		}
		ch := a.cond
		a.mu.Unlock()
		var timer <-chan time.Time
		var t *time.Timer
		if wait > 0 {
			t = time.NewTimer(wait)
			timer = t.C
		}
		select {
		case <-ch:
		case <-timer:
		case <-ctx.Done():
		}
		if t != nil {
			t.Stop()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// Outcome is how a request ended.
type Outcome int

const (
	Success   Outcome = iota // the server did the work
	Failed                   // refused for its own reasons (not load)
	Throttled                // refused or cut off because of load
	Lost                     // the connection dropped; nothing is known
)

// Release frees a slot and adjusts the window. latency is the time from
// sending the request to its answer, scaled by the caller to a per-unit
// figure when requests differ much in size.
func (a *AIMD) Release(o Outcome, latency time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inFlight--
	now := time.Now()
	switch o {
	case Success:
		a.failures = 0
		a.observe(latency)
		if a.slow() && now.Sub(a.lastCut) > a.smooth*4 {
			a.cut(now, 0.75)
		} else {
			a.window = math.Min(a.max, a.window+1/a.window)
		}
	case Throttled, Lost:
		a.cut(now, 0.5)
	}
	a.wake()
}

// observe keeps smoothed latencies; the base follows the lowest smoothed
// value but creeps up slowly, so a lasting change of load is accepted.
func (a *AIMD) observe(l time.Duration) {
	if l <= 0 {
		return
	}
	if a.smooth == 0 {
		a.smooth, a.base = l, l
		return
	}
	a.smooth = (a.smooth*7 + l) / 8
	if a.smooth < a.base {
		a.base = a.smooth
	} else {
		a.base += (a.smooth - a.base) / 64
	}
}

// slow reports latency well above the unloaded figure.
func (a *AIMD) slow() bool {
	return a.base > 0 && a.smooth > 3*a.base && a.smooth-a.base > 5*time.Millisecond
}

func (a *AIMD) cut(now time.Time, factor float64) {
	a.window = math.Max(a.min, a.window*factor)
	a.lastCut = now
	a.cuts++
}

// Pause stops new requests for d (a server's "back off for N ms"), or,
// when d is 0, for an exponential backoff that grows with each
// consecutive throttle: 250 ms, 500 ms, ... up to max.
func (a *AIMD) Pause(d, max time.Duration) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if d <= 0 {
		d = 250 * time.Millisecond << min(a.failures, 16)
		if d > max {
			d = max
		}
	}
	a.failures++
	if until := time.Now().Add(d); until.After(a.pause) {
		a.pause = until
	}
	a.wake()
	return d
}

func (a *AIMD) wake() {
	close(a.cond)
	a.cond = make(chan struct{})
}

// Stats is the window's state, for reports and tests.
type Stats struct {
	Window   float64
	InFlight int
	Cuts     int
}

// Stats returns the current state.
func (a *AIMD) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return Stats{Window: a.window, InFlight: a.inFlight, Cuts: a.cuts}
}

// Widen raises the window's ceiling to max when it is lower, opening the
// window by as much: a run joining a window (made small by whoever
// created it, or shared with other runs) adds what its connections can
// carry once it knows them.
func (a *AIMD) Widen(max int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if m := float64(max); m > a.max {
		a.window += m - a.max
		a.max = m
		a.wake()
	}
}
