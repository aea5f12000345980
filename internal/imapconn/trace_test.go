package imapconn

import (
	"context"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/internal/trace"
)

// lockedBuffer collects a trace written from go-imap's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestTraceDovecot: with the trace on, logging in to a real Dovecot with
// LOGIN and with AUTHENTICATE PLAIN, then LIST and APPEND through go-imap,
// shows the commands and answers but neither the password, nor PLAIN's
// base64 of it, nor the appended message.
func TestTraceDovecot(t *testing.T) {
	const pw = "Tr4ce-d0ve-Pw"
	d := testservers.StartDovecot(t, map[string]string{"alice": pw})
	var buf lockedBuffer
	defer trace.SetOutput(&buf)()
	for _, auth := range []string{AuthLogin, AuthPlain} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		conn, err := Dial(ctx, Account{Addr: d.Addr, User: "alice", Auth: auth, Secret: Password(pw), Timeout: 10 * time.Second})
		if err != nil {
			cancel()
			t.Fatalf("%s: %v", auth, err)
		}
		c := conn.Client(nil)
		if _, err := c.List("", "*", nil).Collect(); err != nil {
			t.Errorf("%s: LIST: %v", auth, err)
		}
		msg := "Subject: traced\r\n\r\nbody-" + pw + "-mail\r\n"
		w := c.Append("INBOX", int64(len(msg)), &imap.AppendOptions{})
		w.Write([]byte(msg))
		w.Close()
		if _, err := w.Wait(); err != nil {
			t.Errorf("%s: APPEND: %v", auth, err)
		}
		c.Logout().Wait()
		c.Close()
		cancel()
	}
	got := buf.String()
	plain := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + pw))
	if strings.Contains(got, pw) || strings.Contains(got, plain) {
		t.Errorf("the trace shows the password:\n%s", got)
	}
	for _, w := range []string{" LOGIN [redacted]", " AUTHENTICATE PLAIN", "C: ", "S: * OK", " LIST ", "S: * LIST ", " APPEND ", "not shown)", " OK "} {
		if !strings.Contains(got, w) {
			t.Errorf("trace lacks %q:\n%s", w, got)
		}
	}
}
