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
