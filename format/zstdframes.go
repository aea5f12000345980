package format

import (
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// frameWriter compresses its input as a sequence of independent zstd
// frames of frameSize bytes, encoded on several goroutines and written in
// order. Concatenated frames are one valid zstd stream to every decoder.
//
// It exists because the zstd package's own concurrent-block mode held
// hundreds of megabytes on mailbox-sized streams, and its plain streaming
// mode keeps only one core busy. Here memory is bounded by the frames in
// flight: about 2 × threads × frameSize.
type frameWriter struct {
	w      io.Writer
	enc    *zstd.Encoder
	size   int
	buf    []byte
	queue  chan *frame
	done   chan struct{}
	frames int // submitted so far
	bufs   sync.Pool

	mu  sync.Mutex
	err error // the first write error
}

type frame struct {
	in, out []byte
	ready   chan struct{}
}

// zstdFrameSize trades ratio (matches cannot cross frames) for memory and
// parallelism; at 4 MiB the loss against one stream is a fraction of a
// percent on mail.
const zstdFrameSize = 4 << 20

func newFrameWriter(w io.Writer, level zstd.EncoderLevel, threads, frameSize int) (*frameWriter, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(threads),
		zstd.WithWindowSize(max(frameSize, zstd.MinWindowSize)), zstd.WithZeroFrames(true))
	if err != nil {
		return nil, err
	}
	fw := &frameWriter{w: w, enc: enc, size: frameSize,
		queue: make(chan *frame, threads), done: make(chan struct{})}
	fw.buf = fw.newBuf()
	go fw.writeFrames()
	return fw, nil
}

func (fw *frameWriter) newBuf() []byte {
	if b, ok := fw.bufs.Get().([]byte); ok {
		return b[:0]
	}
	return make([]byte, 0, fw.size)
}

func (fw *frameWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if err := fw.failed(); err != nil {
			return n, err
		}
		take := min(len(p), fw.size-len(fw.buf))
		fw.buf = append(fw.buf, p[:take]...)
		p, n = p[take:], n+take
		if len(fw.buf) == fw.size {
			fw.submit()
		}
	}
	return n, nil
}

// submit starts encoding the current buffer. The queue's capacity bounds
// how many frames wait to be written, which bounds memory.
func (fw *frameWriter) submit() {
	f := &frame{in: fw.buf, ready: make(chan struct{})}
	go func() {
		f.out = fw.enc.EncodeAll(f.in, fw.newBuf())
		close(f.ready)
	}()
	fw.queue <- f
	fw.frames++
	fw.buf = fw.newBuf()
}

// writeFrames writes encoded frames in the order they were submitted.
func (fw *frameWriter) writeFrames() {
	defer close(fw.done)
	for f := range fw.queue {
		<-f.ready
		if fw.failed() == nil {
			if _, err := fw.w.Write(f.out); err != nil {
				fw.fail(err)
			}
		}
		fw.bufs.Put(f.in)
		fw.bufs.Put(f.out)
	}
}

func (fw *frameWriter) fail(err error) {
	fw.mu.Lock()
	if fw.err == nil {
		fw.err = err
	}
	fw.mu.Unlock()
}

func (fw *frameWriter) failed() error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return fw.err
}

// Close encodes what is buffered, waits for every frame to be written and
// returns the first error.
func (fw *frameWriter) Close() error {
	if len(fw.buf) > 0 || fw.frames == 0 {
		fw.submit() // an empty stream is still one (empty) frame
	}
	close(fw.queue)
	<-fw.done
	fw.enc.Close()
	return fw.failed()
}
