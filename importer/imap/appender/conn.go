package appender

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
	"time"

	"github.com/emersion/go-sasl"
)

// Config says how to reach and log in to a server.
type Config struct {
	Addr     string      // host:port
	TLS      *tls.Config // nil: plain TCP (tests, or STARTTLS below)
	StartTLS bool        // upgrade a plain connection with STARTTLS (TLS must be set)
	// Login uses the LOGIN command with these credentials when SASL is nil.
	Username, Password string
	// SASL returns a fresh SASL client for each connection, so that a
	// refreshed OAuth token is picked up on reconnect.
	SASL func() (sasl.Client, error)
	// UTF8 enables UTF8=ACCEPT when offered, so mailbox names go as UTF-8.
	UTF8 bool
	// Timeout bounds dialling, login, and waiting for any answer.
	Timeout time.Duration
}

// ErrClosed is returned for commands on a connection that has gone.
var ErrClosed = errors.New("appender: connection closed")

// Conn is one logged-in connection. Append may be called from several
// goroutines; commands are pipelined and answered through their Pending.
type Conn struct {
	cfg  Config
	nc   net.Conn
	r    *bufio.Reader
	wmu  sync.Mutex // held while one command is written (literals included)
	w    *bufio.Writer
	utf8 bool

	mu      sync.Mutex
	caps    map[string]string // replaced by the read loop when the server sends new ones
	tagN    int
	pending map[string]*Pending
	cont    chan string // continuation requests, for synchronizing literals
	err     error       // why the connection ended
	bye     string      // text of the server's BYE, if any
	done    chan struct{}
}

// Dial connects, logs in and reads the capabilities.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	d := net.Dialer{Timeout: cfg.Timeout}
	nc, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("appender: dial %s: %w", cfg.Addr, err)
	}
	if cfg.TLS != nil && !cfg.StartTLS {
		tc := tls.Client(nc, cfg.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("appender: TLS with %s: %w", cfg.Addr, err)
		}
		nc = tc
	}
	c := &Conn{cfg: cfg, nc: nc, r: bufio.NewReaderSize(nc, 16<<10), w: bufio.NewWriterSize(nc, 64<<10),
		pending: map[string]*Pending{}, cont: make(chan string, 1), done: make(chan struct{})}
	// Cancelling ctx during the login aborts it.
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	err = c.handshake()
	if !stop() {
		err = ctx.Err()
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	go c.readLoop()
	return c, nil
}

// handshake reads the greeting, upgrades to TLS, logs in and enables
// what the appender uses. It runs before the read loop, synchronously.
func (c *Conn) handshake() error {
	c.nc.SetDeadline(time.Now().Add(c.cfg.Timeout))
	line, err := c.readLine()
	if err != nil {
		return fmt.Errorf("appender: greeting from %s: %w", c.cfg.Addr, err)
	}
	greet, ok := parseStatus(strings.TrimPrefix(line, "* "))
	if !ok || greet.Status == "BYE" {
		return fmt.Errorf("appender: %s refused the connection: %s", c.cfg.Addr, line)
	}
	if c.cfg.StartTLS {
		if _, err := c.simple("STARTTLS"); err != nil {
			return err
		}
		tc := tls.Client(c.nc, c.cfg.TLS)
		if err := tc.Handshake(); err != nil {
			return fmt.Errorf("appender: STARTTLS with %s: %w", c.cfg.Addr, err)
		}
		c.nc = tc
		c.r.Reset(tc)
		c.w.Reset(tc)
	}
	if greet.Status != "PREAUTH" {
		if err := c.login(); err != nil {
			return err
		}
	}
	// Capabilities can change with login; always ask again.
	if _, err := c.simple("CAPABILITY"); err != nil {
		return err
	}
	if c.cfg.UTF8 && c.Has("UTF8=ACCEPT") {
		if _, err := c.simple("ENABLE UTF8=ACCEPT"); err != nil {
			return err
		}
		c.utf8 = true
	}
	return nil
}

func (c *Conn) login() error {
	if c.cfg.SASL == nil {
		_, err := c.simple("LOGIN " + quote(c.cfg.Username) + " " + quote(c.cfg.Password))
		return err
	}
	if _, err := c.simple("CAPABILITY"); err != nil {
		return err
	}
	client, err := c.cfg.SASL()
	if err != nil {
		return fmt.Errorf("appender: %w", err)
	}
	return c.authenticate(client)
}

