package pim

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
)

// cancelledAt returns ctx's error at every 1024th line: often enough to
// stop soon in a large file, rarely enough to cost nothing.
func cancelledAt(ctx context.Context, line int) error {
	if line%1024 != 0 {
		return nil
	}
	return ctx.Err()
}

// rawLine is one physical line: bytes [start, end) of the input, the
// terminator included. text holds the line without its terminator, cut to
// the reader's keep limit; the bytes past it are counted but not kept, so a
// 1 GB line costs no memory.
type rawLine struct {
	start, end int64
	text       []byte // valid until the next call to next
	truncated  bool
	eol        string // "\r\n", "\n", or "" for a last line without one
	number     int    // 1-based line number
}

// lineReader splits a stream into physical lines at LF, remembering where
// each line starts so later passes can read it again with ReadAt.
type lineReader struct {
	br     *bufio.Reader
	keep   int
	off    int64
	number int
	buf    []byte
}

func newLineReader(r io.Reader, keep int) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10), keep: keep}
}

// next returns the next line, or io.EOF after the last one.
func (lr *lineReader) next() (rawLine, error) {
	l := rawLine{start: lr.off}
	lr.buf = lr.buf[:0]
	var n int64
	var last2 [2]byte // the final two bytes read, to tell CRLF from LF
	for {
		chunk, err := lr.br.ReadSlice('\n')
		n += int64(len(chunk))
		if room := lr.keep - len(lr.buf); room > 0 {
			lr.buf = append(lr.buf, chunk[:min(room, len(chunk))]...)
		}
		if len(lr.buf) < int(n) {
			l.truncated = true
		}
		switch len(chunk) {
		case 0:
		case 1:
			last2 = [2]byte{last2[1], chunk[0]}
		default:
			last2 = [2]byte{chunk[len(chunk)-2], chunk[len(chunk)-1]}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return l, err
		}
		if n == 0 {
			return l, io.EOF
		}
		break
	}
	lr.off += n
	lr.number++
	l.end, l.number = lr.off, lr.number
	switch {
	case last2[1] != '\n':
	case last2[0] == '\r' && n >= 2:
		l.eol = "\r\n"
	default:
		l.eol = "\n"
	}
	l.text = lr.buf
	if !l.truncated {
		l.text = l.text[:len(l.text)-len(l.eol)]
	}
	return l, nil
}

// logicalLine is a content line with its folded continuation lines
// (RFC 5545 §3.1, RFC 6350 §3.2) joined, and the byte range of all of them.
type logicalLine struct {
	start, end int64
	text       []byte // unfolded, cut to the keep limit; valid until the next call
	truncated  bool
	eol        string // the first physical line's terminator
	lastEOL    string // the last physical line's terminator ("" at end of input)
	number     int
}

// unfolder joins folded lines. It reads one physical line ahead to see
// whether the next line continues the current one.
type unfolder struct {
	lr      *lineReader
	keep    int
	ahead   rawLine
	hasNext bool
	err     error
	text    []byte
}

func newUnfolder(r io.Reader, keep int) *unfolder {
	u := &unfolder{lr: newLineReader(r, keep), keep: keep}
	u.advance()
	return u
}

func (u *unfolder) advance() {
	l, err := u.lr.next()
	if err != nil {
		u.hasNext, u.err = false, err
		return
	}
	u.ahead, u.hasNext = l, true
}

func (u *unfolder) next() (logicalLine, error) {
	if !u.hasNext {
		if errors.Is(u.err, io.EOF) {
			return logicalLine{}, io.EOF
		}
		return logicalLine{}, u.err
	}
	first := u.ahead
	ll := logicalLine{start: first.start, end: first.end, eol: first.eol, lastEOL: first.eol,
		number: first.number, truncated: first.truncated}
	u.text = append(u.text[:0], first.text...)
	u.advance()
	for u.hasNext {
		if len(u.ahead.text) == 0 && !u.ahead.truncated {
			// A blank line is not content. Some writers put one inside a
			// folded line; skipping it keeps what follows attached.
			u.advance()
			continue
		}
		if !isContinuation(u.ahead.text) {
			break
		}
		c := u.ahead
		ll.end, ll.lastEOL = c.end, c.eol
		ll.truncated = ll.truncated || c.truncated
		if room := u.keep - len(u.text); room > 0 {
			part := c.text[1:]
			if len(part) > room {
				part, ll.truncated = part[:room], true
			}
			u.text = append(u.text, part...)
		} else {
			ll.truncated = true
		}
		u.advance()
	}
	if u.err != nil && !errors.Is(u.err, io.EOF) {
		return logicalLine{}, u.err
	}
	ll.text = u.text
	return ll, nil
}

func isContinuation(text []byte) bool {
	return len(text) > 0 && (text[0] == ' ' || text[0] == '\t')
}

var utf8BOM = []byte("\xef\xbb\xbf")

// trimLine drops a byte-order mark and surrounding white space, for
// comparing a line with BEGIN:/END: markers and for spotting blank lines.
func trimLine(b []byte) []byte {
	return bytes.TrimSpace(bytes.TrimPrefix(b, utf8BOM))
}
