package imap

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBacklogBeginsOneLine: lines waiting to begin (backlog) while one
// batch is queued and no sender idle: one line begins for it, not every
// line at once (each would take its place in the connection cap that
// runs share, for a delta one connection serves).
func TestBacklogBeginsOneLine(t *testing.T) {
	q := newBatchQueue()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const lines, depth = 4, 2
	var begun atomic.Int32
	var waiting atomic.Int32
	var wg sync.WaitGroup
	for range lines {
		wg.Go(func() {
			waiting.Add(1)
			if !q.backlog(ctx, depth) {
				return
			}
			begun.Add(1)
			// A line slow to reach its first pop (dialling): the others
			// must not begin meanwhile for the same batch.
			time.Sleep(200 * time.Millisecond)
			var senders sync.WaitGroup
			for range depth {
				senders.Go(func() {
					for b := q.first(ctx); b != nil; b = q.pop(ctx) {
						q.resolve()
					}
				})
			}
			senders.Wait()
		})
	}
	for waiting.Load() < lines {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // all in backlog's wait
	q.push(&batch{})
	time.Sleep(400 * time.Millisecond)
	q.close()
	wg.Wait()
	if n := begun.Load(); n != 1 {
		t.Fatalf("%d lines began for one batch, want 1", n)
	}
}
