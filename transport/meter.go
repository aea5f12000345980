package transport

import (
	"context"
	"io"

	"github.com/mailhaul/mailhaul/internal/ratelimit"
)

// meter counts the bytes of one transfer as they pass, holds them to the
// run's byte rate (internal/ratelimit, the one byte-rate limiter), and
// stops the copy when ctx ends (pkg/sftp's copies take no context).
type meter struct {
	ctx     context.Context
	limit   *ratelimit.Pacer // nil: unlimited
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
	return m.limit.Wait(m.ctx, 0, int64(n))
}

// after counts and paces the n bytes a read or write moved, keeping that
// call's own error first.
func (m *meter) after(n int, err error) (int, error) {
	if merr := m.pass(n); merr != nil && err == nil {
		err = merr
	}
	return n, err
}

type meterReader struct {
	r io.Reader
	m *meter
}

func (mr meterReader) Read(p []byte) (int, error) {
	if err := mr.m.ctx.Err(); err != nil {
		return 0, err
	}
	return mr.m.after(mr.r.Read(p))
}

type meterWriter struct {
	w io.Writer
	m *meter
}

func (mw meterWriter) Write(p []byte) (int, error) {
	if err := mw.m.ctx.Err(); err != nil {
		return 0, err
	}
	return mw.m.after(mw.w.Write(p))
}
