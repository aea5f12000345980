package mbox

import (
	"bytes"
	"io"
)

// lineReader is a buffered reader that hands out lines as slices of its
// own buffer, so splitting allocates nothing per line. Unlike bufio it can
// cut a line at a byte limit (Content-Length bodies end where the header
// says, not at a newline) and it tracks the input offset.
type lineReader struct {
	src  io.Reader
	buf  []byte
	r, w int   // unread data is buf[r:w]
	err  error // sticky error from src, io.EOF at the end
	off  int64 // input offset of buf[r]
}

func (b *lineReader) init(src io.Reader, size int) {
	b.src, b.buf = src, make([]byte, size)
}

// fill moves unread data to the front of buf and reads once more.
func (b *lineReader) fill() {
	if b.r > 0 {
		copy(b.buf, b.buf[b.r:b.w])
		b.w -= b.r
		b.r = 0
	}
	// A reader that keeps returning 0, nil must not spin us forever.
	for tries := 0; b.w < len(b.buf) && b.err == nil; tries++ {
		n, err := b.src.Read(b.buf[b.w:])
		b.w += n
		if err != nil {
			b.err = err
		} else if n > 0 {
			return
		} else if tries == 100 {
			b.err = io.ErrNoProgress
		}
	}
}

// peek returns up to n unread bytes without consuming them. It returns
// fewer only at the end of the input or when n exceeds the buffer.
func (b *lineReader) peek(n int) []byte {
	n = min(n, len(b.buf))
	for b.w-b.r < n && b.err == nil {
		b.fill()
	}
	return b.buf[b.r:min(b.w, b.r+n)]
}

// line consumes and returns the next line with its "\n", cut short at max
// bytes or at the buffer size. The slice is valid until the next call on b.
// It is empty only at the end of the input (or on a read error).
func (b *lineReader) line(max int) []byte {
	scanned := 0 // bytes of buf[r:] known to hold no '\n'
	for {
		lim := min(b.w-b.r, max)
		if i := bytes.IndexByte(b.buf[b.r+scanned:b.r+lim], '\n'); i >= 0 {
			return b.take(scanned + i + 1)
		}
		if lim == max || lim == len(b.buf) || b.err != nil {
			return b.take(lim)
		}
		scanned = lim
		b.fill()
	}
}

// discard consumes n bytes that peek has shown to be there.
func (b *lineReader) discard(n int) { b.take(n) }

func (b *lineReader) take(n int) []byte {
	p := b.buf[b.r : b.r+n]
	b.r += n
	b.off += int64(n)
	return p
}

// readErr is the input's read error, nil at a clean end of input.
func (b *lineReader) readErr() error {
	if b.err == io.EOF {
		return nil
	}
	return b.err
}
