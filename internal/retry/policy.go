package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy is an exponential backoff: First before the first retry, doubling
// up to Max.
type Policy struct {
	First, Max time.Duration
	// Jitter spreads each pause over [d/2, d], so that parallel workers
	// hit by the same outage do not come back in step.
	Jitter bool
}

// ceiling bounds a pause when the policy sets no Max.
const ceiling = time.Hour

// Delay is the pause before retry number n (1 for the first retry).
func (p Policy) Delay(n int) time.Duration {
	d, max := p.First, p.Max
	if d <= 0 {
		d = time.Second
	}
	if max <= 0 {
		max = ceiling
	}
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	if p.Jitter && d > 1 {
		d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
	}
	return d
}

// Sleep waits d, or until ctx is done, whichever comes first, and returns
// ctx's error in the second case.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
