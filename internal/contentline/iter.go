package contentline

import (
	"context"
	"errors"
	"io"
	"iter"
)

// Lines yields the physical lines of r, keeping at most keep bytes of
// each, and ends at the end of r. A read error, or ctx's error, is
// yielded once, last. ctx is checked every 1024 lines: often enough to
// stop soon in a large file, rarely enough to cost nothing.
func Lines(ctx context.Context, r io.Reader, keep int) iter.Seq2[Line, error] {
	lr := NewReader(r, keep)
	return each(ctx, lr.Next, func(l Line) int { return l.Number })
}

// LogicalLines is Lines for unfolded lines (see Unfolder).
func LogicalLines(ctx context.Context, r io.Reader, keep int) iter.Seq2[Logical, error] {
	u := NewUnfolder(r, keep)
	return each(ctx, u.Next, func(l Logical) int { return l.Number })
}

func each[L any](ctx context.Context, next func() (L, error), number func(L) int) iter.Seq2[L, error] {
	return func(yield func(L, error) bool) {
		for {
			l, err := next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err == nil && number(l)%1024 == 0 {
				err = ctx.Err()
			}
			if err != nil {
				var zero L
				yield(zero, err)
				return
			}
			if !yield(l, nil) {
				return
			}
		}
	}
}
