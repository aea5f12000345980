package imap

import (
	"bufio"
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
)

// stallingServer answers the greeting, LOGIN and CAPABILITY, then reads
// every further command and answers none, as a server that hangs does.
// stalled receives the first command left unanswered.
func stallingServer(t *testing.T) (addr string, stalled <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 1)
	accepted := make(chan net.Conn, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		accepted <- nc
		w := func(s string) { nc.Write([]byte(s + "\r\n")) }
		w("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready")
		r := bufio.NewReader(nc)
		for i := 0; i < 100; i++ {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			tag, cmd, _ := strings.Cut(strings.TrimSpace(line), " ")
			verb, _, _ := strings.Cut(strings.ToUpper(cmd), " ")
			switch verb {
			case "LOGIN", "AUTHENTICATE":
				w(tag + " OK logged in")
			case "CAPABILITY":
				w("* CAPABILITY IMAP4rev1")
				w(tag + " OK done")
			default:
				select {
				case ch <- verb:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		select {
		case nc := <-accepted:
			nc.Close()
		default:
		}
		<-done
	})
	return ln.Addr().String(), ch
}

// TestCancelEndsStalledControlCommand cancels a run while the control
// connection waits for an answer that never comes: Run must return
// promptly, saying it was cancelled.
func TestCancelEndsStalledControlCommand(t *testing.T) {
	addr, stalled := stallingServer(t)
	archive := filepath.Join(t.TempDir(), "u.tgz")
	writeArchive(t, archive, []testFolder{{folder: format.Folder{Path: "INBOX", Role: format.RoleInbox}, msgs: uniqueMessages(2)}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct{ err error }
	ret := make(chan result, 1)
	go func() {
		_, err := testRun{Options: Options{Account: account(addr, "u", "p"), Timeout: time.Minute}, Request: importer.Request{User: "u"}}.run(ctx, []string{archive})
		ret <- result{err}
	}()
	select {
	case verb := <-stalled:
		t.Logf("the server holds %s unanswered; cancelling", verb)
	case r := <-ret:
		t.Fatalf("Run returned before the server stalled: %v", r.err)
	case <-time.After(10 * time.Second):
		t.Fatal("the control connection sent no command after login within 10s")
	}
	cancel()
	start := time.Now()
	select {
	case r := <-ret:
		if !errors.Is(r.err, context.Canceled) {
			t.Errorf("Run error = %v, want context.Canceled", r.err)
		}
		t.Logf("returned %s after the cancel: %v", time.Since(start).Round(time.Millisecond), r.err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run still waits for the stalled server 5s after its context was cancelled")
	}
}
