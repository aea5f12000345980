package imapconn

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailhaul/mailhaul/internal/trace"
)

// Conn is one logged-in connection, closed when Dial's context ends.
// Until it is handed to go-imap (Client), its owner reads answers with
// ReadLine and writes commands through Writer.
type Conn struct {
	addr string
	nc   net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	tag  atomic.Int64
	ctx  context.Context
	stop func() bool // unregisters the close on ctx's end

	mu   sync.Mutex
	caps map[string]string
	raw  string // the capability list as the server sent it
	bye  string // text of the server's BYE, if any
}

// Dial connects to the account's server, protects the connection as its
// Mode says, logs in and reads the capabilities. The connection is closed
// when ctx ends, whenever that is: go-imap and the appender's reads take
// no context, and a closed connection ends them.
func Dial(ctx context.Context, a Account) (*Conn, error) {
	if err := a.Check(); err != nil {
		return nil, err
	}
	timeout := a.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	d := net.Dialer{Timeout: timeout}
	nc, err := d.DialContext(ctx, "tcp", a.Addr)
	if err != nil {
		return nil, fmt.Errorf("imap: dial %s: %w", a.Addr, err)
	}
	if a.Mode == ImplicitTLS {
		tc := tls.Client(nc, a.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("imap: TLS with %s: %w", a.Addr, err)
		}
		nc = tc
	}
	nc = trace.Conn(ctx, nc, a.Addr) // --debug: the clear text, redacted
	c := &Conn{addr: a.Addr, nc: nc, r: bufio.NewReaderSize(nc, 16<<10), w: bufio.NewWriterSize(nc, 64<<10), ctx: ctx}
	c.stop = context.AfterFunc(ctx, func() { c.closeNet() })
	nc.SetDeadline(time.Now().Add(timeout))
	if err := c.handshake(&a); err != nil {
		c.Close()
		return nil, c.Cause(err)
	}
	c.nc.SetDeadline(time.Time{})
	return c, nil
}

// handshake reads the greeting, upgrades to TLS, logs in and asks for the
// capabilities, which can change with login.
func (c *Conn) handshake(a *Account) error {
	line, err := c.ReadLine()
	if err != nil {
		return fmt.Errorf("imap: greeting from %s: %w", c.addr, err)
	}
	greet, ok := ParseStatus(strings.TrimPrefix(line, "* "))
	if !ok || greet.Status == "BYE" || greet.Status == "NO" || greet.Status == "BAD" {
		return fmt.Errorf("imap: %s refused the connection: %s", c.addr, line)
	}
	c.noteCode(greet)
	if a.Mode == StartTLS {
		if greet.Status == "PREAUTH" {
			// RFC 9051 7.1.4: no STARTTLS after PREAUTH; going on would
			// run the whole session in clear.
			return fmt.Errorf("imap: STARTTLS with %s: the server sent PREAUTH on an unencrypted connection", c.addr)
		}
		if _, err := c.Command("STARTTLS", nil); err != nil {
			return fmt.Errorf("imap: STARTTLS with %s: %w", c.addr, err)
		}
		tc := tls.Client(trace.Unwrap(c.nc), a.TLS)
		if err := tc.HandshakeContext(c.ctx); err != nil {
			return fmt.Errorf("imap: STARTTLS with %s: %w", c.addr, err)
		}
		nc := trace.Upgrade(c.nc, tc) // the same conversation, now over TLS
		c.mu.Lock()
		c.nc = nc
		c.mu.Unlock()
		c.r.Reset(nc)
		c.w.Reset(nc)
	}
	if greet.Status != "PREAUTH" {
		if err := c.login(a); err != nil {
			return err
		}
	}
	_, err = c.Command("CAPABILITY", nil)
	return err
}

// Cause is the reason an operation on the connection failed: the
// context's end, when that closed the connection under it, else err.
func (c *Conn) Cause(err error) error {
	if err == nil {
		return nil
	}
	if cerr := c.ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

// Addr is the server's host:port.
func (c *Conn) Addr() string { return c.addr }

// Close closes the connection (no LOGOUT).
func (c *Conn) Close() error {
	c.stop()
	return c.closeNet()
}

func (c *Conn) closeNet() error {
	c.mu.Lock()
	nc := c.nc
	c.mu.Unlock()
	return nc.Close()
}

// Context is Dial's context, whose end closes the connection.
func (c *Conn) Context() context.Context { return c.ctx }

// SetDeadline sets the underlying connection's deadline.
func (c *Conn) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// NextTag returns a new command tag ("m1", "m2", ...).
func (c *Conn) NextTag() string { return "m" + strconv.FormatInt(c.tag.Add(1), 10) }

// Writer is where commands are written; the caller serialises writers
// and flushes.
func (c *Conn) Writer() *bufio.Writer { return c.w }

func (c *Conn) send(line string) error {
	if _, err := c.w.WriteString(line + "\r\n"); err != nil {
		return err
	}
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("imap: %s: %w", c.addr, err)
	}
	return nil
}

