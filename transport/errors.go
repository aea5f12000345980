package transport

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/report"
)

// Error kinds the report tells apart (Failure). Endpoints wrap their errors with them
// (errors.Is works through the wrapping) and mark them for internal/retry:
// a lost connection transient (ConnLost), every other kind permanent
// (retry.MarkPermanent), because trying again would give the same answer.
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

// Failure sorts err for the report: a stable code (report.Code) and a
// short cause in words ("permission denied", "no space left on the
// destination", ...; "" when err fits no kind).
func Failure(err error) (code report.Code, reason string) {
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.code, k.err.Error()
		}
	}
	switch {
	case errors.Is(err, fs.ErrPermission):
		return report.CodePermission, "permission denied"
	case errors.Is(err, fs.ErrNotExist):
		return report.CodeNotFound, "not found"
	case errors.Is(err, context.Canceled):
		return report.CodeInterrupted, "interrupted"
	}
	return report.CodeOther, ""
}

// kinds pairs each kind with its code, in the order Failure tries them.
var kinds = []struct {
	err  error
	code report.Code
}{
	{ErrConnLost, report.CodeConnLost},
	{ErrNoSpace, report.CodeNoSpace},
	{ErrVerify, report.CodeVerify},
	{ErrSourceCorrupt, report.CodeSourceCorrupt},
	{ErrNoChecksum, report.CodeNoChecksum},
	{ErrExists, report.CodeExists},
}

// ConnLost marks err as a lost connection, worth another attempt;
// endpoints use it for errors from a broken network.
func ConnLost(err error) error {
	if err == nil || errors.Is(err, ErrConnLost) {
		return err
	}
	return retry.MarkTransient(fmt.Errorf("%w: %w", ErrConnLost, err))
}
