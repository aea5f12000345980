package transport

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
)

// Error kinds the engine and the report tell apart. Endpoints wrap their
// errors with them (errors.Is works through the wrapping).
var (
	// ErrConnLost: the connection broke; the transfer is retried after a
	// pause and resumes from what arrived.
	ErrConnLost = errors.New("connection lost")
	// ErrNoSpace: the destination's disk or quota is full.
	ErrNoSpace = errors.New("no space left on the destination")
	// ErrVerify: the bytes that arrived do not match the .sha256.
	ErrVerify = errors.New("verification failed")
	// ErrSourceCorrupt: the source archive does not match its own .sha256.
	ErrSourceCorrupt = errors.New("source archive does not match its .sha256")
	// ErrNoChecksum: the source archive has no usable .sha256 beside it.
	ErrNoChecksum = errors.New("no .sha256 beside the archive")
	// ErrExists: a different archive of the same name is at the
	// destination, and replacing it was not asked for (Options.Overwrite).
	ErrExists = errors.New("a different archive of the same name is at the destination")
)

// Retryable reports whether err is worth another attempt: a lost
// connection is, anything the far side refused or any checksum failure is
// not (trying again would give the same answer).
func Retryable(err error) bool {
	switch {
	case err == nil, errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	case errors.Is(err, fs.ErrPermission), errors.Is(err, fs.ErrNotExist), errors.Is(err, ErrNoSpace),
		errors.Is(err, ErrVerify), errors.Is(err, ErrSourceCorrupt), errors.Is(err, ErrNoChecksum),
		errors.Is(err, ErrExists):
		return false
	}
	return errors.Is(err, ErrConnLost)
}

// Reason is a short cause for the report: "permission denied", "no space
// left on the destination", ...; "" when err fits no kind.
func Reason(err error) string {
	for _, k := range []error{ErrConnLost, ErrNoSpace, ErrVerify, ErrSourceCorrupt, ErrNoChecksum, ErrExists} {
		if errors.Is(err, k) {
			return k.Error()
		}
	}
	switch {
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	case errors.Is(err, fs.ErrNotExist):
		return "not found"
	case errors.Is(err, context.Canceled):
		return "interrupted"
	}
	return ""
}

// connLost wraps err as a lost connection, keeping its text.
func connLost(err error) error {
	if err == nil || errors.Is(err, ErrConnLost) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrConnLost, err)
}

// ConnLost marks err as a lost connection; endpoints use it for errors
// from a broken network.
func ConnLost(err error) error { return connLost(err) }
