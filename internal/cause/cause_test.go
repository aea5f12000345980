package cause

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"syscall"
	"testing"

	"github.com/mailhaul/mailhaul/internal/davclient"
	"github.com/mailhaul/mailhaul/internal/imapconn"
)

// The causes of errors as the layers make them, and their exit codes.
// (Real servers: cmd/mailhaul's TestExitCodesByCause.)
func TestOf(t *testing.T) {
	refusal := func(what, code, text string) error {
		return (&imapconn.Response{Status: "NO", Code: code, Text: text}).Err(what)
	}
	for _, c := range []struct {
		name string
		err  error
		want Cause
		code int
	}{
		{"nil", nil, Unknown, ExitFailed},
		{"cancelled", fmt.Errorf("import: %w", context.Canceled), Unknown, ExitFailed},
		{"usage", fmt.Errorf("x: %w", MarkUsage(errors.New("--url: bad"))), Usage, ExitUsage},
		{"imap login refused", refusal("login as alice", "AUTHENTICATIONFAILED", "Authentication failed."), Auth, ExitAuth},
		{"imap login throttled", refusal("login as alice", "UNAVAILABLE", "try again later"), Unknown, ExitFailed},
		{"dav 401", fmt.Errorf("%w: PROPFIND", davclient.ErrUnauthorized), Auth, ExitAuth},
		{"ssh", errors.New("ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey]"), Auth, ExitAuth},
		{"over quota", refusal("APPEND", "OVERQUOTA", "Quota exceeded (mailbox for user is full)"), OverQuota, ExitOverQuota},
		{"bandwidth limit", refusal("APPEND", "OVERQUOTA", "Account exceeded command or bandwidth limits."), Unknown, ExitFailed},
		{"disk full", fmt.Errorf("write: %w", syscall.ENOSPC), OverQuota, ExitOverQuota},
		{"refused connection", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), Connection, ExitConnection},
		{"other", errors.New("something else"), Unknown, ExitFailed},
	} {
		if got := Of(c.err); got != c.want || got.ExitCode() != c.code {
			t.Errorf("%s: %q (exit %d), want %q (exit %d)", c.name, got, got.ExitCode(), c.want, c.code)
		}
	}
	if !slices.IsSorted(NotRetried) || slices.Contains(NotRetried, ExitConnection) {
		t.Errorf("NotRetried %v: sorted, without the retryable connection code", NotRetried)
	}
}