// Caps returns whether the server offers capability name (upper case, as
// "LITERAL+" or "AUTH=PLAIN"), and its value for "APPENDLIMIT=n" forms.
func (c *Conn) Cap(name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.caps[name]
	return v, ok
}

// Has reports whether the server offers a capability.
func (c *Conn) Has(name string) bool { _, ok := c.Cap(name); return ok }

// AppendLimit is the server's APPENDLIMIT, or 0 when none is announced.
func (c *Conn) AppendLimit() int64 {
	v, _ := c.Cap("APPENDLIMIT")
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// setCaps replaces the capabilities; the read loop calls it while
// senders read them.
func (c *Conn) setCaps(list string) {
	caps := parseCaps(list)
	c.mu.Lock()
	c.caps = caps
	c.mu.Unlock()
}

// Err says why the connection has ended, or nil while it is up.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Done is closed when the connection ends.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close ends the connection; commands still pending fail with ErrClosed.
func (c *Conn) Close() error {
	c.fail(ErrClosed)
	return nil
}

// Logout says goodbye politely, waiting briefly, then closes.
func (c *Conn) Logout() error {
	p, err := c.start("LOGOUT", nil)
	if err == nil {
		select {
		case <-p.done:
		case <-time.After(2 * time.Second):
		}
	}
	return c.Close()
}

func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	if c.bye != "" && !errors.Is(err, ErrClosed) {
		err = fmt.Errorf("appender: %s said BYE %s: %w", c.cfg.Addr, c.bye, err)
	}
	c.err = err
	pend := c.pending
	c.pending = map[string]*Pending{}
	close(c.done)
	c.mu.Unlock()
	c.nc.Close()
	for _, p := range pend {
		p.finish(nil, err)
	}
}

// simple runs a command synchronously before the read loop starts.
func (c *Conn) simple(cmd string) (*Response, error) {
	tag := c.nextTag()
	if _, err := c.w.WriteString(tag + " " + cmd + "\r\n"); err != nil {
		return nil, err
	}
	if err := c.w.Flush(); err != nil {
		return nil, fmt.Errorf("appender: %s: %w", c.cfg.Addr, err)
	}
	for {
		line, err := c.readLine()
		if err != nil {
			return nil, fmt.Errorf("appender: %s: %s: %w", c.cfg.Addr, verb(cmd), err)
		}
		if rest, ok := strings.CutPrefix(line, tag+" "); ok {
			r, ok := parseStatus(rest)
			if !ok {
				return nil, fmt.Errorf("appender: %s: %s: bad answer %q", c.cfg.Addr, verb(cmd), line)
			}
			c.noteCode(r)
			if !r.OK() {
				return r, fmt.Errorf("appender: %s: %s: %s", c.cfg.Addr, verb(cmd), r)
			}
			return r, nil
		}
		c.untagged(line)
	}
}

// verb is a command's name, for errors that must not show credentials.
func verb(cmd string) string { v, _, _ := strings.Cut(cmd, " "); return v }

func (c *Conn) nextTag() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tagN++
	return "m" + strconv.Itoa(c.tagN)
}

