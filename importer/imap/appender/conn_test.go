package appender

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/internal/demoserver"
	"github.com/mailhaul/mailhaul/internal/imapconn"
)

// script is the server side of one scripted connection.
type script struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func (s *script) send(lines ...string) {
	for _, l := range lines {
		if _, err := io.WriteString(s.nc, l+"\r\n"); err != nil {
			s.t.Errorf("server: write: %v", err)
		}
	}
}

var literalAtEnd = regexp.MustCompile(`~?\{(\d+)(\+?)\}$`)

// command reads one whole command, literals included; for a synchronizing
// literal it first checks that the client waits, then sends "+".
func (s *script) command() string {
	var cmd strings.Builder
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			s.t.Errorf("server: read: %v (so far %q)", err, cmd.String())
			return cmd.String()
		}
		line = strings.TrimSuffix(line, "\r\n")
		cmd.WriteString(line)
		m := literalAtEnd.FindStringSubmatch(line)
		if m == nil {
			return cmd.String()
		}
		n, _ := strconv.Atoi(m[1])
		if m[2] == "" {
			s.expectSilence()
			s.send("+ go ahead")
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(s.r, body); err != nil {
			s.t.Errorf("server: literal: %v", err)
		}
		cmd.WriteString("\n" + string(body) + "\n")
	}
}

// expectSilence checks the client sends nothing for a moment: it must wait
// for "+" before a synchronizing literal.
func (s *script) expectSilence() {
	s.nc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := s.r.Peek(1)
	s.nc.SetReadDeadline(time.Time{})
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		s.t.Errorf("server: the client sent a synchronizing literal without waiting for +")
	}
}

