package migrate

import (
	"context"
	"errors"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/mailhaul/mailhaul/internal/davclient"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/report"
)

// Class is what an error means for the user's next attempt.
type Class string

const (
	// ClassAuth: the server refused the credentials. Never tried again in
	// the run: every try counts towards a lockout.
	ClassAuth Class = "authentication"
	// ClassRetryable: throttling, a dropped or refused connection; tried
	// again with backoff, and by the next run.
	ClassRetryable Class = "retryable"
	// ClassPermanent: the same try fails the same way (a damaged
	// archive, a missing source, a refused certificate).
	ClassPermanent Class = "permanent"
	// ClassInterrupted: the run was stopped; the user goes back to the
	// queue.
	ClassInterrupted Class = "interrupted"
)

// Classify names the class of err met while working on one user in a run
// whose context is ctx. The marks of internal/retry come first (a
// throttled or transient error is retryable, whoever marked it), then
// refused logins, whose NO answer is a permanent mark too.
func Classify(ctx context.Context, err error) Class {
	switch {
	case err == nil:
		return ""
	case ctx.Err() != nil:
		return ClassInterrupted
	case IsAuthFailure(err):
		return ClassAuth
	case retry.IsRetryable(err), report.ConnectionFailed(err) && !errors.Is(err, context.Canceled):
		return ClassRetryable
	}
	return ClassPermanent
}

// IsAuthFailure reports whether err is a server refusing the credentials:
// an IMAP login or AUTHENTICATE refused (unless it is throttling), a DAV
// 401, an SSH login with no key or password accepted.
func IsAuthFailure(err error) bool {
	var re *imapconn.Refusal
	var ie *imap.Error
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
	return strings.Contains(err.Error(), "ssh: unable to authenticate")
}
