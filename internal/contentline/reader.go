package contentline

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// BOM is the UTF-8 byte-order mark some writers put before BEGIN.
const BOM = "\xef\xbb\xbf"

// Trim drops a leading byte-order mark and surrounding white space, for
// comparing a line with BEGIN:/END: markers and for spotting blank lines.
func Trim(b []byte) []byte {
	return bytes.TrimSpace(bytes.TrimPrefix(b, []byte(BOM)))
}

// Line is one physical line: bytes [Start, End) of the input, the
// terminator included. Text holds the line without its terminator, cut to
// the reader's keep limit; the bytes past it are counted but not kept, so a
// 1 GB line costs no memory.
type Line struct {
	Start, End int64
	Text       []byte // valid until the next call to Next
	Truncated  bool
	EOL        string // "\r\n", "\n", or "" for a last line without one
	Number     int    // 1-based line number
}

// Reader splits a stream into physical lines at LF, remembering where
// each line starts so later passes can read it again with ReadAt.
type Reader struct {
	br     *bufio.Reader
	keep   int
	off    int64
	number int
	buf    []byte
}

// NewReader reads lines from r, keeping at most keep bytes of each.
func NewReader(r io.Reader, keep int) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 64<<10), keep: keep}
}

// Next returns the next line, or io.EOF after the last one.
func (lr *Reader) Next() (Line, error) {
	l := Line{Start: lr.off}
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
			l.Truncated = true
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
	l.End, l.Number = lr.off, lr.number
	switch {
	case last2[1] != '\n':
	case last2[0] == '\r' && n >= 2:
		l.EOL = "\r\n"
	default:
		l.EOL = "\n"
	}
	l.Text = lr.buf
	if !l.Truncated {
		l.Text = l.Text[:len(l.Text)-len(l.EOL)]
	}
	return l, nil
}

// Logical is a content line with its folded continuation lines (RFC 5545
// §3.1, RFC 6350 §3.2) joined, and the byte range of all of them.
type Logical struct {
	Start, End int64
	Text       []byte // unfolded, cut to the keep limit; valid until the next call
	Truncated  bool
	EOL        string // the first physical line's terminator
	LastEOL    string // the last physical line's terminator ("" at end of input)
	Number     int    // the first physical line's number
}

// Unfolder joins folded lines as it reads them. It reads one physical
// line ahead to see whether the next line continues the current one.
type Unfolder struct {
	lr      *Reader
	keep    int
	ahead   Line
	hasNext bool
	err     error
	text    []byte
}

// NewUnfolder reads logical lines from r, keeping at most keep bytes of
// each.
func NewUnfolder(r io.Reader, keep int) *Unfolder {
	u := &Unfolder{lr: NewReader(r, keep), keep: keep}
	u.advance()
	return u
}

func (u *Unfolder) advance() {
	l, err := u.lr.Next()
	if err != nil {
		u.hasNext, u.err = false, err
		return
	}
	u.ahead, u.hasNext = l, true
}

// Next returns the next logical line, or io.EOF after the last one.
// Blank lines inside a folded line are skipped: some writers put one
// there, and skipping it keeps what follows attached.
func (u *Unfolder) Next() (Logical, error) {
	if !u.hasNext {
		if errors.Is(u.err, io.EOF) {
			return Logical{}, io.EOF
		}
		return Logical{}, u.err
	}
	first := u.ahead
	ll := Logical{Start: first.Start, End: first.End, EOL: first.EOL, LastEOL: first.EOL,
		Number: first.Number, Truncated: first.Truncated}
	u.text = append(u.text[:0], first.Text...)
	u.advance()
	for u.hasNext {
		if len(u.ahead.Text) == 0 && !u.ahead.Truncated {
			u.advance()
			continue
		}
		if !IsContinuation(u.ahead.Text) {
			break
		}
		c := u.ahead
		ll.End, ll.LastEOL = c.End, c.EOL
		ll.Truncated = ll.Truncated || c.Truncated
		if room := u.keep - len(u.text); room > 0 {
			part := c.Text[1:]
			if len(part) > room {
				part, ll.Truncated = part[:room], true
			}
			u.text = append(u.text, part...)
		} else {
			ll.Truncated = true
		}
		u.advance()
	}
	if u.err != nil && !errors.Is(u.err, io.EOF) {
		return Logical{}, u.err
	}
	ll.Text = u.text
	return ll, nil
}

// IsContinuation reports whether a physical line continues the one
// before it: it starts with a space or a tab.
func IsContinuation(text []byte) bool {
	return len(text) > 0 && (text[0] == ' ' || text[0] == '\t')
}
