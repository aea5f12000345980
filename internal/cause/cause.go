// Package cause names why a run failed, the one classifier of errors that
// the commands' exit codes and the migrate engine's classes share: the
// causes imapsync's exit codes tell apart (connection, TLS,
// authentication, over quota, usage), read from the errors of every
// layer (internal/imapconn's refusals and go-imap's answers, the DAV
// client's 401, SSH's refused logins, the network and TLS errors that
// report already recognises). A cause that is not known is Unknown, never
// a guess.
package cause

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"syscall"

	"github.com/emersion/go-imap/v2"

	"github.com/mailhaul/mailhaul/internal/davclient"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/report"
	"github.com/mailhaul/mailhaul/transport/sftp"
)

// Cause is why a run failed.
type Cause string

const (
	Unknown    Cause = ""
	Usage      Cause = "usage"          // the command line, or the plan or file it names, is wrong
	Connection Cause = "connection"     // refused, dropped, timed out, a name that does not resolve
	TLS        Cause = "tls"            // no TLS where expected, or the server's identity not verified
	Auth       Cause = "authentication" // the server refused the credentials
	OverQuota  Cause = "over-quota"     // the target's quota or disk is full
)

// Exit codes, one place for every command (the README's table). 0, 1, 3
// and 130 are mailhaul's own from the start; the causes take imapsync's
// numbers, which batch scripts around imapsync already know, and usage
// takes sysexits' EX_USAGE (also imapsync's) rather than 2, which a Go
// program's panic exits with.
const (
	ExitOK      = 0
	ExitFailed  = 1 // failed, cause not known
	ExitPartial = 3 // finished, but some items (users) failed; each is listed
	// ExitPermanent: migrate run finished, and every user left undone
	// failed for a cause no re-run overcomes (authentication, the plan, a
	// refused certificate, a damaged archive): fix it first. Kubernetes
	// fails the index instead of retrying it (podFailurePolicy FailIndex).
	ExitPermanent = 4
	// ExitHeld: migrate run did every user it could, and other workers
	// still held the rest when its wait for them ran out (--wait-held): not
	// a failure, nor finished; a later run finds them done or takes them
	// over. sysexits' EX_TEMPFAIL. Kubernetes retries the index.
	ExitHeld       = 75
	ExitConnection = 10
	ExitTLS        = 12
	ExitAuth       = 16
	ExitUsage      = 64
	ExitOverQuota  = 113
	ExitCancelled  = 130 // SIGINT or SIGTERM (128 + SIGINT, as shells say)
)

// NotRetried are the exit codes that another try of the same command
// cannot change, sorted: a Kubernetes Job fails such an index at once.
var NotRetried = []int{ExitPermanent, ExitTLS, ExitAuth, ExitUsage}

// ExitCode is the exit code of a run that failed for c.
func (c Cause) ExitCode() int {
	switch c {
	case Usage:
		return ExitUsage
	case Connection:
		return ExitConnection
	case TLS:
		return ExitTLS
	case Auth:
		return ExitAuth
	case OverQuota:
		return ExitOverQuota
	}
	return ExitFailed
}

// usageError marks an error as the command line's or the configuration's.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// MarkUsage marks err as a wrong command line or configuration: fixed by
// the administrator, never by trying again.
func MarkUsage(err error) error {
	if err == nil {
		return nil
	}
	return &usageError{err}
}

// Of names the cause of err; Unknown when it is none of the causes (and
// for nil, and for a cancelled context, which is no failure's cause).
func Of(err error) Cause {
	var ue *usageError
	var dns *net.DNSError
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return Unknown
	case errors.As(err, &ue):
		return Usage
	case IsAuth(err):
		return Auth
	case isOverQuota(err):
		return OverQuota
	case report.NotTLS(err), report.UntrustedCert(err), isTLSFailure(err):
		return TLS
	case report.ConnectionFailed(err), errors.As(err, &dns):
		return Connection
	}
	return Unknown
}

// IsAuth reports whether err is a server refusing the credentials: an
// IMAP login or AUTHENTICATE refused (unless it is throttling), a DAV
// 401, an SSH login with no key or password accepted.
func IsAuth(err error) bool {
	var re *imapconn.Refusal
	var ie *imap.Error
	if err == nil {
		return false
	}
	if k, _ := retry.Classify(err); k == retry.Throttled {
		return false
	}
	switch {
	case errors.As(err, &re):
		code := strings.ToUpper(re.Response.Code)
		return code == "AUTHENTICATIONFAILED" || code == "AUTHORIZATIONFAILED" || code == "EXPIRED" ||
			strings.HasPrefix(re.What, "login as ") || strings.Contains(re.What, "AUTHENTICATE")
	case errors.As(err, &ie):
		return ie.Code == imap.ResponseCodeAuthenticationFailed || ie.Code == imap.ResponseCodeAuthorizationFailed ||
			ie.Code == imap.ResponseCodeExpired
	case errors.Is(err, davclient.ErrUnauthorized):
		return true
	}
	// x/crypto/ssh has no error type for it, only this text.
	return strings.Contains(err.Error(), "ssh: unable to authenticate")
}

// isOverQuota: an IMAP OVERQUOTA that is not a bandwidth limit
// (imapconn.Throttled tells them apart), or a full disk or quota.
func isOverQuota(err error) bool {
	var re *imapconn.Refusal
	var ie *imap.Error
	var code string
	switch {
	case errors.As(err, &re):
		code = re.Response.Code
	case errors.As(err, &ie):
		code = string(ie.Code)
	}
	if strings.EqualFold(code, "OVERQUOTA") {
		k, _ := retry.Classify(err)
		return k != retry.Throttled
	}
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// isTLSFailure: a TLS handshake broken off by an alert (either side
// refused the other's version or certificate), or an SSH host key that
// known_hosts does not vouch for (the same failure for SSH: the server's
// identity is not verified).
func isTLSFailure(err error) bool {
	var op *net.OpError
	var hk *sftp.HostKeyError
	var alert tls.AlertError
	return errors.As(err, &op) && (op.Op == "remote error" || op.Op == "local error") ||
		errors.As(err, &hk) || errors.As(err, &alert)
}
