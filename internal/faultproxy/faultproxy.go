// Package faultproxy is a TCP proxy for tests that sits between an IMAP
// client and a real server and cuts connections at chosen points of a
// command's life: before it is forwarded, inside it (part of its bytes
// forwarded), after the whole command reached the server but before its
// tagged answer came back, and after that answer was forwarded. It reads
// just enough IMAP to find command and answer boundaries (lines and
// {n}/{n+}/~{n} literals); everything else passes through unchanged.
//
// When it cuts, the client's side is closed at once, while the server's
// side is half-closed and drained: the server gets every byte forwarded
// so far followed by end of file, as it would when a client vanishes, and
// is free to act on a command it received whole.
//
// It listens on loopback only and forwards to loopback only.
package faultproxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Point is where in a command's life a connection is cut.
type Point int

const (
	// Before: the command is not forwarded at all.
	Before Point = iota
	// Inside: a random part of the command's bytes is forwarded.
	Inside
	// AfterCommand: the whole command is forwarded; its answer is not.
	AfterCommand
	// AfterAnswer: the tagged answer is forwarded, then the cut.
	AfterAnswer
	numPoints // the points drawn when Options.Points is empty
	// InsideAnswer: the command is forwarded whole; its answer is cut
	// inside the first literal the server sends back for it (a FETCH
	// body), a random part of that literal forwarded. Drawn only when
	// Options.Points names it.
	InsideAnswer = numPoints
)

func (p Point) String() string {
	return [...]string{"before", "inside", "after-command", "after-answer", "inside-answer"}[p]
}

// Options configure a Proxy.
type Options struct {
	// Upstream is the server's address; it must be a loopback address.
	Upstream string
	// Verbs are the commands that may be cut (upper case, as "APPEND").
	Verbs []string
	// Rate is the chance that one such command is cut.
	Rate float64
	// Points are where cuts happen, chosen at random; empty: all.
	Points []Point
	Seed   int64
	// MaxConns bounds connections open at once (default 64); more wait.
	MaxConns int
	// Drain bounds how long the server's side is read after a cut, for
	// it to finish what it received (default 5 s).
	Drain time.Duration
	// ServerFirst delays closing the client's side of a cut until the
	// server has closed its own (it finished what it received), within
	// Drain. The client then learns of the cut only once the server's
	// work is done, so a test can tell a check that misses a message
	// from one made before the server stored it.
	ServerFirst bool
	// Answer, if set, is called before the tagged answer to a command of
	// Verbs is forwarded, with the command's verb. It may block: the
	// answer, and all that follows on that connection, waits, while the
	// client's commands still reach the server.
	Answer func(verb string)
}

// Stats count what the proxy did.
type Stats struct {
	Conns    int
	Commands int // commands of the chosen verbs seen
	Cuts     [numPoints]int
	// AnswerCuts are the InsideAnswer cuts (kept apart so that Cuts
	// stays the four points a default plan draws from).
	AnswerCuts int
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	Addr string
	opt  Options
	ln   net.Listener
	sem  chan struct{}
	wg   sync.WaitGroup

	mu     sync.Mutex
	rnd    *rand.Rand
	stats  Stats
	conns  map[net.Conn]bool
	closed bool
	// draining counts server sides still being read after a cut;
	// drained is closed when that count falls to zero.
	draining int
	drained  chan struct{}
}

// Start listens on a free loopback port.
func Start(o Options) (*Proxy, error) {
	host, _, err := net.SplitHostPort(o.Upstream)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: upstream %q: %w", o.Upstream, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("faultproxy: upstream %q is not a loopback address", o.Upstream)
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 64
	}
	if o.Drain <= 0 {
		o.Drain = 5 * time.Second
	}
	if len(o.Points) == 0 {
		for p := Before; p < numPoints; p++ {
			o.Points = append(o.Points, p)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: %w", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), opt: o, ln: ln, sem: make(chan struct{}, o.MaxConns),
		rnd: rand.New(rand.NewSource(o.Seed)), conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Stats returns the counts so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Close stops listening, cuts every connection and waits for them.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

// Settle waits until the server sides of every cut connection have ended
// (the server closed them after finishing what it had received), for at
// most the Drain time.
func (p *Proxy) Settle() {
	p.mu.Lock()
	if p.draining == 0 {
		p.mu.Unlock()
		return
	}
	ch := p.drained
	p.mu.Unlock()
	<-ch
}

func (p *Proxy) drainStart() {
	p.mu.Lock()
	if p.draining == 0 {
		p.drained = make(chan struct{})
	}
	p.draining++
	p.mu.Unlock()
}

func (p *Proxy) drainEnd() {
	p.mu.Lock()
	p.draining--
	if p.draining == 0 {
		close(p.drained)
	}
	p.mu.Unlock()
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.sem <- struct{}{}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer func() { <-p.sem }()
			p.serve(c)
		}()
	}
}

