package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/mailhaul/mailhaul/report"
)

// One archive over several connections. Over a delayed link one SSH
// channel carries at most its window per round trip (about 25 MB/s at
// 80 ms), so a large archive on one channel sets the run's end. Its bytes
// after the resume boundary are cut into chunks of whole resume segments,
// handed in order to the transfer's own connections and to extra
// streams, each over connections of its own, each writing its chunk into
// the partial file at its offset.
//
// What stays as with one stream: the partial file is made (and cut to its
// last whole segment) by one OpenWrite, whose Close syncs the whole file
// once every chunk is written; the check reads the stored bytes. An
// interrupted run leaves holes where chunks were under way, so the next
// attempt keeps every segment whose SHA-256 matches, wherever it lies,
// and sends the rest: a cut costs at most a segment per stream.

// maxChunk bounds a chunk: each costs a few round trips to open its two
// files, and an interruption resends up to one chunk per stream.
const maxChunk = 64 << 20

// chunkSize cuts n bytes into about one chunk per stream, in whole
// segments of seg, at most maxChunk (but never below one segment).
func chunkSize(n, seg int64, streams int) int64 {
	c := (n + int64(streams) - 1) / int64(streams)
	c = (c + seg - 1) / seg * seg
	return max(seg, min(c, max(seg, maxChunk/seg*seg)))
}

// chunked reports whether an archive of size goes in chunks.
func (w *worker) chunked(size int64) bool {
	return w.opt.Streams > 1 && size >= 2*w.opt.SegmentSize
}

// copyChunks sends the spans todo of src into the partial file, cut to
// cut bytes first, over up to Options.Streams connections at once, and
// returns the partial file's first handle, still open: closing it (a sync
// to disk) is left to the caller, as copyBytes does.
func (w *worker) copyChunks(ctx context.Context, j Job, partial string, cut int64, todo []span, fr *report.TransferFile, t *tally) (Writer, error) {
	wr, err := w.dconn.OpenWrite(ctx, partial, cut)
	if err != nil {
		return nil, err
	}
	var total int64
	for _, s := range todo {
		total += s.to - s.from
	}
	// A failure stops every stream; the end of the chunks stops only the
	// extra streams still waiting for a slot.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	waiting, noMore := context.WithCancel(ctx)
	defer noMore()
	c := &chunks{w: w, j: j, partial: partial, todo: todo,
		chunk: chunkSize(total, w.opt.SegmentSize, w.opt.Streams), t: t}
	var wg sync.WaitGroup
	for range w.opt.Streams - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.fail(c.extraStream(ctx, waiting), cancel)
		}()
	}
	// The transfer's own connections take chunks too, without waiting for
	// a slot: the worker holds one.
	c.fail(c.stream(ctx, w.sconn, w.dconn), cancel)
	noMore()
	wg.Wait()
	fr.Sent += c.sent.Load()
	err = c.err
	if err == nil && c.copied.Load() != total {
		err = fmt.Errorf("transport: %s: copied %d of the %d bytes missing: did it change during the transfer?", j.Src, c.copied.Load(), total)
	}
	if err != nil {
		wr.Abort()
		return nil, err
	}
	return wr, nil
}

// chunks hands out one archive's chunks and gathers what they did.
type chunks struct {
	w       *worker
	j       Job
	partial string
	chunk   int64
	t       *tally

	mu   sync.Mutex
	todo []span // what is left to hand out, in order
	err  error  // the first failure

	sent   atomic.Int64 // bytes that crossed (metered)
	copied atomic.Int64 // bytes the copies reported
}

// take returns the next chunk, or ok false when none is left.
func (c *chunks) take() (from, to int64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.todo) == 0 || c.err != nil {
		return 0, 0, false
	}
	s := &c.todo[0]
	from, to = s.from, min(s.from+c.chunk, s.to)
	if s.from = to; s.from == s.to {
		c.todo = c.todo[1:]
	}
	return from, to, true
}

func (c *chunks) left() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.todo) > 0 && c.err == nil
}

// fail keeps the first real failure and stops the other streams; a
// stream stopped by that gives context.Canceled, which is not the cause.
func (c *chunks) fail(err error, stop func()) {
	if err == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil || (errors.Is(c.err, context.Canceled) && !errors.Is(err, context.Canceled)) {
		c.err = err
	}
	stop()
}

// stream copies chunks over sc and dc until none is left.
func (c *chunks) stream(ctx context.Context, sc, dc Conn) error {
	for {
		from, to, ok := c.take()
		if !ok {
			return nil
		}
		if err := c.copyChunk(ctx, sc, dc, from, to); err != nil {
			return err
		}
	}
}

// extraStream takes chunks while there are any, each once an idle
// transfer's slot is free, over connections of its own that it gives back
// with the slot (the endpoint keeps them open for the next taker).
func (c *chunks) extraStream(ctx, waiting context.Context) error {
	for c.left() {
		if err := c.w.slots.Acquire(waiting, 1); err != nil {
			return nil // no chunk left, or a failure: fail has the cause
		}
		err := c.extraChunk(ctx)
		c.w.slots.Release(1)
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *chunks) extraChunk(ctx context.Context) error {
	from, to, ok := c.take()
	if !ok {
		return nil
	}
	sc, err := c.w.src.Connect(ctx)
	if err != nil {
		return err
	}
	defer sc.Close()
	dc, err := c.w.dst.Connect(ctx)
	if err != nil {
		return err
	}
	defer dc.Close()
	return c.copyChunk(ctx, sc, dc, from, to)
}

// copyChunk copies src[from:to] into the partial file at from.
func (c *chunks) copyChunk(ctx context.Context, sc, dc Conn, from, to int64) error {
	r, err := sc.OpenRead(ctx, c.j.Src, from)
	if err != nil {
		return err
	}
	defer r.Close()
	wr, err := dc.OpenWriteAt(ctx, c.partial, from)
	if err != nil {
		return err
	}
	m := &meter{ctx: ctx, limit: c.w.opt.Limit, onBytes: c.t.add}
	n, err := copyRange(r, wr, m, to-from)
	c.sent.Add(m.n)
	c.copied.Add(n)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	// Not Close: the archive's first handle syncs the whole file at the
	// end, once, rather than each chunk waiting for the disk.
	if aerr := wr.Abort(); err == nil {
		err = aerr
	}
	return err
}

// copyRange copies n bytes from r to wr through m. A Sender pushes until
// its end of file, so its writes are cut at n (pkg/sftp then drops the
// reads it had in flight beyond).
func copyRange(r io.Reader, wr Writer, m *meter, n int64) (int64, error) {
	if s, ok := r.(Sender); ok {
		lw := &limitWriter{w: meterWriter{wr, m}, n: n}
		got, err := s.Send(lw)
		if errors.Is(err, errRangeDone) {
			err = nil
		}
		return min(got, n), err
	}
	return wr.ReadFrom(meterReader{io.LimitReader(r, n), m})
}

// limitWriter passes n bytes and refuses the rest.
type limitWriter struct {
	w io.Writer
	n int64
}

var errRangeDone = errors.New("transport: chunk complete")

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errRangeDone
	}
	k := int(min(int64(len(p)), l.n))
	n, err := l.w.Write(p[:k])
	l.n -= int64(n)
	if err == nil && k < len(p) {
		err = errRangeDone
	}
	return n, err
}
