package trace

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
)

// Conn returns nc traced as an IMAP conversation with the server at addr,
// opened under ctx (WithUser): what is written is the client's side (C:),
// what is read the server's (S:). Wrap the connection that carries clear
// text (after TLS); to start TLS on it, unwrap it with Unwrap and trace
// the TLS connection with Upgrade. nc itself when tracing is off.
func Conn(ctx context.Context, nc net.Conn, addr string) net.Conn {
	if !Enabled() {
		return nc
	}
	return newConn(nc, label(ctx, "imap", addr))
}

// Upgrade returns upgraded (the TLS connection STARTTLS made of traced's)
// traced as the same conversation, under the same label; upgraded itself
// when traced was not traced.
func Upgrade(traced, upgraded net.Conn) net.Conn {
	c, ok := traced.(*conn)
	if !ok {
		return upgraded
	}
	return newConn(upgraded, c.out.label)
}

func newConn(nc net.Conn, l string) *conn {
	return &conn{Conn: nc, in: &imapLines{label: l, dir: "S:"}, out: &imapLines{label: l, dir: "C:", client: true}}
}

// Unwrap returns the connection Conn wrapped, or nc.
func Unwrap(nc net.Conn) net.Conn {
	if c, ok := nc.(*conn); ok {
		return c.Conn
	}
	return nc
}

type conn struct {
	net.Conn
	in, out *imapLines
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.Write(p[:n])
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.Write(p[:n])
	return n, err
}

// maxShown bounds what is kept of one line: the trace never buffers more,
// whatever the server sends.
const maxShown = 1024

// imapLines cuts one direction of an IMAP stream into lines and writes
// each, redacted, to the trace. Literals ({N} at a line's end) are skipped
// and named by size: they are messages, or secrets sent as literals.
//
// A literal the server refuses (NO instead of "+") is never sent, and the
// bytes that follow are then skipped as if they were it: the trace hides
// too much rather than too little.
type imapLines struct {
	label, dir string
	client     bool // the client's side: commands, where credentials go

	mu        sync.Mutex
	head      []byte // the line so far, up to maxShown
	tail      []byte // its last bytes, where a literal's size is
	n         int    // the line's length so far
	literal   int64  // bytes of a literal still to skip
	sensitive bool   // the command goes on after a literal, and is a login
}

// Write takes the next bytes of the stream; it never fails.
func (l *imapLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		if l.literal > 0 {
			k := int64(len(p))
			if k > l.literal {
				k = l.literal
			}
			p = p[k:]
			l.literal -= k
			continue
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.add(p)
			break
		}
		l.add(p[:i])
		p = p[i+1:]
		l.endLine()
	}
	return n, nil
}

func (l *imapLines) add(p []byte) {
	l.n += len(p)
	if room := maxShown - len(l.head); room > 0 {
		l.head = append(l.head, p[:min(room, len(p))]...)
	}
	l.tail = append(l.tail, p...)
	if len(l.tail) > 32 {
		l.tail = append(l.tail[:0], l.tail[len(l.tail)-32:]...)
	}
}

func (l *imapLines) endLine() {
	line := strings.TrimSuffix(string(l.head), "\r")
	end := strings.TrimSuffix(string(l.tail), "\r")
	size, isLit := LiteralSuffix(end)
	if n := l.n - (len(l.tail) - len(end)); n > maxShown {
		line += fmt.Sprintf("... (%d bytes)", n)
	}
	sensitive := l.sensitive
	if l.client {
		line, sensitive = redactCommand(line, l.sensitive)
	}
	if isLit && !sensitive {
		line += fmt.Sprintf(" (literal of %d bytes not shown)", size)
	}
	emit(l.label, l.dir, line)
	l.head, l.tail, l.n = l.head[:0], l.tail[:0], 0
	l.literal = size
	// A login's literal is followed by the rest of the same command.
	l.sensitive = isLit && sensitive
}

// LiteralSuffix reads the literal announced at an IMAP line's end: {N},
// {N+} (LITERAL+) or ~{N} (binary). Its one home is here, the lowest
// package that reads IMAP lines; imapconn uses it too.
func LiteralSuffix(line string) (int64, bool) {
	if !strings.HasSuffix(line, "}") {
		return 0, false
	}
	open := strings.LastIndexByte(line, '{')
	if open < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(line[open+1:len(line)-1], "+"), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

const redacted = "[redacted]"

// redactCommand returns a client line as the trace shows it, and whether
// it belongs to a login (whose next parts, after a literal, are hidden
// too). LOGIN keeps only its tag; AUTHENTICATE its mechanism; a line
// without a space is a SASL response (base64, or "*" to cancel), except
// IDLE's DONE.
func redactCommand(line string, inLogin bool) (string, bool) {
	if inLogin {
		return redacted, true
	}
	fields := strings.SplitN(line, " ", 4)
	if len(fields) == 1 {
		if line == "" || strings.EqualFold(line, "DONE") || line == "*" {
			return line, false
		}
		return redacted, false
	}
	switch strings.ToUpper(fields[1]) {
	case "LOGIN":
		return fields[0] + " LOGIN " + redacted, true
	case "AUTHENTICATE":
		if len(fields) > 2 {
			mech := fields[2]
			if len(fields) > 3 {
				return fields[0] + " AUTHENTICATE " + mech + " " + redacted, true
			}
			return fields[0] + " AUTHENTICATE " + mech, false
		}
		return line, false
	}
	return line, false
}
