package report

import (
	"context"
	"errors"
	"strings"

	"github.com/mailhaul/mailhaul/format"
)

// Code is a stable, machine-readable name for why an item failed, was
// skipped or was warned about, or why an archive's transfer failed, given
// alongside the prose reason in every JSON report ("code" beside
// "reason"; skipCodes beside skipped). The prose says what happened to
// this item; the code says which kind of thing happened, for a script or a
// rollup over many users.
//
// The list below is the whole vocabulary, for every stage. A code is never
// renamed or given another meaning; a new kind of failure gets a new
// code, and until it has one it is CodeOther. The constants are untyped,
// so that a report field of type string (the transfer report's) takes
// them as well as one of type Code.
type Code string

const (
	// Reading the source (export).
	CodeUnreadable = "unreadable"  // the source could not open, list, stat or read it
	CodeNotRegular = "not-regular" // a symbolic link, FIFO, socket or device: never followed or opened
	CodeEmpty      = "empty"       // an empty file or message: nothing to export
	CodeNotMail    = "not-mail"    // not mail: a file that is no mbox, or an item a mail target does not take
	CodeUnparsed   = "unparsed"    // a parser could not read it: kept as it was, or left out when it was no item at all
	CodeTooLarge   = "too-large"   // over a size limit of the archive or the target
	CodeDropped    = "dropped"     // data mailhaul does not migrate (free/busy, stray lines)
	CodeUIDChanged = "uid-changed" // its UID was taken by a different item: it got a new one
	CodeNoDate     = "no-date"     // no received time could be found

	// Left out on purpose (the skips).
	CodeBeforeCutoff = "before-cutoff" // received before the --after or --since cutoff
	CodeExpunged     = "expunged"      // deleted from the source while the export ran, or marked deleted
	CodeDuplicate    = "duplicate"     // an identical copy of an earlier item with the same UID
	CodeInternalData = "internal-data" // a mail client's own bookkeeping message, not mail

	// Moving archives (transfer).
	CodeNoSpace       = "no-space"       // the destination's disk or quota is full
	CodeVerify        = "verify"         // the bytes stored there do not match the .sha256
	CodeSourceCorrupt = "source-corrupt" // the source does not match its own .sha256
	CodeNoChecksum    = "no-checksum"    // no usable .sha256 beside the source
	CodeExists        = "exists"         // a different archive of the same name is there
	CodePermission    = "permission"     // refused by the file system or server
	CodeNotFound      = "not-found"      // the archive, or where it should go, is not there
	CodeInterrupted   = "interrupted"    // the run was stopped

	// Loading a target (import, restore).
	CodeDamaged   = "damaged"   // the archive's copy fails its checksum or cannot be read
	CodeRefused   = "refused"   // the target refused it (the item or its folder), with its answer
	CodeUncertain = "uncertain" // sent, but the answer was lost: it may be on the target, and the next run checks
	CodeNotSent   = "not-sent"  // the run stopped before sending it; the next run sends it
	CodeJournal   = "journal"   // the journal could not record it
	CodeGaveUp    = "gave-up"   // retried until the attempts ran out

	// Applying a delta's state record (a cutover).
	CodeConflict    = "conflict"     // changed on the target since mailhaul placed it (or not placed by mailhaul): left alone
	CodeWouldDelete = "would-delete" // deleted at the source; left on the target without --apply-deletions

	// Any stage.
	CodeConnLost = "conn-lost" // the connection failed or broke (and the retries ran out); a later run can finish it
	CodeOther    = "other"     // none of the above: the prose says what
)

// classes maps the prose of the reasons that exist to their codes, first
// match wins: a reason that starts with prefix, or contains part.
// Producers may set a code themselves; Classify is for the prose they
// hand over without one (export.Sink takes prose only).
var classes = []struct {
	prefix, part string
	code         Code
}{
	{part: "may be on the target", code: CodeUncertain},
	{prefix: "gave up after", code: CodeGaveUp},
	{prefix: "not sent", code: CodeNotSent},
	{part: "symbolic link", code: CodeNotRegular},
	{part: "not a regular file", code: CodeNotRegular},
	{part: "damaged", code: CodeDamaged},
	{part: "checksum", code: CodeDamaged},
	{part: "journal", code: CodeJournal},
	{prefix: "empty", code: CodeEmpty},
	{part: "not an mbox file", code: CodeNotMail},
	{part: "not mail", code: CodeNotMail},
	{part: "before the cutoff", code: CodeBeforeCutoff},
	{part: "expunged", code: CodeExpunged},
	{part: "identical", code: CodeDuplicate},
	{part: "internal data", code: CodeInternalData},
	{prefix: "uid replaced", code: CodeUIDChanged},
	{prefix: "no date", code: CodeNoDate},
	{part: "larger than", code: CodeTooLarge},
	{part: "too large", code: CodeTooLarge},
	{part: "exported unchanged", code: CodeUnparsed},
	{part: "dropped", code: CodeDropped},
	{part: "ignored", code: CodeDropped},
	{part: "refused", code: CodeRefused},
	{prefix: "read", code: CodeUnreadable}, // "read: ", "read stopped: "
	{prefix: "not read", code: CodeUnreadable},
	{prefix: "directory not read", code: CodeUnreadable},
	{prefix: "open: ", code: CodeUnreadable},
	{prefix: "stat: ", code: CodeUnreadable},
	{prefix: "list", code: CodeUnreadable}, // "list: ", "list folder: "
}

// Classify names the kind of a prose reason (see Code); CodeOther when it
// is none of the known kinds.
func Classify(reason string) Code {
	r := strings.ToLower(reason)
	for _, c := range classes {
		if c.prefix != "" && strings.HasPrefix(r, c.prefix) || c.part != "" && strings.Contains(r, c.part) {
			return c.code
		}
	}
	return CodeOther
}

// CodeOf names the kind of an error that cost an item, for producers that
// have the error rather than prose: a damaged archive entry, a failed
// connection, a stopped run.
func CodeOf(err error) Code {
	switch {
	case err == nil:
		return CodeOther
	case errors.Is(err, format.ErrDamagedItem), isDamaged(err):
		return CodeDamaged
	case errors.Is(err, context.Canceled):
		return CodeNotSent
	case ConnectionFailed(err):
		return CodeConnLost
	}
	return Classify(err.Error())
}

// Problem is an item an export could not export, or exported with a
// caveat, with the code of its reason.
type Problem struct {
	format.Problem
	Code Code `json:"code"`
}

// Coded gives each problem its code (Classify).
func Coded(ps []format.Problem) []Problem {
	out := make([]Problem, len(ps))
	for i, p := range ps {
		out[i] = Problem{Problem: p, Code: Classify(p.Reason)}
	}
	return out
}

// SkipCodes counts skips (reason → count) by their codes.
func SkipCodes(skips map[string]int) map[Code]int {
	if len(skips) == 0 {
		return nil
	}
	out := map[Code]int{}
	for reason, n := range skips {
		out[Classify(reason)] += n
	}
	return out
}
