// Package importer is the contract every import target implements: the
// IMAP and CardDAV/CalDAV servers of importer/imap and importer/dav, and
// the local Maildir, mbox and .eml trees that restore writes. The command
// (and later migrate) drives them all the same way: a Request in, a
// report.Report and, for a dry run, a Plan out; progress as progress.Event.
package importer

import (
	"context"
	"strings"
	"time"

	"github.com/mailhaul/mailhaul/progress"
	"github.com/mailhaul/mailhaul/report"
)

// Request is what every target is given beside its own settings.
type Request struct {
	User string
	// Archives are loaded in order: a full archive, then its deltas.
	Archives []string
	// StateDir holds the journals, laid out by journal.Path; the caller
	// applies journal.DefaultDir, so every target keeps them in the same
	// place.
	StateDir string
	// DryRun changes nothing on the target and writes no journal; the
	// result carries a Plan instead.
	DryRun bool
	// ApplyDeletions lets a target delete what a delta's state record
	// says the source no longer holds (items the target got from mailhaul
	// and still holds as mailhaul left them); without it the report lists
	// them as would-be deletions (--apply-deletions).
	ApplyDeletions bool
	// Select limits what is loaded; the zero value loads everything.
	Select   Select
	Progress progress.Func
	// Logf receives notes worth a log line (throttling, reconnects); nil:
	// silent.
	Logf func(format string, args ...any)
}

// Target loads archives into one kind of destination.
type Target interface {
	// Kind names the target as a plan file and the journal do: "imap",
	// "dav", "maildir", "mbox", "eml".
	Kind() string
	Import(ctx context.Context, req Request) (*Result, error)
}

// Result is a target's answer. Report is always set when Import returns,
// even with an error (it says how far the run came); Plan only for a dry
// run.
type Result struct {
	Report *report.Report
	Plan   *Plan
}

// Plan is what an import would do, from a dry run. It is a value: the
// command prints it as text or JSON, the target never prints.
type Plan struct {
	Folders []PlanFolder `json:"folders"`
}

// PlanFolder is one target folder, address book or calendar.
type PlanFolder struct {
	Source  string `json:"source"`
	Target  string `json:"target"`
	Kind    string `json:"kind,omitempty"` // "mail", "contacts", "events"
	Create  bool   `json:"create"`         // false: reuse an existing one
	Items   int    `json:"items"`          // to send
	Bytes   int64  `json:"bytes"`          // to send
	Present int    `json:"present"`        // already on the target
	Note    string `json:"note,omitempty"` // why the name differs, or what is left out
}

// Select picks part of an archive: folders (a folder path and everything
// below it) and a window of received times. restore offers it as
// --folder, --after and --before; every target applies it through Keep.
type Select struct {
	Folders       []string  // source folder paths; none: all
	After, Before time.Time // received at or after After, before Before; zero: open
}

// Keep reports whether an item of folder, received at t, is selected.
func (s Select) Keep(folder string, t time.Time) bool {
	if !s.After.IsZero() && t.Before(s.After) {
		return false
	}
	if !s.Before.IsZero() && !t.Before(s.Before) {
		return false
	}
	return s.KeepFolder(folder)
}

// KeepFolder reports whether folder is one of Folders or below one.
func (s Select) KeepFolder(folder string) bool {
	if len(s.Folders) == 0 {
		return true
	}
	for _, f := range s.Folders {
		if folder == f || strings.HasPrefix(folder, f+"/") {
			return true
		}
	}
	return false
}
