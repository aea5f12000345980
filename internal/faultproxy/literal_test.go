package faultproxy

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// syncServer answers a synchronizing literal with "+ go", as a server
// without LITERAL+ must, then "tag OK".
func syncServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write([]byte("* OK ready\r\n"))
				r := bufio.NewReader(c)
				for {
					line, err := readLine(r)
					if err != nil {
						return
					}
					tag, _, _ := strings.Cut(string(line), " ")
					if n, ok := literal(line); ok {
						c.Write([]byte("+ go\r\n"))
						if _, err := io.CopyN(io.Discard, r, n); err != nil {
							return
						}
						if _, err := readLine(r); err != nil {
							return
						}
					}
					c.Write([]byte(tag + " OK done\r\n"))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// An AfterCommand cut of a command with a synchronizing literal forwards
// the server's "+" continuation, the literal, and then cuts.
func TestAfterCommandPassesTheContinuation(t *testing.T) {
	p, err := Start(Options{Upstream: syncServer(t), Verbs: []string{"APPEND"}, Rate: 1, Points: []Point{AfterCommand}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	greet, _ := readLine(r)
	t.Logf("greeting %q", greet)
	c.Write([]byte("a1 APPEND INBOX {5}\r\n"))
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	cont, err := readLine(r)
	if err != nil {
		t.Fatalf("no continuation for the synchronizing literal: %v (stats %+v)", err, p.Stats())
	}
	t.Logf("continuation %q", cont)
	c.Write([]byte("hello\r\n"))
	if rest, err := readLine(r); err == nil {
		t.Fatalf("answer %q came through an AfterCommand cut", rest)
	}
	if got := p.Stats().Cuts[AfterCommand]; got != 1 {
		t.Fatalf("after-command cuts %d, want 1", got)
	}
}

// An InsideAnswer cut forwards part of the literal the server answers
// with (a FETCH body), never all of it, and then cuts.
func TestInsideAnswerCutsTheServersLiteral(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	body := strings.Repeat("x", 10000)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write([]byte("* OK ready\r\n"))
		r := bufio.NewReader(c)
		line, err := readLine(r)
		if err != nil {
			return
		}
		tag, _, _ := strings.Cut(string(line), " ")
		c.Write([]byte("* 1 FETCH (UID 1 BODY[] {10000}\r\n" + body + ")\r\n" + tag + " OK done\r\n"))
		io.Copy(io.Discard, r)
	}()
	p, err := Start(Options{Upstream: ln.Addr().String(), Verbs: []string{"UID"}, Rate: 1, Points: []Point{InsideAnswer}, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	readLine(r)
	c.Write([]byte("a1 UID FETCH 1 (BODY[])\r\n"))
	head, err := readLine(r)
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(head)), "{10000}") {
		t.Fatalf("answer %q, %v; want the FETCH line", head, err)
	}
	got, err := io.ReadAll(r)
	if len(got) >= len(body) || strings.Contains(string(got), "OK done") {
		t.Fatalf("%d bytes after the literal's start (%v); want a strict part of the literal and no tagged answer", len(got), err)
	}
	if p.Stats().AnswerCuts != 1 {
		t.Errorf("stats %+v, want one inside-answer cut", p.Stats())
	}
}
