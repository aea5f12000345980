// Package export holds what every mail source shares: the Sink a source
// writes into, the incremental cutoff, Composite (several sources into one
// archive), and Run, the export job itself (manifest, archive file, cutoff,
// abort on failure, report file) that the command line and a migration
// both call. Each source lives in its own package below this one
// (export/maildir, export/mbox, and export/pim for .vcf and .ics files).
package export

import (
	"context"
	"io"
	"time"

	"github.com/mailhaul/mailhaul/format"
)

// Sink receives what a source exports. *format.Writer implements it.
//
// A source calls AddFolder for a folder before any AddItem of that folder.
// AddItem reads body to its end; the Sink computes the item's size and
// checksum, so a source leaves Item.Size and Item.SHA256 empty. An error
// from AddFolder or AddItem is fatal to the export (the archive cannot be
// written); a problem with one item is reported with AddError and the
// export goes on. Sinks are not safe for concurrent use.
type Sink interface {
	AddFolder(f format.Folder) error
	AddItem(it format.Item, body io.Reader) error
	// AddError records an item that is not exported, with its reason.
	AddError(p format.Problem)
	// AddWarning records an item that is exported with a caveat.
	AddWarning(p format.Problem)
	// AddSkipped counts n items left out on purpose for reason.
	AddSkipped(reason string, n int)
}

// StateSink is a Sink that also takes the state record of a delta
// (format/FORMAT.md, "The state record"): one format.StateItem for every
// item the source holds, exported or not, with its folder, flags and, for
// contacts and events, UID and content digest. *format.Writer implements
// it; the wrappers of this package pass it on.
//
// A source gives its state when Options.State is set, calling AddState
// (the function) for each item, from what it reads anyway: a Maildir's
// listing, an mbox's header scan, an IMAP UID FETCH FLAGS, DAV ETags. It
// leaves out what it could not list (an error names the folder, and an
// importer takes no deletion from that folder) and what is gone (an
// expunged message).
type StateSink interface {
	Sink
	AddState(s format.StateItem) error
}

var _ StateSink = (*format.Writer)(nil)

// AddState gives s to sink if sink takes state, and does nothing
// otherwise. Its error is the sink's, fatal to the export as AddItem's.
func AddState(sink Sink, s format.StateItem) error {
	if ss, ok := sink.(StateSink); ok {
		return ss.AddState(s)
	}
	return nil
}

// Options are what every source honours.
type Options struct {
	// After, when not zero, keeps only items received at or after it.
	After time.Time
	// State asks the source for the state record (StateSink). Run sets
	// it for a delta only: a full export's items are the state, and a
	// delta is where flags, moves and deletions since the export it
	// follows must be told.
	State bool
}

// Keep reports whether an item received at t passes the cutoff.
func (o Options) Keep(t time.Time) bool { return o.After.IsZero() || !t.Before(o.After) }

// SkipBeforeCutoff is the Skipped reason for items older than the cutoff.
const SkipBeforeCutoff = "received before the cutoff"

// SkipExpunged is the Skipped reason for messages a live mailbox deleted
// after they were listed and before they could be read: they are gone from
// the source, not lost by the export.
const SkipExpunged = "expunged while the export ran"

// Progress is a running total, reported by WithProgress.
type Progress struct {
	Folder string
	Items  int
	Bytes  int64
}

// Source exports one mailbox into a Sink.
//
// Export walks the source once, in a stable order, calls AddFolder before a
// folder's items, and returns nil when every item was either exported or
// recorded with AddError or AddSkipped. It returns an error only when the
// export as a whole cannot go on (the source root is missing, the sink
// failed, ctx was cancelled).
type Source interface {
	Export(ctx context.Context, sink Sink, opt Options) error
}
