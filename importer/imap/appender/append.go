package appender

import (
	"bufio"
	"fmt"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/mutf7"
	"io"
	"strconv"
	"strings"
	"time"
)

// Message is one message to append.
type Message struct {
	Flags []string  // already checked: system flags and valid keyword atoms
	Date  time.Time // internal date; zero leaves it to the server
	Size  int64     // exact size of Body
	// Body opens the message's bytes (CRLF line endings). It may be called
	// again when a command is retried.
	Body func() (io.Reader, error)
	// Binary sends the message as a literal8 (RFC 3516), for bodies that
	// hold NUL bytes. Only where the server offers BINARY.
	Binary bool
}

// MultiAppend reports whether one APPEND may carry several messages.
func (c *Conn) MultiAppend() bool { return c.Has("MULTIAPPEND") }

// Append sends one APPEND command carrying msgs (more than one only with
// MULTIAPPEND) and returns without waiting for the answer, so callers can
// pipeline. With LITERAL+ nothing waits at all; with LITERAL- only
// literals over 4 KB wait for the server's "+".
func (c *Conn) Append(mailbox string, msgs []Message) (*Pending, error) {
	if len(msgs) == 0 {
		return nil, fmt.Errorf("appender: APPEND to %s with no message", mailbox)
	}
	if len(msgs) > 1 && !c.MultiAppend() {
		return nil, fmt.Errorf("appender: %s does not offer MULTIAPPEND", c.addr)
	}
	name := mailbox
	if !c.utf8 {
		name = mutf7.Encode(mailbox)
	}
	return c.start("APPEND "+imapconn.Quote(name), func(w *bufio.Writer, p *Pending) error {
		for _, m := range msgs {
			if err := c.writeMessage(w, p, m); err != nil {
				return err
			}
		}
		return nil
	})
}

func (c *Conn) writeMessage(w *bufio.Writer, p *Pending, m Message) error {
	w.WriteString(" (")
	w.WriteString(strings.Join(m.Flags, " "))
	w.WriteString(")")
	if !m.Date.IsZero() {
		w.WriteString(` "` + m.Date.Format("02-Jan-2006 15:04:05 -0700") + `"`)
	}
	sync := !(c.Has("LITERAL+") || (c.Has("LITERAL-") && m.Size <= 4096))
	w.WriteString(" ")
	if m.Binary {
		w.WriteString("~")
	}
	w.WriteString("{" + strconv.FormatInt(m.Size, 10))
	if !sync {
		w.WriteString("+")
	}
	w.WriteString("}\r\n")
	if sync {
		if err := c.waitContinuation(p); err != nil {
			return err
		}
	}
	body, err := m.Body()
	if err != nil {
		return fmt.Errorf("open message: %w", err)
	}
	n, err := io.Copy(w, io.LimitReader(body, m.Size))
	if err != nil {
		return err
	}
	if n != m.Size {
		return fmt.Errorf("message was %d bytes, announced %d", n, m.Size)
	}
	return nil
}
