package faultproxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// lineServer is a minimal IMAP-like server: it greets, reads commands
// with their literals, records each complete command and the bytes it
// got, and answers every command "tag OK".
type lineServer struct {
	ln    net.Listener
	mu    sync.Mutex
	cmds  []string
	bytes bytes.Buffer
	ended chan struct{} // one value per connection that saw end of file
}

func startLineServer(t *testing.T) *lineServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &lineServer{ln: ln, ended: make(chan struct{}, 16)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *lineServer) serve(c net.Conn) {
	defer c.Close()
	defer func() { s.ended <- struct{}{} }()
	c.Write([]byte("* OK ready\r\n"))
	r := bufio.NewReader(io.TeeReader(c, writerFunc(func(b []byte) {
		s.mu.Lock()
		s.bytes.Write(b)
		s.mu.Unlock()
	})))
	for {
		var cmd strings.Builder
		for {
			line, err := readLine(r)
			if err != nil {
				return
			}
			cmd.Write(line)
			n, ok := literal(line)
			if !ok {
				break
			}
			buf := make([]byte, n)
			if _, err := io.ReadFull(r, buf); err != nil {
				return
			}
			cmd.Write(buf)
		}
		s.mu.Lock()
		s.cmds = append(s.cmds, cmd.String())
		s.mu.Unlock()
		tag, _, _ := strings.Cut(cmd.String(), " ")
		c.Write([]byte("* 1 EXISTS\r\n" + tag + " OK done\r\n"))
	}
}

type writerFunc func([]byte)

func (f writerFunc) Write(b []byte) (int, error) { f(b); return len(b), nil }

func (s *lineServer) got() ([]string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string{}, s.cmds...), s.bytes.String()
}

const appendCmd = "a2 APPEND INBOX (\\Seen) {12+}\r\nhello world!\r\n"

// dial connects to addr, closing the connection when the test ends, with
// a deadline so that a proxy that holds back never hangs the test.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// exchange sends NOOP (never cut), then an APPEND, and returns what the
// client read after the APPEND until the connection ended.
func exchange(t *testing.T, addr string) string {
	t.Helper()
	c := dial(t, addr)
	r := bufio.NewReader(c)
	if l, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(l, "* OK") {
		t.Fatalf("greeting %q, %v", l, err)
	}
	c.Write([]byte("a1 NOOP\r\n"))
	readUntil(t, r, "a1 ", "NOOP not answered")
	c.Write([]byte(appendCmd))
	rest, _ := io.ReadAll(r)
	return string(rest)
}

// readUntil reads lines until one starts with prefix, failing the test
// with missing if the connection ends or times out first.
func readUntil(t *testing.T, r *bufio.Reader, prefix, missing string) {
	t.Helper()
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: %v", missing, err)
		}
		if strings.HasPrefix(l, prefix) {
			return
		}
	}
}

func TestCutPoints(t *testing.T) {
	for _, tc := range []struct {
		point Point
		// what the server must have received of the APPEND, and what
		// the client must have read of its answer
		serverGot func(cmds []string, raw string) bool
		answered  bool
	}{
		{Before, func(cmds []string, raw string) bool { return len(cmds) == 1 && !strings.Contains(raw, "APPEND") }, false},
		{Inside, func(cmds []string, raw string) bool {
			i := strings.Index(raw, "a2 ")
			return len(cmds) == 1 && i >= 0 && strings.HasPrefix(appendCmd, raw[i:]) && len(raw[i:]) < len(appendCmd)
		}, false},
		{AfterCommand, func(cmds []string, raw string) bool { return len(cmds) == 2 && cmds[1] == appendCmd }, false},
		{AfterAnswer, func(cmds []string, raw string) bool { return len(cmds) == 2 && cmds[1] == appendCmd }, true},
	} {
		t.Run(tc.point.String(), func(t *testing.T) {
			srv := startLineServer(t)
			p, err := Start(Options{Upstream: srv.ln.Addr().String(), Verbs: []string{"APPEND"}, Rate: 1, Points: []Point{tc.point}})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			read := exchange(t, p.Addr)
			if got := strings.Contains(read, "a2 OK"); got != tc.answered {
				t.Errorf("client read %q after the APPEND; answered %v, want %v", read, got, tc.answered)
			}
			// The server's side ends (it saw end of file) and Settle
			// returns once it has.
			select {
			case <-srv.ended:
			case <-time.After(5 * time.Second):
				t.Fatal("the server's side was not closed after the cut")
			}
			p.Settle()
			cmds, raw := srv.got()
			if !tc.serverGot(cmds, raw) {
				t.Errorf("server got commands %q, bytes %q", cmds, raw)
			}
			st := p.Stats()
			if st.Cuts[tc.point] != 1 || st.Commands != 1 {
				t.Errorf("stats %+v, want one APPEND seen and cut %s", st, tc.point)
			}
		})
	}
}

