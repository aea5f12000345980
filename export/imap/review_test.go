package imap_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// TestDeltaAfterAcrossTimeZones: SEARCH SINCE compares dates, each side in
// its own zone: the server's (here UTC-12) and the cutoff's (here +14, as
// written on the command line). 26 hours apart, "the day before" in the
// cutoff's zone is after the server's date of a message received exactly
// at the cutoff, and SEARCH would leave it out before the exact test ever
// saw it.
func TestDeltaAfterAcrossTimeZones(t *testing.T) {
	t.Setenv("TZ", "Etc/GMT+12") // Dovecot's zone (POSIX signs: UTC-12)
	d := testservers.StartDovecot(t, map[string]string{"alice": "a-secret"})
	c := testservers.IMAPLogin(t, d.Addr, "alice", "a-secret")
	at := time.Date(2024, 3, 10, 10, 30, 0, 0, time.UTC) // 9 March 22:30 at UTC-12, 11 March 00:30 at +14
	for i, when := range []time.Time{at.Add(-time.Hour), at, at.Add(time.Hour)} {
		m := "From: a@example.org\r\nSubject: m" + string(rune('0'+i)) + "\r\n\r\nbody\r\n"
		app := c.Append("INBOX", int64(len(m)), &imap.AppendOptions{Time: when.In(time.FixedZone("", -12*3600))})
		app.Write([]byte(m))
		app.Close()
		if _, err := app.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	c.Logout().Wait()
	cutoff := at.In(time.FixedZone("", 14*3600)).Format(time.RFC3339)
	if !strings.HasPrefix(cutoff, "2024-03-11T00:30:00+14:00") {
		t.Fatalf("cutoff %s", cutoff)
	}
	rep, err := exportFrom(t, source(d.Addr, "alice", "a-secret"), "alice", filepath.Join(t.TempDir(), "out"), cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts.Messages != 2 || rep.Skipped[export.SkipBeforeCutoff] != 1 {
		t.Errorf("after %s: %d messages, skipped %v; want the 2 received at or after it, 1 skipped", cutoff, rep.Counts.Messages, rep.Skipped)
	}
}

// TestWrongPasswordIsNotRetried: a refused login is tried once, never
// again (each retry would count towards the server's lockout), and the
// export ends naming the refusal, without an archive.
func TestWrongPasswordIsNotRetried(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "a-secret"})
	src := source(d.Addr, "alice", "not-the-password")
	src.Retry = quickRetry
	var dials atomic.Int32
	src.Dial = func(ctx context.Context, a imapconn.Account) (*imapconn.Conn, error) {
		dials.Add(1)
		return imapconn.Dial(ctx, a)
	}
	rep, err := exportFrom(t, src, "alice", filepath.Join(t.TempDir(), "out"), "")
	if err == nil || !strings.Contains(err.Error(), "refused") || strings.Contains(err.Error(), "not-the-password") {
		t.Errorf("export with a wrong password: %v; want the login's refusal, without the password", err)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d logins, want 1", n)
	}
	if rep == nil || rep.Status == "ok" {
		t.Errorf("report %+v: want a failed run", rep)
	}
}
