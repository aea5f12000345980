package mbox

import (
	"bytes"
	"errors"
	"io"
	"math"
)

const (
	// bufferSize is the Reader's read buffer. Large reads keep splitting
	// fast; it is also how far ahead a Content-Length can be checked
	// without io.ReaderAt.
	bufferSize = 1 << 20
	// MaxHeader bounds Message.Header. A longer header is cut there and
	// the rest of it streams with the body.
	MaxHeader = 256 << 10
	// sepWindow is how far ahead a separator check looks: the "From "
	// line and the line after it.
	sepWindow = 4 << 10
	// maxFromLine bounds Message.FromLine.
	maxFromLine = 1000
)

// ErrNotMbox is returned by Next when the input does not start with a
// "From " line (a UTF-8 byte order mark before it is allowed).
var ErrNotMbox = errors.New(`mbox: input does not start with a "From " line`)

var bom = []byte("\xef\xbb\xbf")

// Message is one message of an mbox. Header and Body are valid until the
// next call to Next.
type Message struct {
	// FromLine is the separator line without its line ending, for example
	// "From a@example.com Wed Nov 28 12:00:00 2026" (at most 1000 bytes).
	FromLine string
	// Offset is the input offset of the From line.
	Offset int64
	// Header is the start of the message, unquoted: its header fields and
	// the blank line ending them, at most MaxHeader bytes. It is empty
	// only for an empty message.
	Header []byte
	// Body streams the rest of the message, unquoted. Header followed by
	// Body is the message exactly as it was before it went into the mbox.
	Body io.Reader
}

// Reader splits an mbox into messages, streaming: memory stays bounded
// whatever the size of the input or of one message.
//
// Messages end at the next separator line (see isSeparator) or, in the
// Content-Length dialects, after the header's Content-Length when that
// lands exactly on a separator or the end of input. The blank line a
// writer puts before each separator belongs to the mbox and is dropped.
// When the input is also an io.ReaderAt and io.Seeker (an *os.File), a
// Content-Length reaching beyond the read buffer is checked with ReadAt;
// otherwise such a message is split on From lines.
type Reader struct {
	lr      lineReader
	dialect Dialect
	stats   *scanStats // non-nil while detecting the dialect
	at      io.ReaderAt
	base    int64 // offset of the input's start in at

	started   bool
	gen       int    // counts messages, so a stale Body reads nothing
	err       error  // sticky: returned by Next once the input is unusable
	hdr       []byte // reused Header buffer
	win       []byte // scratch for ReadAt
	lineStart bool   // the next byte starts a line
	inHeader  bool   // readHeader is running
	done      bool   // the current message has ended
	inCL      bool   // the current body is being read by Content-Length
	remaining int64  // body bytes left when inCL
	pending   []byte // bytes of the current line not yet handed to Body.Read
}

// NewReader returns a Reader that unquotes messages as dialect d wants.
// Use DetectDialect first when the dialect is not known.
func NewReader(r io.Reader, d Dialect) *Reader {
	return newReaderSize(r, d, bufferSize)
}

func newReaderSize(r io.Reader, d Dialect, size int) *Reader {
	rd := &Reader{dialect: d}
	rd.lr.init(r, size)
	if ra, ok := r.(interface {
		io.ReaderAt
		io.Seeker
	}); ok {
		if pos, err := ra.Seek(0, io.SeekCurrent); err == nil {
			rd.at, rd.base = ra, pos
		}
	}
	return rd
}

// Next returns the next message, or io.EOF after the last one. Whatever
// the previous message's Body did not read is skipped.
func (r *Reader) Next() (*Message, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.started {
		for {
			if _, ok := r.nextLine(); !ok {
				break
			}
		}
	} else if err := r.start(); err != nil {
		r.err = err
		return nil, err
	}
	r.pending = nil
	if len(r.lr.peek(1)) == 0 {
		r.err = io.EOF
		if err := r.lr.readErr(); err != nil {
			r.err = err
		}
		return nil, r.err
	}
	r.gen++
	m := &Message{Offset: r.lr.off, Body: bodyReader{r, r.gen}}
	m.FromLine = string(trimEOL(r.readFromLine()))
	r.readHeader()
	m.Header = r.hdr
	if r.stats != nil {
		r.stats.messages++
	}
	return m, nil
}

// start checks the input opens with a From line, skipping a byte order mark.
func (r *Reader) start() error {
	r.started = true
	if bytes.Equal(r.lr.peek(len(bom)), bom) {
		r.lr.discard(len(bom))
	}
	p := r.lr.peek(len(fromPrefix))
	if len(p) == 0 {
		if err := r.lr.readErr(); err != nil {
			return err
		}
		return io.EOF
	}
	if !bytes.Equal(p, fromPrefix) {
		return ErrNotMbox
	}
	return nil
}

// readFromLine consumes the separator line and returns its start.
func (r *Reader) readFromLine() []byte {
	line := r.lr.line(math.MaxInt)
	first := append([]byte(nil), line[:min(len(line), maxFromLine)]...)
	for len(line) > 0 && line[len(line)-1] != '\n' {
		line = r.lr.line(math.MaxInt)
	}
	return first
}

