package ratelimit

import (
	"context"

	"golang.org/x/time/rate"
)

// Pacer holds a client to at most so many bytes and messages per second.
// Zero limits mean unlimited.
type Pacer struct {
	bytes, msgs *rate.Limiter
}

// NewPacer makes a pacer. Bursts are one second's worth, so a large
// message waits for its bytes rather than being refused.
func NewPacer(bytesPerSecond, messagesPerSecond float64) *Pacer {
	p := &Pacer{}
	if bytesPerSecond > 0 {
		p.bytes = rate.NewLimiter(rate.Limit(bytesPerSecond), max(1, int(bytesPerSecond)))
	}
	if messagesPerSecond > 0 {
		p.msgs = rate.NewLimiter(rate.Limit(messagesPerSecond), max(1, int(messagesPerSecond)))
	}
	return p
}

// Wait waits until msgs messages of n bytes in all may be sent.
func (p *Pacer) Wait(ctx context.Context, msgs int, n int64) error {
	if p == nil {
		return nil
	}
	if p.msgs != nil {
		if err := WaitN(ctx, p.msgs, int64(msgs)); err != nil {
			return err
		}
	}
	if p.bytes != nil {
		return WaitN(ctx, p.bytes, n)
	}
	return nil
}

// WaitN waits for n tokens of l in pieces no larger than its burst. It
// fails only when ctx ends, with ctx's error: every wait on a
// rate.Limiter in the project goes through it.
func WaitN(ctx context.Context, l *rate.Limiter, n int64) error {
	for n > 0 {
		k := min(n, int64(l.Burst()))
		if err := l.WaitN(ctx, int(k)); err != nil {
			if _, ok := ctx.Deadline(); ok && ctx.Err() == nil {
				// rate.Limiter refuses at once a wait that would pass
				// the deadline. The run ends at the deadline all the
				// same, so end with it: a caller that stops on ctx.Err
				// then sees a stopped run, not a failure of its own.
				<-ctx.Done()
				return ctx.Err()
			}
			return err
		}
		n -= k
	}
	return nil
}