// TestPassThrough checks that commands not chosen pass whole, answers
// included, with rate 0.
func TestPassThrough(t *testing.T) {
	srv := startLineServer(t)
	p, err := Start(Options{Upstream: srv.ln.Addr().String(), Verbs: []string{"APPEND"}, Rate: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := dial(t, p.Addr)
	c.Write([]byte(appendCmd + "a3 LOGOUT\r\n"))
	c.(*net.TCPConn).CloseWrite()
	read, _ := io.ReadAll(c)
	c.Close()
	if !strings.Contains(string(read), "a2 OK") || !strings.Contains(string(read), "a3 OK") {
		t.Errorf("client read %q", read)
	}
	<-srv.ended
	if cmds, _ := srv.got(); len(cmds) != 2 || cmds[0] != appendCmd {
		t.Errorf("server got %q", cmds)
	}
	if st := p.Stats(); st.Commands != 1 || st.Cuts != [numPoints]int{} {
		t.Errorf("stats %+v", st)
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, up := range []string{"192.0.2.1:143", "example.org:143", "143"} {
		if p, err := Start(Options{Upstream: up}); err == nil {
			p.Close()
			t.Errorf("upstream %q accepted", up)
		}
	}
}

// TestServerFirst checks that with ServerFirst the client learns of a cut
// only after the server has ended its side, having received the command.
func TestServerFirst(t *testing.T) {
	srv := startLineServer(t)
	p, err := Start(Options{Upstream: srv.ln.Addr().String(), Verbs: []string{"APPEND"}, Rate: 1,
		Points: []Point{AfterCommand}, ServerFirst: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	read := exchange(t, p.Addr)
	// No waiting: the server is done by the time the client sees the end.
	select {
	case <-srv.ended:
	default:
		t.Error("the client saw the cut before the server ended its side")
	}
	if cmds, _ := srv.got(); len(cmds) != 2 || cmds[1] != appendCmd {
		t.Errorf("server got %q", cmds)
	}
	if strings.Contains(read, "a2 ") {
		t.Errorf("client read the answer %q", read)
	}
}

// TestAnswerHeld checks that Options.Answer is called before the answer
// to a chosen command is forwarded, and that the answer waits for it
// while the command itself has reached the server.
func TestAnswerHeld(t *testing.T) {
	srv := startLineServer(t)
	called := make(chan string, 4)
	release := make(chan struct{})
	p, err := Start(Options{Upstream: srv.ln.Addr().String(), Verbs: []string{"APPEND"},
		Answer: func(verb string) { called <- verb; <-release }})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := dial(t, p.Addr)
	r := bufio.NewReader(c)
	r.ReadString('\n') // greeting
	c.Write([]byte(appendCmd))
	select {
	case v := <-called:
		if v != "APPEND" {
			t.Errorf("Answer called with %q", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Answer not called")
	}
	if cmds, _ := srv.got(); len(cmds) != 1 || cmds[0] != appendCmd {
		t.Errorf("server got %q while the answer was held", cmds)
	}
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	var early strings.Builder
	for {
		l, err := r.ReadString('\n')
		early.WriteString(l)
		if err != nil {
			break
		}
	}
	if strings.Contains(early.String(), "a2 OK") {
		t.Errorf("answer forwarded while held: %q", early.String())
	}
	close(release)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	readUntil(t, r, "a2 OK", "no answer after release")
	if len(called) != 0 {
		t.Errorf("Answer called %d more times", len(called))
	}
}
