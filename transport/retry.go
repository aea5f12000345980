package transport

import (
	"context"
	"time"
)

// Backoff is the pause before each retry: First, doubling up to Max.
type Backoff struct {
	First, Max time.Duration
}

// Delay returns the pause before retry number n (1 for the first retry).
func (b Backoff) Delay(n int) time.Duration {
	d := b.First
	if d <= 0 {
		d = time.Second
	}
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	if b.Max > 0 && d > b.Max {
		d = b.Max
	}
	return d
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
