package maildir

import (
	"bytes"
	"context"
	"io"
	"os"
	"sync"

	"github.com/mailhaul/mailhaul/export/srcfs"
)

// prefixSize is how much of a message is read before it is handed to the
// sink: the header must be in it for the Message-ID to be found. Most
// messages fit whole, so one read serves both the header scan and the body.
const prefixSize = 256 << 10

// bufPool shares prefix buffers between concurrent exports (one per user
// in a migration), so memory stays at one buffer per running export.
var bufPool = sync.Pool{New: func() any { b := make([]byte, prefixSize); return &b }}

// openFile opens a message file in its cur/ or new/. Tests replace it to
// count opens, or to act between the listing and the open.
var openFile = (*srcfs.Dir).OpenFile

// readDir lists a message directory (cur/ or new/); tests replace it to
// act as a listing made during renames does.
var readDir = (*srcfs.Dir).ReadDir

// body streams one message file to the sink: first the prefix already read
// into buf, then the rest of the file. It is reused for every message of an
// export, so it costs no allocation per message.
type body struct {
	ctx     context.Context
	buf     []byte
	n, off  int      // buf[:n] holds the prefix; buf[off:n] is still unread
	f       *os.File // the rest; nil once the file is known to be at EOF
	readErr error    // the file's read error, to tell it from the sink's
	sent    int64    // bytes handed to the sink for this message
}

// start reads the prefix of f: until the header is complete, the buffer is
// full or the file ends. It returns the number of bytes read.
func (b *body) start(f *os.File) (int, error) {
	b.n, b.off, b.f, b.readErr, b.sent = 0, 0, f, nil, 0
	for b.n < len(b.buf) {
		m, err := f.Read(b.buf[b.n:])
		b.n += m
		if err == io.EOF {
			b.f = nil
			break
		}
		if err != nil {
			return b.n, err
		}
		if m == 0 || headerComplete(b.buf[:b.n]) {
			break
		}
	}
	return b.n, nil
}

// prefix is what start read.
func (b *body) prefix() []byte { return b.buf[:b.n] }

// headerComplete reports whether msg holds the blank line ending a header.
func headerComplete(msg []byte) bool {
	return bytes.HasPrefix(msg, []byte("\n")) || bytes.HasPrefix(msg, []byte("\r\n")) ||
		bytes.Contains(msg, []byte("\n\n")) || bytes.Contains(msg, []byte("\n\r\n"))
}

func (b *body) Read(p []byte) (int, error) {
	if b.off < b.n {
		m := copy(p, b.buf[b.off:b.n])
		b.off += m
		b.sent += int64(m)
		return m, nil
	}
	if b.f == nil {
		return 0, io.EOF
	}
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	m, err := b.f.Read(p)
	b.sent += int64(m)
	if err != nil && err != io.EOF {
		b.readErr = err
	}
	return m, err
}

// WriteTo lets io.Copy stream through the prefix buffer, which is free
// once the prefix is written, instead of allocating a buffer per message.
func (b *body) WriteTo(w io.Writer) (int64, error) {
	start := b.sent
	if b.off < b.n {
		m, err := w.Write(b.buf[b.off:b.n])
		b.off += m
		b.sent += int64(m)
		if err != nil {
			return b.sent - start, err
		}
	}
	for b.f != nil {
		if err := b.ctx.Err(); err != nil {
			return b.sent - start, err
		}
		m, err := b.f.Read(b.buf)
		if m > 0 {
			// The prefix is consumed: mark it so, as buf now holds file data.
			b.n, b.off = 0, 0
			if _, werr := w.Write(b.buf[:m]); werr != nil {
				b.sent += int64(m)
				return b.sent - start, werr
			}
			b.sent += int64(m)
		}
		if err == io.EOF {
			b.f = nil
			break
		}
		if err != nil {
			b.readErr = err
			return b.sent - start, err
		}
	}
	return b.sent - start, nil
}
