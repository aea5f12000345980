package format

import (
	"io"
	"sync"
)

// blockWriter cuts its input into blocks of a fixed size, encodes them on
// several goroutines and writes the encoded blocks in input order. Both
// archive codecs use it: two cores compress twice as fast as one, and
// memory stays bounded by the blocks in flight (about 2 × threads ×
// block size) however long the archive.
type blockWriter struct {
	w    io.Writer
	size int
	// encode appends the encoding of in to dst. dict is the end of the
	// previous block (dictSize bytes at most, nil for the first); last is
	// set for the final block, which may be empty.
	encode   func(dst, in, dict []byte, last bool) ([]byte, error)
	dictSize int
	// trailer, when set, is written after the last block.
	trailer func() []byte

	buf    []byte
	dict   []byte // the tail of the block before buf
	queue  chan *block
	done   chan struct{}
	closed bool
	// free holds buffers for reuse. Not a sync.Pool: that one is emptied
	// at every garbage collection, and reallocating (and zeroing) blocks
	// of megabytes then cost the zstd export a tenth of its CPU. Its
	// capacity covers every buffer that can be alive at once.
	free chan []byte

	mu  sync.Mutex
	err error // the first encode or write error
}

type block struct {
	in, dict, out []byte
	last          bool
	err           error
	ready         chan struct{}
}

func newBlockWriter(w io.Writer, size, threads, dictSize int,
	encode func(dst, in, dict []byte, last bool) ([]byte, error), trailer func() []byte) *blockWriter {
	bw := &blockWriter{w: w, size: size, encode: encode, dictSize: dictSize, trailer: trailer,
		queue: make(chan *block, max(threads, 1)), done: make(chan struct{}),
		free: make(chan []byte, 2*(max(threads, 1)+3))}
	bw.buf = bw.newBuf()
	go bw.writeBlocks()
	return bw
}

func (bw *blockWriter) newBuf() []byte {
	select {
	case b := <-bw.free:
		return b[:0]
	default:
		return make([]byte, 0, bw.size)
	}
}

func (bw *blockWriter) putBuf(b []byte) {
	select {
	case bw.free <- b:
	default: // more than ever alive at once: let it go
	}
}

func (bw *blockWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if err := bw.failed(); err != nil {
			return n, err
		}
		take := min(len(p), bw.size-len(bw.buf))
		bw.buf = append(bw.buf, p[:take]...)
		p, n = p[take:], n+take
		if len(bw.buf) == bw.size {
			bw.submit(false)
		}
	}
	return n, nil
}

// submit starts encoding the current buffer. The queue's capacity bounds
// how many blocks wait to be written, which bounds memory.
func (bw *blockWriter) submit(last bool) {
	b := &block{in: bw.buf, dict: bw.dict, last: last, ready: make(chan struct{})}
	if bw.dictSize > 0 {
		tail := bw.buf[max(0, len(bw.buf)-bw.dictSize):]
		bw.dict = append(make([]byte, 0, len(tail)), tail...)
	}
	go func() {
		b.out, b.err = bw.encode(bw.newBuf(), b.in, b.dict, b.last)
		close(b.ready)
	}()
	bw.queue <- b
	bw.buf = bw.newBuf()
}

// writeBlocks writes encoded blocks in the order they were submitted.
func (bw *blockWriter) writeBlocks() {
	defer close(bw.done)
	for b := range bw.queue {
		<-b.ready
		if b.err != nil {
			bw.fail(b.err)
		} else if bw.failed() == nil {
			if _, err := bw.w.Write(b.out); err != nil {
				bw.fail(err)
			}
		}
		bw.putBuf(b.in)
		bw.putBuf(b.out)
	}
	if bw.trailer != nil && bw.failed() == nil {
		if _, err := bw.w.Write(bw.trailer()); err != nil {
			bw.fail(err)
		}
	}
}

func (bw *blockWriter) fail(err error) {
	bw.mu.Lock()
	if bw.err == nil {
		bw.err = err
	}
	bw.mu.Unlock()
}

func (bw *blockWriter) failed() error {
	bw.mu.Lock()
	defer bw.mu.Unlock()
	return bw.err
}

// Close encodes the last block (possibly empty, so that even an empty
// stream is a valid one), waits for every block to be written and returns
// the first error.
func (bw *blockWriter) Close() error {
	if bw.closed {
		return bw.failed()
	}
	bw.closed = true
	bw.submit(true)
	close(bw.queue)
	<-bw.done
	return bw.failed()
}
