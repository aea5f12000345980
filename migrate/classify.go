package migrate

import (
	"context"
	"errors"

	"github.com/mailhaul/mailhaul/internal/cause"
	"github.com/mailhaul/mailhaul/internal/retry"
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
// the causes of internal/cause, the one classifier the commands' exit
// codes use too: refused logins (whose NO answer is a permanent mark)
// and connections that failed.
func Classify(ctx context.Context, err error) Class {
	switch {
	case err == nil:
		return ""
	case ctx.Err() != nil:
		return ClassInterrupted
	case cause.IsAuth(err):
		return ClassAuth
	case retry.IsRetryable(err), cause.Of(err) == cause.Connection && !errors.Is(err, context.Canceled):
		return ClassRetryable
	}
	return ClassPermanent
}
