package imapconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailhaul/mailhaul/internal/retry"
)

// backoffText is Office 365's throttling answer, which has no response
// code: "Request is throttled. Suggested Backoff Time: 299961 milliseconds".
var backoffText = regexp.MustCompile(`(?i)backoff time:\s*(\d+)\s*milli`)

// Throttled recognises an answer refusing work because of load, and the
// pause the server asks for (0 when it names none).
func Throttled(r *Response) (bool, time.Duration) {
	text := strings.ToLower(r.Text)
	var wait time.Duration
	m := backoffText.FindStringSubmatch(r.Text)
	if m != nil {
		if ms, err := strconv.ParseInt(m[1], 10, 64); err == nil && ms >= 0 && ms < 24*3600*1000 {
			wait = time.Duration(ms) * time.Millisecond
		}
	}
	switch r.Code {
	case "THROTTLED", "UNAVAILABLE", "INUSE":
		return true, wait
	case "OVERQUOTA":
		// Gmail's bandwidth limit uses OVERQUOTA too; a full mailbox does
		// not say "limit".
		return strings.Contains(text, "limit") || strings.Contains(text, "bandwidth"), wait
	}
	if m != nil || strings.Contains(text, "throttl") || strings.Contains(text, "try again later") {
		return true, wait
	}
	return false, 0
}

// Refusal is a NO or BAD answer: the server is still there and said no.
type Refusal struct {
	What     string // the command and server, "127.0.0.1:143: SELECT"
	Response *Response
}

func (e *Refusal) Error() string { return "imap: " + e.What + ": " + e.Response.String() }

// Err turns a NO or BAD answer into an error marked for internal/retry:
// throttled, with the server's wait, when it refuses for load; else
// permanent (the same command gets the same answer).
func (r *Response) Err(what string) error {
	err := &Refusal{What: what, Response: r}
	if thr, wait := Throttled(r); thr {
		return retry.MarkThrottled(err, wait)
	}
	return retry.MarkPermanent(err)
}

// Refused reports whether err is the server's NO or BAD, from go-imap or
// a raw answer, on a connection still good for the next command; not a
// lost connection.
func Refused(err error) bool {
	var ie *imap.Error
	var re *Refusal
	return errors.As(err, &ie) || errors.As(err, &re)
}

// Classify marks an error met on an IMAP connection, go-imap's or a raw
// one, for internal/retry: a NO or BAD as Response.Err does; a failed
// certificate check or TLS on a plain port permanent (it fails the same
// way again); a context's end permanent; anything else, a connection
// dropped, reset or timed out, transient.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	var ie *imap.Error
	var re *Refusal
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var rh tls.RecordHeaderError
	var oe *net.OpError
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.As(err, &oe) && oe.Timeout():
		// Before the context test: a connect that timed out also says
		// it is context.DeadlineExceeded, yet only the attempt ended.
		// (The context's own error is a net.Error too, hence OpError.)
		return retry.MarkTransient(err)
	case errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.As(err, &re):
		return err // marked by Response.Err, which made it
	case errors.As(err, &ie):
		r := &Response{Status: string(ie.Type), Code: string(ie.Code), Text: ie.Text}
		if thr, wait := Throttled(r); thr {
			return retry.MarkThrottled(err, wait)
		}
		return retry.MarkPermanent(err)
	case errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &rh):
		return retry.MarkPermanent(err)
	}
	return retry.MarkTransient(err)
}
