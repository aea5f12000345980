// Package ctxio makes reads stop when a context ends, so that a long copy
// (one huge message, an archive scan, a checksum over a transfer) cannot
// hold up cancellation.
package ctxio

import (
	"context"
	"io"
)

// NewReader returns a reader that reads from r until ctx is done, and
// from then on fails with ctx's error.
func NewReader(ctx context.Context, r io.Reader) io.Reader { return reader{ctx, r} }

type reader struct {
	ctx context.Context
	r   io.Reader
}

func (c reader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
