package davclient

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Certificate errors of every kind are permanent; a refused or dropped
// connection is not.
func TestPermanentErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&url.Error{Op: "Get", URL: "https://x/", Err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}}, true},
		{&url.Error{Op: "Get", URL: "https://x/", Err: x509.HostnameError{Host: "x"}}, true},
		{fmt.Errorf("wrapped: %w", x509.CertificateInvalidError{Reason: x509.Expired}), true},
		{&url.Error{Op: "Get", URL: "https://x/", Err: http.ErrSchemeMismatch}, true},
		{&url.Error{Op: "Get", URL: "https://x/", Err: syscall.ECONNREFUSED}, false},
		{&url.Error{Op: "Get", URL: "https://x/", Err: io.ErrUnexpectedEOF}, false},
	} {
		if got := Permanent(tc.err); got != tc.want {
			t.Errorf("Permanent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"3", 3 * time.Second, true},
		{now.Add(5 * time.Second).Format(http.TimeFormat), 5 * time.Second, true},
		{"", 0, false},
		{"-1", 0, false},
		{"soon", 0, false},
	}
	for _, tc := range tests {
		got, ok := RetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("RetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestServerSaysEscapes: a server's answer goes into reports and onto
// terminals bounded, with control characters escaped, so that it cannot
// erase or forge lines.
func TestServerSaysEscapes(t *testing.T) {
	a := &Answer{Status: 400, Body: []byte("bad\x1b[2J\x1b[1Afake line\x00 card\r\nnext" + strings.Repeat("x", 1000))}
	s := a.ServerSays()
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			t.Fatalf("control character %q in %q", c, s)
		}
	}
	if !strings.Contains(s, `\x1b[2J`) || !strings.HasPrefix(s, "400 Bad Request: bad") || len(s) > 400 {
		t.Errorf("ServerSays = %q", s)
	}
}