// readHeader collects the header into r.hdr, up to MaxHeader bytes. The
// blank line ending it decides whether the body is read by Content-Length
// (see nextLine).
func (r *Reader) readHeader() {
	r.hdr, r.lineStart, r.done, r.inCL = r.hdr[:0], true, false, false
	r.inHeader = true
	defer func() { r.inHeader = false }()
	for {
		wasStart := r.lineStart
		line, ok := r.nextLine()
		if !ok {
			return
		}
		if room := MaxHeader - len(r.hdr); len(line) > room {
			r.hdr = append(r.hdr, line[:room]...)
			r.pending = line[room:]
			return
		}
		r.hdr = append(r.hdr, line...)
		if wasStart && isBlank(line) {
			return
		}
	}
}

// nextLine returns the current message's next line, unquoted, or false at
// its end. A line longer than the buffer comes in pieces.
func (r *Reader) nextLine() ([]byte, bool) {
	if r.done {
		return nil, false
	}
	if r.inCL {
		return r.nextBodyLine()
	}
	if r.lineStart && r.atBoundary() {
		r.done = true
		return nil, false
	}
	line := r.lr.line(math.MaxInt)
	if len(line) == 0 {
		r.done = true
		return nil, false
	}
	wasStart := r.lineStart
	r.lineStart = line[len(line)-1] == '\n'
	if !wasStart {
		return line, true
	}
	if isBlank(line) {
		// line is overwritten by the peeks below; return a copy.
		blank := []byte("\n")
		if len(line) == 2 {
			blank = []byte("\r\n")
		}
		// A trustworthy Content-Length wins over what follows: an mboxcl2
		// body may well start with a From line.
		if r.inHeader && (r.dialect.contentLength() || r.stats != nil) {
			if n, ok := contentLength(r.hdr); ok && r.landsOnSeparator(n) {
				r.inCL, r.remaining = true, n
				return blank, true
			}
		}
		// The blank line before a separator is the mbox's, not the message's.
		if r.atBoundary() {
			r.done = true
			return nil, false
		}
		return blank, true
	}
	return r.unquote(line), true
}

// nextBodyLine returns the next line of a body whose length the
// Content-Length header gave.
func (r *Reader) nextBodyLine() ([]byte, bool) {
	if r.remaining == 0 {
		r.done, r.lineStart = true, true
		// The line ending after the body belongs to the mbox.
		if p := r.lr.peek(2); len(p) > 0 && p[0] == '\n' {
			r.lr.discard(1)
		} else if bytes.Equal(p, []byte("\r\n")) {
			r.lr.discard(2)
		}
		return nil, false
	}
	line := r.lr.line(int(min(r.remaining, math.MaxInt)))
	if len(line) == 0 { // the input shrank since the length was checked
		r.done = true
		return nil, false
	}
	r.remaining -= int64(len(line))
	wasStart := r.lineStart
	r.lineStart = line[len(line)-1] == '\n'
	if !wasStart {
		return line, true
	}
	if r.stats != nil && bytes.HasPrefix(line, fromPrefix) {
		r.stats.bareFromInCL = true
	}
	return r.unquote(line), true
}

// unquote undoes the dialect's From quoting on a line that starts a line,
// and notes quoted lines while detecting.
func (r *Reader) unquote(line []byte) []byte {
	if line[0] != '>' {
		return line
	}
	depth := quoteDepth(line)
	if r.stats != nil {
		if depth > 1 {
			r.stats.deepQuote = true
		}
		return line
	}
	switch {
	case depth == 1 && (r.dialect == Mboxo || r.dialect == Mboxcl),
		depth >= 1 && r.dialect == Mboxrd:
		return line[1:]
	}
	return line
}

// atBoundary reports, at the start of a line, whether the input ends or a
// separator line begins here.
func (r *Reader) atBoundary() bool {
	p := r.lr.peek(len(fromPrefix))
	if len(p) == 0 {
		return true
	}
	if !bytes.Equal(p, fromPrefix) {
		return false
	}
	line, rest := cutLine(r.lr.peek(sepWindow))
	next, _ := cutLine(rest)
	return isSeparator(line, next)
}

// bodyReader is Message.Body.
type bodyReader struct {
	r   *Reader
	gen int
}

func (b bodyReader) Read(p []byte) (int, error) {
	r := b.r
	if b.gen != r.gen {
		return 0, io.EOF // Next has moved on
	}
	n := 0
	for n < len(p) {
		if len(r.pending) > 0 {
			c := copy(p[n:], r.pending)
			r.pending = r.pending[c:]
			n += c
			continue
		}
		line, ok := r.nextLine()
		if !ok {
			break
		}
		r.pending = line
	}
	if n > 0 {
		return n, nil
	}
	// A read error cuts the message short only if it ended for want of
	// input; one that ended at a separator is whole, whatever comes after.
	if len(r.lr.peek(1)) == 0 {
		if err := r.lr.readErr(); err != nil {
			return 0, err
		}
	}
	return 0, io.EOF
}

// StartsMbox reports whether head, a file's first bytes, starts an mbox: a
// "From " line, perhaps after a UTF-8 byte order mark.
func StartsMbox(head []byte) bool {
	return bytes.HasPrefix(bytes.TrimPrefix(head, bom), fromPrefix)
}