// Command runs one command synchronously and returns its tagged answer;
// only while nothing else reads the connection. A NO or BAD answer is
// returned with an error that Classify reads. untagged, when set, sees
// the untagged lines first handled by Untagged.
func (c *Conn) Command(cmd string, untagged func(line string)) (*Response, error) {
	tag := c.NextTag()
	if err := c.send(tag + " " + cmd); err != nil {
		return nil, err
	}
	for {
		line, err := c.ReadLine()
		if err != nil {
			return nil, fmt.Errorf("imap: %s: %s: %w", c.addr, verb(cmd), err)
		}
		if rest, ok := strings.CutPrefix(line, tag+" "); ok {
			r, ok := ParseStatus(rest)
			if !ok {
				return nil, fmt.Errorf("imap: %s: %s: bad answer %q", c.addr, verb(cmd), line)
			}
			c.noteCode(r)
			if !r.OK() {
				return r, r.Err(fmt.Sprintf("%s: %s", c.addr, verb(cmd)))
			}
			return r, nil
		}
		c.Untagged(line)
		if untagged != nil {
			untagged(line)
		}
	}
}

// verb is a command's name, for errors that must not show credentials.
func verb(cmd string) string { v, _, _ := strings.Cut(cmd, " "); return v }

// Untagged keeps what an untagged line says about the connection: new
// capabilities, or the server's BYE.
func (c *Conn) Untagged(line string) {
	rest, ok := strings.CutPrefix(line, "* ")
	if !ok {
		return
	}
	if caps, ok := cutPrefixFold(rest, "CAPABILITY "); ok {
		c.setCaps(caps)
		return
	}
	if r, ok := ParseStatus(rest); ok {
		if r.Status == "BYE" {
			c.mu.Lock()
			c.bye = r.Text
			c.mu.Unlock()
		}
		c.noteCode(r)
	}
}

// noteCode keeps capabilities sent as a response code.
func (c *Conn) noteCode(r *Response) {
	if r.Code == "CAPABILITY" {
		c.setCaps(r.Args)
	}
}

func (c *Conn) setCaps(list string) {
	caps := ParseCaps(list)
	c.mu.Lock()
	c.caps, c.raw = caps, list
	c.mu.Unlock()
}

// Cap returns whether the server offers capability name (upper case, as
// "LITERAL+" or "AUTH=PLAIN"), and its value for "APPENDLIMIT=n" forms.
func (c *Conn) Cap(name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.caps[name]
	return v, ok
}

// Has reports whether the server offers a capability.
func (c *Conn) Has(name string) bool { _, ok := c.Cap(name); return ok }

// Bye is the text of the server's BYE, or "".
func (c *Conn) Bye() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bye
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return "", false
}

// MaxLine bounds one response line (literals inside untagged data are
// skipped, not kept).
const MaxLine = 64 << 10

// ReadLine reads one logical response line without its CRLF. Literals
// inside it ({n}) are skipped: their content is not needed by the line
// readers (go-imap reads FETCH data itself).
func (c *Conn) ReadLine() (string, error) { return readLine(c.r, false) }

// ReadLineLiterals is ReadLine keeping each literal, made a quoted
// string (Quote) in its place, for raw data no other reader parses
// (Gmail's X-GM-LABELS); the line with its literals is still bounded by
// MaxLine.
func (c *Conn) ReadLineLiterals() (string, error) { return readLine(c.r, true) }

func readLine(r *bufio.Reader, keep bool) (string, error) {
	var b strings.Builder
	for {
		part, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if b.Len()+len(part) > MaxLine {
				return "", fmt.Errorf("response line longer than %d bytes", MaxLine)
			}
			b.Write(part)
			continue
		}
		if err != nil {
			return "", err
		}
		part = trimCRLF(part)
		if b.Len()+len(part) > MaxLine {
			return "", fmt.Errorf("response line longer than %d bytes", MaxLine)
		}
		b.Write(part)
		s := b.String()
		if n, ok := trace.LiteralSuffix(s); ok {
			if !keep {
				if _, err := io.CopyN(io.Discard, r, n); err != nil {
					return "", err
				}
				continue
			}
			if int64(b.Len())+n > MaxLine {
				return "", fmt.Errorf("response line longer than %d bytes", MaxLine)
			}
			lit := make([]byte, n)
			if _, err := io.ReadFull(r, lit); err != nil {
				return "", err
			}
			b.Reset()
			b.WriteString(s[:strings.LastIndexByte(s, '{')] + Quote(string(lit)))
			continue
		}
		return s, nil
	}
}

func trimCRLF(b []byte) []byte {
	b = b[:len(b)-1]
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return b
}

// Client hands the logged-in connection to go-imap, which then owns it:
// go-imap reads a PREAUTH greeting carrying the capabilities already
// known, then whatever the server sent after the last answer, so it
// starts in the authenticated state without a login of its own.
func (c *Conn) Client(opts *imapclient.Options) *imapclient.Client {
	c.mu.Lock()
	greeting := "* PREAUTH [CAPABILITY " + c.raw + "] logged in\r\n"
	c.mu.Unlock()
	buffered, _ := c.r.Peek(c.r.Buffered())
	pre := io.MultiReader(strings.NewReader(greeting), strings.NewReader(string(buffered)), c.nc)
	return imapclient.New(&handedConn{Conn: c.nc, r: pre, close: c.Close}, opts)
}

// handedConn is the connection as go-imap sees it: the synthetic
// greeting and buffered bytes first; Close also drops the context watch.
type handedConn struct {
	net.Conn
	r     io.Reader
	close func() error
}

func (h *handedConn) Read(p []byte) (int, error) { return h.r.Read(p) }
func (h *handedConn) Close() error               { return h.close() }

// Quote makes an IMAP quoted string (names and passwords of printable
// text; others go as literals by the callers that allow them).
func Quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}
