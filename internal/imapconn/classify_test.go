package imapconn

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailhaul/mailhaul/internal/retry"
)

func TestThrottled(t *testing.T) {
	tests := []struct {
		resp Response
		thr  bool
		wait time.Duration
	}{
		{Response{Status: "NO", Text: "Request is throttled. Suggested Backoff Time: 299961 milliseconds"}, true, 299961 * time.Millisecond},
		{Response{Status: "NO", Code: "THROTTLED", Text: "slow down"}, true, 0},
		{Response{Status: "NO", Code: "UNAVAILABLE", Text: "later"}, true, 0},
		{Response{Status: "NO", Code: "OVERQUOTA", Text: "Account exceeded command or bandwidth limits"}, true, 0},
		{Response{Status: "NO", Code: "OVERQUOTA", Text: "Mailbox is full"}, false, 0},
		{Response{Status: "NO", Text: "Server busy, try again later"}, true, 0},
		{Response{Status: "BAD", Text: "Command Argument Error. 11"}, false, 0},
		{Response{Status: "NO", Code: "TOOBIG", Text: "too big"}, false, 0},
		{Response{Status: "NO", Text: "Suggested Backoff Time: 99999999999 milliseconds"}, true, 0}, // absurd: not honoured
	}
	for _, tt := range tests {
		thr, wait := Throttled(&tt.resp)
		if thr != tt.thr || wait != tt.wait {
			t.Errorf("Throttled(%s) = %v, %s; want %v, %s", &tt.resp, thr, wait, tt.thr, tt.wait)
		}
	}
}

// TestClassify checks that go-imap's errors and the raw answers get the
// same marks, so both connections retry alike.
func TestClassify(t *testing.T) {
	o365 := "Request is throttled. Suggested Backoff Time: 1500 milliseconds"
	tests := []struct {
		name string
		err  error
		kind retry.Kind
		wait time.Duration
	}{
		{"raw throttled with wait", (&Response{Status: "NO", Text: o365}).Err("APPEND"), retry.Throttled, 1500 * time.Millisecond},
		{"go-imap throttled with wait", &imap.Error{Type: imap.StatusResponseTypeNo, Text: o365}, retry.Throttled, 1500 * time.Millisecond},
		{"raw refusal", (&Response{Status: "NO", Code: "TOOBIG", Text: "too big"}).Err("APPEND"), retry.Permanent, 0},
		{"go-imap refusal", &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent, Text: "no"}, retry.Permanent, 0},
		{"go-imap code throttled", &imap.Error{Type: imap.StatusResponseTypeNo, Code: "UNAVAILABLE", Text: "later"}, retry.Throttled, 0},
		{"dropped", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), retry.Transient, 0},
		{"untrusted certificate", fmt.Errorf("imap: TLS: %w", x509.UnknownAuthorityError{}), retry.Permanent, 0},
		{"cancelled", context.Canceled, retry.Permanent, 0},
	}
	for _, tt := range tests {
		err := Classify(tt.err)
		kind, wait := retry.Classify(err)
		if kind != tt.kind || wait != tt.wait {
			t.Errorf("%s: Classify(%v) = %s, %s; want %s, %s", tt.name, tt.err, kind, wait, tt.kind, tt.wait)
		}
		if err.Error() != tt.err.Error() {
			t.Errorf("%s: the mark changed the text: %q, want %q", tt.name, err, tt.err)
		}
	}
	if !Refused((&Response{Status: "NO"}).Err("x")) || !Refused(fmt.Errorf("w: %w", &imap.Error{Type: "NO"})) || Refused(io.EOF) {
		t.Error("Refused must tell the server's NO/BAD, raw or go-imap's, from a lost connection")
	}
}

// A connect that times out (a full accept queue drops the SYNs) is worth
// another try, though the net package's timeout error also says it is
// context.DeadlineExceeded: the batch sender failed such batches at once.
// A context's own end stays final.
func TestClassifyDialTimeoutIsTransient(t *testing.T) {
	_, err := (&net.Dialer{Timeout: time.Nanosecond}).Dial("tcp", "127.0.0.1:9")
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a dial with a 1 ns timeout: %v, want a timeout that is context.DeadlineExceeded", err)
	}
	if k, _ := retry.Classify(Classify(fmt.Errorf("could not connect: %w", err))); k != retry.Transient {
		t.Errorf("a connect timeout: %v, want transient", k)
	}
	for _, end := range []error{context.Canceled, context.DeadlineExceeded} {
		if k, _ := retry.Classify(Classify(fmt.Errorf("select: %w", end))); k != retry.Permanent {
			t.Errorf("%v: %v, want permanent", end, k)
		}
	}
}
