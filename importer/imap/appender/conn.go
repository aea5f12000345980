package appender

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/mailhaul/mailhaul/internal/imapconn"
)

// ErrClosed is returned for commands on a connection that has gone.
var ErrClosed = errors.New("appender: connection closed")

// Conn is one logged-in connection. Append may be called from several
// goroutines; commands are pipelined and answered through their Pending.
type Conn struct {
	ic      *imapconn.Conn
	addr    string
	timeout time.Duration
	wmu     sync.Mutex // held while one command is written (literals included)
	w       *bufio.Writer
	utf8    bool

	mu      sync.Mutex
	pending map[string]*Pending
	cont    chan string // continuation requests, for synchronizing literals
	err     error       // why the connection ended
	done    chan struct{}
}

// Dial connects and logs in through imapconn (which closes the
// connection when ctx ends), enables UTF8=ACCEPT when offered, so mailbox
// names go as UTF-8, and starts reading answers. a.Timeout also bounds the
// wait for a continuation.
func Dial(ctx context.Context, a imapconn.Account) (*Conn, error) {
	if a.Timeout <= 0 {
		a.Timeout = 60 * time.Second
	}
	ic, err := imapconn.Dial(ctx, a)
	if err != nil {
		return nil, err
	}
	c := &Conn{ic: ic, addr: a.Addr, timeout: a.Timeout, w: ic.Writer(),
		pending: map[string]*Pending{}, cont: make(chan string, 1), done: make(chan struct{})}
	if ic.Has("UTF8=ACCEPT") {
		ic.SetDeadline(time.Now().Add(a.Timeout))
		if _, err := ic.Command("ENABLE UTF8=ACCEPT", nil); err != nil {
			ic.Close()
			return nil, ic.Cause(err)
		}
		ic.SetDeadline(time.Time{})
		c.utf8 = true
	}
	go c.readLoop()
	return c, nil
}

// Caps returns whether the server offers capability name (upper case, as
// "LITERAL+" or "AUTH=PLAIN"), and its value for "APPENDLIMIT=n" forms.
func (c *Conn) Cap(name string) (string, bool) { return c.ic.Cap(name) }

// Has reports whether the server offers a capability.
func (c *Conn) Has(name string) bool { _, ok := c.Cap(name); return ok }

// AppendLimit is the server's APPENDLIMIT, or 0 when none is announced.
func (c *Conn) AppendLimit() int64 { return c.ic.AppendLimit() }

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
	if bye := c.ic.Bye(); bye != "" && !errors.Is(err, ErrClosed) {
		err = fmt.Errorf("appender: %s said BYE %s: %w", c.addr, bye, err)
	}
	c.err = err
	pend := c.pending
	c.pending = map[string]*Pending{}
	close(c.done)
	c.mu.Unlock()
	c.ic.Close()
	for _, p := range pend {
		p.finish(nil, err)
	}
}

// readLoop dispatches answers to pending commands until the connection
// ends.
func (c *Conn) readLoop() {
	for {
		line, err := c.ic.ReadLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			c.fail(fmt.Errorf("appender: %s: %w", c.addr, err))
			return
		}
		switch {
		case strings.HasPrefix(line, "+"):
			select {
			case c.cont <- line:
			default: // nobody waits: a protocol error; the command will fail
			}
		case strings.HasPrefix(line, "* "):
			c.ic.Untagged(line)
		default:
			tag, rest, _ := strings.Cut(line, " ")
			r, ok := imapconn.ParseStatus(rest)
			c.mu.Lock()
			p := c.pending[tag]
			delete(c.pending, tag)
			c.mu.Unlock()
			if p == nil {
				continue
			}
			if !ok {
				p.finish(nil, fmt.Errorf("appender: %s: bad answer %q", c.addr, line))
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
	resp *imapconn.Response
	err  error
}

func (p *Pending) finish(r *imapconn.Response, err error) {
	p.resp, p.err = r, err
	close(p.done)
}

// Done is closed when the answer (or the connection's end) arrives.
func (p *Pending) Done() <-chan struct{} { return p.done }

// Result is the tagged answer, or the error that ended the connection
// first (then the command's effect is unknown).
func (p *Pending) Result() (*imapconn.Response, error) {
	<-p.done
	return p.resp, p.err
}

// Wait waits for the answer or ctx.
func (p *Pending) Wait(ctx context.Context) (*imapconn.Response, error) {
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
	p := &Pending{Tag: c.ic.NextTag(), Sent: time.Now(), done: make(chan struct{})}
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
		name, _, _ := strings.Cut(head, " ") // never the arguments
		err = fmt.Errorf("appender: %s: send %s: %w", c.addr, name, err)
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
	t := time.NewTimer(c.timeout)
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
		return fmt.Errorf("no continuation after %s", c.timeout)
	}
}

var errAnsweredEarly = errors.New("answered before the literal")