// serve runs the script on the first connection and returns the address.
func serve(t *testing.T, run func(s *script)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		ln.Close()
		if err != nil {
			return
		}
		defer nc.Close()
		run(&script{t: t, nc: nc, r: bufio.NewReader(nc)})
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

func msg(body string, flags ...string) Message {
	return Message{Flags: flags, Size: int64(len(body)), Date: time.Date(2023, 1, 2, 15, 4, 5, 0, time.UTC),
		Body: func() (io.Reader, error) { return strings.NewReader(body), nil }}
}

// login answers a LOGIN and the CAPABILITY after it.
func (s *script) login(caps string) {
	s.send("* OK ready")
	if got := s.command(); got != `m1 LOGIN "u" "p\"w"` {
		s.t.Errorf("server: got %q, want the LOGIN with the password quoted", got)
	}
	s.send("m1 OK logged in")
	if got := s.command(); got != "m2 CAPABILITY" {
		s.t.Errorf("server: got %q, want CAPABILITY", got)
	}
	s.send("* CAPABILITY "+caps, "m2 OK done")
}

func TestMultiAppendLiteralPlus(t *testing.T) {
	addr := serve(t, func(s *script) {
		s.login("IMAP4rev1 LITERAL+ MULTIAPPEND UIDPLUS APPENDLIMIT=1000")
		want := "m3 APPEND \"Entw&APw-rfe\" (\\Seen $Work) \"02-Jan-2023 15:04:05 +0000\" {5+}\nhello\n" +
			" () \"02-Jan-2023 15:04:05 +0000\" {3+}\nbye\n"
		if got := s.command(); got != want {
			t.Errorf("server: got\n%q\nwant\n%q", got, want)
		}
		// An untagged answer whose literal looks like a tagged one must
		// be skipped whole.
		s.send("* 1 FETCH (BODY[] {7}", "m3 NO x)", "m3 OK [APPENDUID 9 4:5] done")
		s.command() // LOGOUT
		s.send("* BYE", "m4 OK bye")
	})
	c, err := Dial(context.Background(), imapconn.Account{Addr: addr, User: "u", Auth: imapconn.AuthLogin, Secret: imapconn.Password(`p"w`), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !c.MultiAppend() || c.AppendLimit() != 1000 || !c.Has("LITERAL+") {
		t.Errorf("capabilities: multi %v, limit %d, literal+ %v", c.MultiAppend(), c.AppendLimit(), c.Has("LITERAL+"))
	}
	p, err := c.Append("Entwürfe", []Message{msg("hello", `\Seen`, "$Work"), msg("bye")})
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Wait(context.Background())
	if err != nil || !r.OK() {
		t.Fatalf("APPEND: %v, %v", r, err)
	}
	if au, ok := r.AppendUID(); !ok || fmt.Sprint(au) != "{9 [4 5]}" {
		t.Errorf("AppendUID() = %v, %v; want {9 [4 5]}", au, ok)
	}
	c.Logout()
}

func TestSynchronizingLiteralAndEarlyAnswer(t *testing.T) {
	addr := serve(t, func(s *script) {
		s.login("IMAP4rev1 UIDPLUS") // no LITERAL+: every literal waits
		if got, want := s.command(), "m3 APPEND \"INBOX\" () \"02-Jan-2023 15:04:05 +0000\" {5}\nhello\n"; got != want {
			t.Errorf("server: got %q, want %q", got, want)
		}
		s.send("m3 OK [APPENDUID 1 1] done")
		// Refuse the next one before its literal, as a server does for a
		// message over its limit.
		line, _ := s.r.ReadString('\n')
		if !strings.HasPrefix(line, "m4 APPEND") {
			t.Errorf("server: got %q, want the second APPEND", line)
		}
		s.send("m4 NO [TOOBIG] too big")
		if got := s.command(); !strings.HasPrefix(got, "m5 APPEND") {
			t.Errorf("server: got %q after the refusal, want the third APPEND", got)
		}
		s.send("m5 OK [APPENDUID 1 2] done")
		io.Copy(io.Discard, s.r) // stay up until the client leaves
	})
	c, err := Dial(context.Background(), imapconn.Account{Addr: addr, User: "u", Auth: imapconn.AuthLogin, Secret: imapconn.Password(`p"w`), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, want := range []string{"OK [APPENDUID 1 1] done", "NO [TOOBIG] too big", "OK [APPENDUID 1 2] done"} {
		p, err := c.Append("INBOX", []Message{msg("hello")})
		if err != nil {
			t.Fatalf("APPEND %d: %v", i, err)
		}
		r, err := p.Wait(context.Background())
		if err != nil || r.String() != want {
			t.Errorf("APPEND %d: %v, %v; want %s", i, r, err, want)
		}
	}
	if c.Err() != nil {
		t.Errorf("the connection ended: %v", c.Err())
	}
}

func TestDroppedConnectionFailsPending(t *testing.T) {
	addr := serve(t, func(s *script) {
		s.login("IMAP4rev1 LITERAL+")
		s.command()
		s.send("* BYE going down")
		// and hang up without answering
	})
	c, err := Dial(context.Background(), imapconn.Account{Addr: addr, User: "u", Auth: imapconn.AuthLogin, Secret: imapconn.Password(`p"w`), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Append("INBOX", []Message{msg("hello")})
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Wait(context.Background())
	if err == nil || r != nil {
		t.Fatalf("Wait = %v, %v; want an error: nobody knows whether it was stored", r, err)
	}
	if !strings.Contains(err.Error(), "going down") {
		t.Errorf("error %q does not tell the server's BYE", err)
	}
	if c.Err() == nil {
		t.Error("Err() is nil after the connection ended")
	}
	if _, err := c.Append("INBOX", []Message{msg("x")}); err == nil {
		t.Error("APPEND on a dead connection did not fail")
	}
}

func TestSASLPlainOnBehalf(t *testing.T) {
	addr := serve(t, func(s *script) {
		s.send("* OK ready")
		if got := s.command(); got != "m1 CAPABILITY" {
			t.Errorf("server: got %q, want CAPABILITY", got)
		}
		s.send("* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN", "m1 OK")
		got := s.command()
		enc, ok := strings.CutPrefix(got, "m2 AUTHENTICATE PLAIN ")
		dec, err := base64.StdEncoding.DecodeString(enc)
		if !ok || err != nil || string(dec) != "alice\x00admin\x00secret" {
			t.Errorf("server: got %q (%q), want PLAIN with authzid alice, authcid admin", got, dec)
		}
		s.send("m2 OK [CAPABILITY IMAP4rev1 LITERAL+] in")
		s.command()
		s.send("* CAPABILITY IMAP4rev1 LITERAL+", "m3 OK")
	})
	c, err := Dial(context.Background(), imapconn.Account{Addr: addr, Timeout: 5 * time.Second,
		User: "alice", Admin: "admin", Secret: imapconn.Password("secret")})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// TestAgainstMemoryServer pipelines APPENDs from several goroutines over
// one connection to go-imap's server.
func TestAgainstMemoryServer(t *testing.T) {
	addr, stop, err := demoserver.IMAP("127.0.0.1:0", map[string]string{"u": "p"})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if _, err := Dial(context.Background(), imapconn.Account{Addr: addr.String(), User: "u", Auth: imapconn.AuthLogin, Secret: imapconn.Password("wrong")}); err == nil {
		t.Error("a wrong password was accepted")
	}
	c, err := Dial(context.Background(), imapconn.Account{Addr: addr.String(), User: "u", Auth: imapconn.AuthLogin, Secret: imapconn.Password("p"), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Logout()
	big := strings.Repeat("x", 10000) // over 4 KB: a literal go-imap's own client would synchronise
	var wg sync.WaitGroup
	uids := make([]uint32, 20)
	for i := range uids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf("Subject: %d\r\n\r\n%s\r\n", i, big)
			p, err := c.Append("INBOX", []Message{msg(body, `\Seen`)})
			if err != nil {
				t.Error(err)
				return
			}
			r, err := p.Wait(context.Background())
			if err != nil || !r.OK() {
				t.Errorf("APPEND %d: %v, %v", i, r, err)
				return
			}
			au, ok := r.AppendUID()
			if !ok || len(au.UIDs) != 1 {
				t.Errorf("APPEND %d: no APPENDUID in %s", i, r)
				return
			}
			uids[i] = au.UIDs[0]
		}()
	}
	wg.Wait()
	seen := map[uint32]bool{}
	for i, u := range uids {
		if u == 0 || seen[u] {
			t.Errorf("APPEND %d got UID %d (UIDs %v)", i, u, uids)
		}
		seen[u] = true
	}
	p, err := c.Append("No Such Box", []Message{msg("x")})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := p.Wait(context.Background()); err != nil || r.OK() || r.Code != "TRYCREATE" {
		t.Errorf("APPEND to a missing mailbox: %v, %v; want NO [TRYCREATE]", r, err)
	}
}

// TestCapabilitiesReadWhileUpdated reads the capabilities while the read
// loop takes new ones from the server (an untagged CAPABILITY, or one in a
// response code): run with -race, which flags an unguarded map.
func TestCapabilitiesReadWhileUpdated(t *testing.T) {
	sent := make(chan struct{})
	addr := serve(t, func(s *script) {
		s.login("IMAP4rev1 MULTIAPPEND")
		for i := 0; i < 200; i++ {
			if i%2 == 0 {
				s.send("* CAPABILITY IMAP4rev1 MULTIAPPEND APPENDLIMIT=" + strconv.Itoa(1000+i))
			} else {
				s.send("* OK [CAPABILITY IMAP4rev1 MULTIAPPEND LITERAL+] still here")
			}
			time.Sleep(100 * time.Microsecond)
		}
		close(sent)
		s.command() // LOGOUT
		s.send("* BYE", "m3 OK bye")
	})
	c, err := Dial(context.Background(), imapconn.Account{Addr: addr, User: "u", Auth: imapconn.AuthLogin, Secret: imapconn.Password(`p"w`), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Logout()
	deadline := time.After(10 * time.Second)
	for {
		if !c.MultiAppend() {
			t.Fatal("MULTIAPPEND lost while the capabilities were replaced")
		}
		c.Has("LITERAL+")
		c.Cap("AUTH=PLAIN")
		c.AppendLimit()
		select {
		case <-sent:
			return
		case <-deadline:
			t.Fatal("the server did not finish sending capabilities in 10s")
		default:
		}
	}
}
