package mbox

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"time"
)

// Writer writes messages as mboxrd: a From line, the message with every
// line matching ">*From " given one more '>', and a blank line. Any mbox
// reader gives the message back byte for byte, provided it ends with a
// line ending (see WriteMessage).
type Writer struct {
	w  io.Writer
	br *bufio.Reader // reused across messages
}

// NewWriter returns a Writer appending to w. Wrap w in a bufio.Writer when
// it is a file.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// FromLine is the separator line for a message received at t, without its
// line ending: "From MAILER-DAEMON Wed Nov 28 12:00:00 2026", in UTC, as
// Dovecot writes it. A zero t gives a From line with no date, which
// readers take as "received time unknown" as it was.
func FromLine(t time.Time) string {
	if t.IsZero() {
		return "From MAILER-DAEMON"
	}
	return "From MAILER-DAEMON " + t.UTC().Format(time.ANSIC)
}

// WriteMessage writes one message after the separator line from (see
// FromLine), streaming, and returns the bytes written. mbox cannot hold a
// message whose last line has no line ending: one is added, and
// addedEOL says so, for the caller to report.
func (w *Writer) WriteMessage(from string, msg io.Reader) (n int64, addedEOL bool, err error) {
	if w.br == nil {
		w.br = bufio.NewReaderSize(msg, 64<<10)
	} else {
		w.br.Reset(msg)
	}
	cw := &countWriter{w: w.w}
	io.WriteString(cw, strings.TrimRight(from, "\r\n")+"\n")
	lineStart, last := true, byte('\n')
	for cw.err == nil {
		if lineStart {
			if err := w.quote(cw); err != nil {
				return cw.n, false, err
			}
		}
		chunk, err := w.br.ReadSlice('\n')
		if len(chunk) > 0 {
			cw.Write(chunk)
			last = chunk[len(chunk)-1]
		}
		lineStart = err == nil
		if err == io.EOF {
			break
		}
		if err != nil && err != bufio.ErrBufferFull {
			return cw.n, false, err
		}
	}
	if last != '\n' {
		cw.Write([]byte{'\n'})
		addedEOL = true
	}
	cw.Write([]byte{'\n'}) // the blank line before the next From line: the mbox's
	return cw.n, addedEOL, cw.err
}

// quote writes, at the start of a line, the line's leading '>'s with one
// more when ">*From " follows. It reads the '>'s one by one, so a line of
// any length is quoted right.
func (w *Writer) quote(cw *countWriter) error {
	depth := 0
	for {
		b, err := w.br.ReadByte()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if b != '>' {
			w.br.UnreadByte()
			break
		}
		depth++
	}
	if p, _ := w.br.Peek(len(fromPrefix)); bytes.Equal(p, fromPrefix) {
		depth++
	}
	for ; depth > 0; depth-- {
		cw.Write([]byte{'>'})
	}
	return nil
}

// countWriter counts bytes and keeps the first error.
type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}