// untagged handles a "* ..." line.
func (c *Conn) untagged(line string) {
	rest, ok := strings.CutPrefix(line, "* ")
	if !ok {
		return
	}
	if caps, ok := cutPrefixFold(rest, "CAPABILITY "); ok {
		c.setCaps(caps)
		return
	}
	if r, ok := parseStatus(rest); ok {
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

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return "", false
}

// maxLine bounds one response line (literals inside untagged data are
// skipped, not kept).
const maxLine = 64 << 10

// readLine reads one logical response line without its CRLF. Literals
// inside it ({n}) are skipped: the appender never needs their content.
func (c *Conn) readLine() (string, error) {
	var b strings.Builder
	for {
		part, err := c.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if b.Len()+len(part) > maxLine {
				return "", fmt.Errorf("response line longer than %d bytes", maxLine)
			}
			b.Write(part)
			continue
		}
		if err != nil {
			return "", err
		}
		part = trimCRLF(part)
		if b.Len()+len(part) > maxLine {
			return "", fmt.Errorf("response line longer than %d bytes", maxLine)
		}
		b.Write(part)
		s := b.String()
		if n, ok := literalSuffix(s); ok {
			if _, err := io.CopyN(io.Discard, c.r, n); err != nil {
				return "", err
			}
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

// literalSuffix finds a trailing "{n}" announcing a literal.
func literalSuffix(s string) (int64, bool) {
	if !strings.HasSuffix(s, "}") {
		return 0, false
	}
	open := strings.LastIndexByte(s, '{')
	if open < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(s[open+1:len(s)-1], "+"), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// readLoop dispatches answers to pending commands until the connection
// ends.
func (c *Conn) readLoop() {
	for {
		line, err := c.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			c.fail(fmt.Errorf("appender: %s: %w", c.cfg.Addr, err))
			return
		}
		switch {
		case strings.HasPrefix(line, "+"):
			select {
			case c.cont <- line:
			default: // nobody waits: a protocol error; the command will fail
			}
		case strings.HasPrefix(line, "* "):
			c.untagged(line)
		default:
			tag, rest, _ := strings.Cut(line, " ")
			r, ok := parseStatus(rest)
			c.mu.Lock()
			p := c.pending[tag]
			delete(c.pending, tag)
			c.mu.Unlock()
			if p == nil {
				continue
			}
			if !ok {
				p.finish(nil, fmt.Errorf("appender: %s: bad answer %q", c.cfg.Addr, line))
				continue
			}
			p.finish(r, nil)
		}
	}
}

// Pending is a command sent and not yet answered.
type Pending struct {
	Tag  string
	Sent time.Time
	done chan struct{}
	resp *Response
	err  error
}

func (p *Pending) finish(r *Response, err error) {
	p.resp, p.err = r, err
	close(p.done)
}

// Done is closed when the answer (or the connection's end) arrives.
func (p *Pending) Done() <-chan struct{} { return p.done }

// Result is the tagged answer, or the error that ended the connection
// first (then the command's effect is unknown).
func (p *Pending) Result() (*Response, error) {
	<-p.done
	return p.resp, p.err
}

// Wait waits for the answer or ctx.
func (p *Pending) Wait(ctx context.Context) (*Response, error) {
	select {
	case <-p.done:
		return p.resp, p.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// start registers a command and writes it; body, when set, writes the
// rest of the command after its first piece (literals included).
func (c *Conn) start(head string, body func(w *bufio.Writer, p *Pending) error) (*Pending, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.Err(); err != nil {
		return nil, err
	}
	p := &Pending{Tag: c.nextTag(), Sent: time.Now(), done: make(chan struct{})}
	c.mu.Lock()
	c.pending[p.Tag] = p
	c.mu.Unlock()
	err := func() error {
		if _, err := c.w.WriteString(p.Tag + " " + head); err != nil {
			return err
		}
		if body != nil {
			if err := body(c.w, p); err != nil {
				return err
			}
		}
		if _, err := c.w.WriteString("\r\n"); err != nil {
			return err
		}
		return c.w.Flush()
	}()
	if errors.Is(err, errAnsweredEarly) {
		return p, nil // the command ended with the server's early answer
	}
	if err != nil {
		err = fmt.Errorf("appender: %s: send %s: %w", c.cfg.Addr, verb(head), err)
		c.fail(err)
		return nil, err
	}
	return p, nil
}

// waitContinuation waits for the server's "+" before a synchronizing
// literal. The caller holds wmu.
func (c *Conn) waitContinuation(p *Pending) error {
	if err := c.w.Flush(); err != nil {
		return err
	}
	t := time.NewTimer(c.cfg.Timeout)
	defer t.Stop()
	select {
	case <-c.cont:
		return nil
	case <-p.done:
		// The server answered instead (for example NO [TOOBIG]): stop
		// writing this command; its answer is already with p.
		return errAnsweredEarly
	case <-c.done:
		return c.Err()
	case <-t.C:
		return fmt.Errorf("no continuation after %s", c.cfg.Timeout)
	}
}

var errAnsweredEarly = errors.New("answered before the literal")

// quote makes an IMAP quoted string (names and passwords with only
// printable text; others go as literals by the callers that allow it).
func quote(s string) string {
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
