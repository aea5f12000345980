package imapconn

import (
	"fmt"
	"io"

	"github.com/emersion/go-imap/v2"
)

// Literal reads a FETCH literal as go-imap hands it over and remembers
// its first read error. A literal that ends before its announced size is
// an error too: go-imap reports a connection closed inside it as a plain
// end of file, and a truncated message must never be taken for whole.
//
// After any error the connection is lost, and its go-imap client must be
// closed before anything touches that FETCH again (its message's or
// command's Next or Close): go-imap v2 (beta.8) hands the connection back
// to its reader as soon as the literal fails, and those calls read the
// failed literal once more, alongside that reader (a data race).
type Literal struct {
	r         io.Reader
	Want, Got int64 // Want < 0: size unknown
	Err       error
}

// NewLiteral wraps r, taking the size to expect from its Size method
// (go-imap's literals have one).
func NewLiteral(r io.Reader) *Literal {
	l := &Literal{r: r, Want: -1}
	if s, ok := r.(interface{ Size() int64 }); ok {
		l.Want = s.Size()
	}
	return l
}

func (l *Literal) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.Got += int64(n)
	if err == io.EOF && l.Want >= 0 && l.Got != l.Want {
		err = fmt.Errorf("the literal ended after %d of its %d bytes: %w", l.Got, l.Want, io.ErrUnexpectedEOF)
	}
	if err != nil && err != io.EOF && l.Err == nil {
		l.Err = err
	}
	return n, err
}

// CopyLiteral reads a literal to its end into w; an error if it ends
// short (see Literal for what must follow one). A nil literal (NIL) is
// empty.
func CopyLiteral(w io.Writer, lit imap.LiteralReader) error {
	if lit == nil {
		return nil
	}
	buf := make([]byte, min(max(lit.Size(), 1), 32<<10)) // io.Copy's own is 32 KiB whatever the size
	_, err := io.CopyBuffer(w, NewLiteral(lit), buf)
	return err
}
