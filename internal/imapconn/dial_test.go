package imapconn

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// TestDialDovecot logs in to a real Dovecot each way an Account allows
// and hands the connection to go-imap, which must work on it at once; a
// refused login is a permanent refusal; and the end of Dial's context
// closes the connection later in its life, not only during the login.
func TestDialDovecot(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret"})
	for _, tc := range []struct {
		name string
		a    Account
	}{
		{"plain", Account{User: "alice", Secret: Password("alice-secret")}},
		{"login", Account{User: "alice", Auth: AuthLogin, Secret: Password("alice-secret")}},
		{"plain as admin", Account{User: "alice", Admin: d.Master, Secret: Password(d.MasterPassword)}},
		{"login as admin", Account{User: "alice", Admin: d.Master, Auth: AuthLogin, Secret: Password(d.MasterPassword)}},
	} {
		tc.a.Addr, tc.a.Timeout = d.Addr, 10*time.Second
		ctx, cancel := context.WithCancel(context.Background())
		conn, err := Dial(ctx, tc.a)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			cancel()
			continue
		}
		if !conn.Has("IMAP4REV1") {
			t.Errorf("%s: capabilities after login lack IMAP4rev1", tc.name)
		}
		c := conn.Client(nil)
		if _, err := c.List("", "*", nil).Collect(); err != nil {
			t.Errorf("%s: LIST on the handed connection: %v", tc.name, err)
		}
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Errorf("%s: SELECT INBOX (the login must be alice's): %v", tc.name, err)
		}
		// The close runs in its own goroutine once the context ends:
		// within a few seconds a command must fail.
		cancel()
		closed := false
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			done := make(chan error, 1)
			go func() { done <- c.Noop().Wait() }()
			select {
			case err := <-done:
				closed = err != nil
			case <-time.After(time.Until(deadline)):
			}
			if closed {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !closed {
			t.Errorf("%s: the connection outlived its context", tc.name)
		}
		c.Close()
	}

	_, err := Dial(context.Background(), Account{Addr: d.Addr, User: "alice", Secret: Password("wrong"), Timeout: 10 * time.Second})
	if err == nil || !Refused(err) || retry.IsRetryable(err) {
		t.Errorf("wrong password: %v (refused %v); want a permanent refusal", err, Refused(err))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Dial(ctx, Account{Addr: d.Addr, User: "alice", Secret: Password("alice-secret")}); !errors.Is(err, context.Canceled) {
		t.Errorf("Dial with an ended context: %v, want context.Canceled", err)
	}
}
