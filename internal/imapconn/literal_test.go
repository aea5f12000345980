package imapconn

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// sized is a literal as go-imap hands it over: a reader with the size the
// server announced.
type sized struct {
	io.Reader
	size int64
}

func (s sized) Size() int64 { return s.size }

// A literal that ends before its announced size (go-imap says a plain end
// of file when the connection closes inside it) is an error, kept in Err;
// a whole one copies, and NIL is empty.
func TestCopyLiteralTellsShortFromWhole(t *testing.T) {
	var out bytes.Buffer
	if err := CopyLiteral(&out, sized{strings.NewReader("Subject: hi\r\n"), 13}); err != nil || out.String() != "Subject: hi\r\n" {
		t.Errorf("whole literal: %q, %v", out.String(), err)
	}
	err := CopyLiteral(io.Discard, sized{strings.NewReader("Subject"), 13})
	if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "after 7 of its 13 bytes") {
		t.Errorf("short literal: %v, want it named short", err)
	}
	if err := CopyLiteral(io.Discard, nil); err != nil {
		t.Errorf("NIL: %v", err)
	}
	l := NewLiteral(sized{strings.NewReader("abc"), 5})
	if _, err := io.ReadAll(l); !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(l.Err, io.ErrUnexpectedEOF) || l.Got != 3 || l.Want != 5 {
		t.Errorf("read through Literal: %v, Err %v, got %d of %d", err, l.Err, l.Got, l.Want)
	}
	if l := NewLiteral(io.LimitReader(strings.NewReader("abc"), 3)); l.Want != -1 {
		t.Errorf("a reader without a size: Want %d, want -1 (unknown)", l.Want)
	}
}