// plan is the fate of one command, drawn when its first line arrives.
type plan struct {
	cut   bool
	point Point
	frac  float64 // share of a literal forwarded before an Inside cut
}

// chosen tells a verb of Options.Verbs.
func (p *Proxy) chosen(verb string) bool {
	for _, v := range p.opt.Verbs {
		if strings.EqualFold(v, verb) {
			return true
		}
	}
	return false
}

func (p *Proxy) draw(verb string) plan {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.chosen(verb) {
		return plan{}
	}
	p.stats.Commands++
	if p.rnd.Float64() >= p.opt.Rate {
		return plan{}
	}
	pl := plan{cut: true, point: p.opt.Points[p.rnd.Intn(len(p.opt.Points))]}
	pl.frac = p.rnd.Float64()
	return pl
}

func (p *Proxy) chance(f float64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rnd.Float64() < f
}

func (p *Proxy) count(pt Point) {
	p.mu.Lock()
	if pt == InsideAnswer {
		p.stats.AnswerCuts++
	} else {
		p.stats.Cuts[pt]++
	}
	p.mu.Unlock()
}

// conn is one proxied connection.
type conn struct {
	p          *Proxy
	client, up net.Conn

	mu sync.Mutex
	// answerTag, when set, is the tag whose tagged answer ends the
	// connection once forwarded (an AfterAnswer cut).
	answerTag string
	// literalCut, when set, is the share of the next literal the server
	// sends that is forwarded before an InsideAnswer cut.
	literalCut float64
	isCut      bool // the client's side is gone; the server's is drained
	muted      bool // an AfterCommand cut is coming: answers are dropped
	downDone   bool // the server's side has ended
	// held maps the tags of commands whose answers go to Options.Answer
	// to their verbs.
	held map[string]string
}

func (p *Proxy) serve(client net.Conn) {
	if !p.track(client) {
		return
	}
	defer p.untrack(client)
	up, err := net.DialTimeout("tcp", p.opt.Upstream, 5*time.Second)
	if err != nil {
		return
	}
	if !p.track(up) {
		return
	}
	defer p.untrack(up)
	p.mu.Lock()
	p.stats.Conns++
	p.mu.Unlock()
	c := &conn{p: p, client: client, up: up}
	done := make(chan struct{})
	go func() { defer close(done); c.downstream() }()
	c.upstream()
	<-done
}

// cut ends the connection: the client's side at once, the server's side
// once it has had its end of file and said all it will (or Drain passed).
func (c *conn) cut(pt Point) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isCut {
		return
	}
	c.isCut = true
	c.p.count(pt)
	if !c.downDone {
		c.p.drainStart()
	}
	if !c.p.opt.ServerFirst {
		c.client.Close()
	}
	if tc, ok := c.up.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	c.up.SetReadDeadline(time.Now().Add(c.p.opt.Drain))
}

// wasCut reports whether answers no longer reach the client.
func (c *conn) wasCut() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.isCut || c.muted
}

