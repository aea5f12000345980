package imap

import (
	"context"
	"sync"
)

// batchQueue hands batches to the connections. It ends (pop returns nil)
// once the archives are read and every batch is resolved, which is why
// it counts batches outstanding rather than just closing a channel:
// a refused batch comes back split in single messages.
type batchQueue struct {
	mu          sync.Mutex
	wake        chan struct{}
	items       []*batch
	outstanding int  // batches given to the queue and not yet resolved
	closed      bool // no new batches will come from the archives
	// idle counts the senders waiting in pop: a batch queued beyond them
	// waits for a sender (see backlog). starting counts the senders of
	// lines begun that have not reached their first pop yet (the line
	// waits for its place in the cap): they will take a batch too, so
	// another line does not begin for it.
	idle, starting int
}

func newBatchQueue() *batchQueue { return &batchQueue{wake: make(chan struct{})} }

func (q *batchQueue) signal() {
	close(q.wake)
	q.wake = make(chan struct{})
}

// push adds a new batch.
func (q *batchQueue) push(b *batch) {
	q.mu.Lock()
	q.items = append(q.items, b)
	q.outstanding++
	q.signal()
	q.mu.Unlock()
}

// split puts the parts of a batch at the front, each outstanding; the
// batch they came from is still resolved by its sender.
func (q *batchQueue) split(parts []*batch) {
	q.mu.Lock()
	q.items = append(append([]*batch{}, parts...), q.items...)
	q.outstanding += len(parts)
	q.signal()
	q.mu.Unlock()
}

// resolve marks a batch finished (imported, present or failed).
func (q *batchQueue) resolve() {
	q.mu.Lock()
	q.outstanding--
	q.signal()
	q.mu.Unlock()
}

// close says the archives are read.
func (q *batchQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.signal()
	q.mu.Unlock()
}

// begun gives back n senders backlog counted starting that will not
// pop (their line could not take its place).
func (q *batchQueue) begun(n int) {
	q.mu.Lock()
	q.starting -= n
	q.signal()
	q.mu.Unlock()
}

// first is a starting sender's first pop.
func (q *batchQueue) first(ctx context.Context) *batch {
	q.mu.Lock()
	q.starting--
	q.mu.Unlock()
	return q.pop(ctx)
}

// pop waits for a batch; nil means the work is over (or ctx ended).
func (q *batchQueue) pop(ctx context.Context) *batch {
	for {
		if ctx.Err() != nil {
			// Stopped: what is queued stays for drain to record as not
			// sent; none of it starts now.
			return nil
		}
		q.mu.Lock()
		if len(q.items) > 0 {
			b := q.items[0]
			q.items = q.items[1:]
			q.mu.Unlock()
			return b
		}
		if q.closed && q.outstanding == 0 {
			q.mu.Unlock()
			return nil
		}
		w := q.wake
		q.idle++
		q.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
		}
		q.mu.Lock()
		q.idle--
		q.mu.Unlock()
	}
}

// backlog waits until a batch is queued that no idle or starting sender
// will take, and reports true, counting the line's depth senders as
// starting (each calls first, or the line begun gives them back); false
// once the work is over (or ctx ended) first. Another connection is
// opened only then: a small delta needs one.
func (q *batchQueue) backlog(ctx context.Context, depth int) bool {
	for {
		q.mu.Lock()
		more := len(q.items) > q.idle+q.starting
		over := q.closed && q.outstanding == 0
		w := q.wake
		if more {
			q.starting += depth
		}
		q.mu.Unlock()
		switch {
		case more:
			return true
		case over || ctx.Err() != nil:
			return false
		}
		select {
		case <-w:
		case <-ctx.Done():
		}
	}
}

// wait blocks until the work is over or ctx ends.
func (q *batchQueue) wait(ctx context.Context) {
	for {
		q.mu.Lock()
		over := q.closed && q.outstanding == 0
		w := q.wake
		q.mu.Unlock()
		if over {
			return
		}
		select {
		case <-w:
		case <-ctx.Done():
			return
		}
	}
}

// takeAll empties the queue and returns what it held, for a run that
// stops: the caller resolves each batch.
func (q *batchQueue) takeAll() []*batch {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items
}
