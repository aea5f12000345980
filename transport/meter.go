package transport

import (
	"context"
	"io"

	"golang.org/x/time/rate"
)

// meter counts the bytes of one transfer as they pass, applies the shared
// bandwidth limit, and stops the copy when ctx ends (pkg/sftp's copies take
// no context).
type meter struct {
	ctx     context.Context
	limit   *rate.Limiter // nil: unlimited
	n       int64
	onBytes func(int64)
}

func (m *meter) pass(n int) error {
	if n <= 0 {
		return nil
	}
	m.n += int64(n)
	if m.onBytes != nil {
		m.onBytes(int64(n))
	}
	if m.limit == nil {
		return nil
	}
	// WaitN refuses more than the burst at once.
	for n > 0 {
		k := min(n, m.limit.Burst())
		if err := m.limit.WaitN(m.ctx, k); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

type meterReader struct {
	r io.Reader
	m *meter
}

func (mr meterReader) Read(p []byte) (int, error) {
	if err := mr.m.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := mr.r.Read(p)
	if merr := mr.m.pass(n); merr != nil && err == nil {
		err = merr
	}
	return n, err
}

type meterWriter struct {
	w io.Writer
	m *meter
}

func (mw meterWriter) Write(p []byte) (int, error) {
	if err := mw.m.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := mw.w.Write(p)
	if merr := mw.m.pass(n); merr != nil && err == nil {
		err = merr
	}
	return n, err
}

// NewLimiter returns a limiter for bytesPerSecond shared by all transfers
// of a run, or nil for no limit.
func NewLimiter(bytesPerSecond int64) *rate.Limiter {
	if bytesPerSecond <= 0 {
		return nil
	}
	burst := int(min(bytesPerSecond, 1<<20))
	return rate.NewLimiter(rate.Limit(bytesPerSecond), max(burst, 64<<10))
}