// upstream forwards the client's commands to the server.
func (c *conn) upstream() {
	r := bufio.NewReaderSize(c.client, 32<<10)
	w := c.up
	for {
		line, err := readLine(r)
		if err != nil {
			c.endUp()
			return
		}
		tag, rest, _ := strings.Cut(string(line), " ")
		verb, _, _ := strings.Cut(rest, " ")
		verb = strings.TrimRight(verb, "\r\n")
		pl := c.p.draw(verb)
		if c.p.opt.Answer != nil && c.p.chosen(verb) {
			c.mu.Lock()
			if c.held == nil {
				c.held = map[string]string{}
			}
			c.held[tag] = verb
			c.mu.Unlock()
		}
		if pl.cut && pl.point == Before {
			c.cut(Before)
			return
		}
		if pl.cut && pl.point == AfterAnswer {
			c.mu.Lock()
			c.answerTag = tag
			c.mu.Unlock()
		}
		if pl.cut && pl.point == InsideAnswer {
			c.mu.Lock()
			c.literalCut = max(pl.frac, 1e-9)
			c.mu.Unlock()
		}
		// Forward the command: its lines and literals. An Inside cut
		// falls in one of its literals, or else just before its last
		// line's end, so the server always gets a strict prefix.
		inside := pl.cut && pl.point == Inside
		for {
			n, isLit := literal(line)
			if inside && !isLit {
				w.Write(line[:len(line)-1])
				c.cut(Inside)
				return
			}
			if !isLit && pl.cut && pl.point == AfterCommand {
				// Silence the answers before the command's last line
				// reaches the server (its answer can come back before
				// cut runs), not earlier: a synchronizing literal's
				// "+" continuation must still reach the client.
				c.mu.Lock()
				c.muted = true
				c.mu.Unlock()
			}
			if _, err := w.Write(line); err != nil {
				c.endUp()
				return
			}
			if !isLit {
				break
			}
			if inside && c.p.chance(0.5) {
				io.CopyN(w, r, int64(float64(n)*pl.frac))
				c.cut(Inside)
				return
			}
			if _, err := io.CopyN(w, r, n); err != nil {
				c.endUp()
				return
			}
			if line, err = readLine(r); err != nil {
				c.endUp()
				return
			}
		}
		if pl.cut && pl.point == AfterCommand {
			c.cut(AfterCommand)
			return
		}
	}
}

// endUp passes the client's end of file on to the server, which then
// answers what it has and closes.
func (c *conn) endUp() {
	if tc, ok := c.up.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

// downstream forwards the server's answers to the client; after a cut it
// reads them to the server's end, forwarding nothing.
func (c *conn) downstream() {
	defer func() {
		c.mu.Lock()
		c.downDone = true
		if c.isCut {
			c.p.drainEnd()
		}
		c.mu.Unlock()
		c.client.Close()
	}()
	r := bufio.NewReaderSize(c.up, 32<<10)
	out := &sink{c: c}
	for {
		line, err := readLine(r)
		if err != nil {
			return
		}
		if tag, _, ok := strings.Cut(string(line), " "); ok && tag != "*" && tag != "+" {
			c.mu.Lock()
			verb, held := c.held[tag]
			delete(c.held, tag)
			c.mu.Unlock()
			if held {
				c.p.opt.Answer(verb)
			}
		}
		out.Write(line)
		if n, ok := literal(line); ok {
			c.mu.Lock()
			frac := c.literalCut
			c.literalCut = 0
			c.mu.Unlock()
			if frac > 0 {
				if _, err := io.CopyN(out, r, int64(float64(n)*frac)); err != nil {
					return
				}
				c.cut(InsideAnswer)
				continue // drained from here on
			}
			if _, err := io.CopyN(out, r, n); err != nil {
				return
			}
			continue
		}
		c.mu.Lock()
		tag := c.answerTag
		c.mu.Unlock()
		if tag != "" && strings.HasPrefix(string(line), tag+" ") {
			c.cut(AfterAnswer)
		}
	}
}

// sink writes to the client until it is cut or gone, then discards, so
// the server's side is always read to its end.
type sink struct {
	c    *conn
	gone bool
}

func (s *sink) Write(b []byte) (int, error) {
	if !s.gone && !s.c.wasCut() {
		if _, err := s.c.client.Write(b); err != nil {
			s.gone = true
		}
	}
	return len(b), nil
}

// maxLine bounds one line of the protocol (literals apart).
const maxLine = 1 << 20

// readLine reads up to and including "\n".
func readLine(r *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		part, err := r.ReadSlice('\n')
		out = append(out, part...)
		if len(out) > maxLine {
			return nil, errors.New("faultproxy: line too long")
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

// literal finds a "{n}", "{n+}" or "{n-}" (after "~" for literal8) that
// ends a line, announcing n bytes to follow.
func literal(line []byte) (int64, bool) {
	s := strings.TrimRight(string(line), "\r\n")
	if !strings.HasSuffix(s, "}") {
		return 0, false
	}
	open := strings.LastIndexByte(s, '{')
	if open < 0 {
		return 0, false
	}
	num := strings.TrimRight(s[open+1:len(s)-1], "+-")
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
