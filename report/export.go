package report

import (
	"time"

	"github.com/mailhaul/mailhaul/format"
)

// Export is the per-user report of one export run, written as JSON beside
// the archive (or where the caller says) and summarised by the command.
type Export struct {
	Event string `json:"event"` // "export", for JSON-lines readers
	User  string `json:"user"`
	// Status is "ok", "partial" (some items failed), "failed" (the run
	// stopped early: see Stage and Error) or "cancelled" (SIGINT, SIGTERM).
	Status    string                `json:"status"`
	Stage     string                `json:"stage,omitempty"` // where a run that stopped early was: "arguments", "export" or "write"
	Error     string                `json:"error,omitempty"` // why it stopped early
	Archive   string                `json:"archive"`
	Source    format.Source         `json:"source"`
	After     time.Time             `json:"after,omitzero"`
	Started   time.Time             `json:"started"`
	Finished  time.Time             `json:"finished"`
	Seconds   float64               `json:"seconds"`
	Counts    format.Counts         `json:"counts"`
	Folders   []format.FolderCounts `json:"folders"`
	Errors    []Problem             `json:"errors"`
	Warnings  []Problem             `json:"warnings,omitempty"`
	Skipped   map[string]int        `json:"skipped,omitempty"`   // reason → count
	SkipCodes map[Code]int          `json:"skipCodes,omitempty"` // the same skips by code
	Truncated int                   `json:"truncated,omitempty"`
	Failed    int                   `json:"failed"` // items not exported, listed or not

	// File is where the report was written ("" if nowhere), for the
	// summary that points to the full list.
	File string `json:"-"`
}

// StartExport begins the report of an export run, for a run that may stop
// before its archive's summary exists (see Stop).
func StartExport(user string, src format.Source) *Export {
	return &Export{Event: "export", User: user, Source: src, Started: time.Now().UTC(), Errors: []Problem{}}
}

// NewExport is the report of a finished export: m is the archive's
// manifest, path its file and s its summary. failed is the number of items
// the source reported as not exported, counted as they came: the summary's
// Truncated counts warnings and errors alike past its bounded lists, so it
// cannot decide the status.
func NewExport(m format.Manifest, path string, s format.Summary, failed int) *Export {
	r := &Export{
		Event:     "export",
		User:      m.User,
		Status:    "ok",
		Archive:   path,
		Source:    m.Source,
		After:     m.After,
		Started:   m.Started,
		Finished:  s.Finished,
		Seconds:   s.Finished.Sub(m.Started).Seconds(),
		Counts:    s.Counts,
		Folders:   s.Folders,
		Errors:    Coded(s.Errors),
		Skipped:   s.Skipped,
		SkipCodes: SkipCodes(s.Skipped),
		Truncated: s.Truncated,
	}
	if len(s.Warnings) > 0 {
		r.Warnings = Coded(s.Warnings)
	}
	r.Failed = max(failed, len(s.Errors))
	if r.Failed > 0 {
		r.Status = "partial"
	}
	return r
}

// Stop records that the run stopped early, at stage, because of err;
// cancelled says it was stopped on purpose (a signal, the caller's
// context).
func (r *Export) Stop(stage string, err error, cancelled bool) {
	r.Status, r.Stage, r.Error = "failed", stage, err.Error()
	if cancelled {
		r.Status = "cancelled"
	}
	r.Finished = time.Now().UTC()
	r.Seconds = r.Finished.Sub(r.Started).Seconds()
}
