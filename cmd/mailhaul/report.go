package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/termtext"
	"github.com/mailhaul/mailhaul/report"
)

// exportReport is the per-user report of one export, written as JSON
// beside the archive and summarised on the terminal.
type exportReport struct {
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
	Errors    []format.Problem      `json:"errors"`
	Warnings  []format.Problem      `json:"warnings,omitempty"`
	Skipped   map[string]int        `json:"skipped,omitempty"`
	Truncated int                   `json:"truncated,omitempty"`
	Failed    int                   `json:"failed"` // items not exported, listed or not
}

// failed is the number of items the source reported as not exported,
// counted as they came: the summary's Truncated counts warnings and
// errors alike past its bounded lists, so it cannot decide the status.
func newExportReport(m format.Manifest, path string, s format.Summary, failed int) *exportReport {
	r := &exportReport{
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
		Errors:    s.Errors,
		Warnings:  s.Warnings,
		Skipped:   s.Skipped,
		Truncated: s.Truncated,
	}
	if r.Errors == nil {
		r.Errors = []format.Problem{}
	}
	r.Failed = max(failed, len(s.Errors))
	if r.Failed > 0 {
		r.Status = "partial"
	}
	return r
}

// printExportReport shows an export's report for people (--json prints
// the report itself, through writeResult).
func (a *app) printExportReport(r *exportReport, reportPath string) {
	c := r.Counts
	fmt.Fprintf(a.stdout, "%s: %d messages, %d contacts, %d events, %d tasks, %s in %s -> %s\n",
		termtext.Escape(r.User), c.Messages, c.Contacts, c.Events, c.Tasks, humanBytes(c.Bytes),
		time.Duration(r.Seconds*float64(time.Second)).Round(time.Millisecond), termtext.Escape(r.Archive))
	for _, reason := range sortedKeys(r.Skipped) {
		fmt.Fprintf(a.stdout, "  skipped %d: %s\n", r.Skipped[reason], termtext.Escape(reason))
	}
	printProblems(a.stderr, "warning", r.User, r.Warnings, 10)
	printProblems(a.stderr, "error", r.User, r.Errors, 50)
	if r.Status != "ok" {
		fmt.Fprintf(a.stderr, "%s: %d items could not be exported; the full list is in %s\n",
			termtext.Escape(r.User), r.Failed, termtext.Escape(reportPath))
	}
}

// printProblems prints up to max problems, naming user, folder and item.
func printProblems(w io.Writer, label, user string, ps []format.Problem, max int) {
	for i, p := range ps {
		if i == max {
			fmt.Fprintf(w, "  ... and %d more %ss\n", len(ps)-max, label)
			return
		}
		where := p.Item
		if p.Folder != "" {
			where = p.Folder + ": " + p.Item
		}
		fmt.Fprintf(w, "%s: %s: %s: %s\n", label, termtext.Escape(user), termtext.Escape(where), termtext.Escape(p.Reason))
	}
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func writeJSONLine(w io.Writer, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fmt.Fprintf(w, "{\"event\":\"error\",\"error\":%q}\n", err.Error())
		return
	}
	w.Write(append(b, '\n'))
}

// writeJSONFile writes v indented to path, through a temporary name.
func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}

// printImportReport shows an import's report: one JSON line with --json,
// else printImportText. It returns errPartial when some items are not on
// the target.
func (a *app) printImportReport(rep *report.Report) error {
	if a.json {
		writeJSONLine(a.stdout, rep)
	} else {
		a.printImportText(rep)
	}
	if rep.Partial() {
		return errPartial
	}
	return nil
}

// printImportText shows the summary line, notes and closing statement on
// stdout and each failure, naming user, folder, item and reason, on stderr.
func (a *app) printImportText(rep *report.Report) {
	// Everything here can quote the archive or the server: escaped.
	esc := termtext.Escape
	fmt.Fprintln(a.stdout, esc(rep.Line()))
	for _, reason := range sortedKeys(rep.Skips) {
		fmt.Fprintf(a.stdout, "  skipped %d: %s\n", rep.Skips[reason], esc(reason))
	}
	for _, n := range rep.Notes {
		fmt.Fprintln(a.stdout, "  note:", esc(n))
	}
	fmt.Fprintln(a.stdout, esc(rep.Statement))
	for i, fl := range rep.Failures {
		if i == 50 {
			fmt.Fprintf(a.stderr, "  ... and %d more failures (see the report)\n", len(rep.Failures)-50)
			break
		}
		fmt.Fprintf(a.stderr, "failed: %s: %s: %s: %s\n", esc(rep.User), esc(fl.Folder), esc(fl.Item), esc(fl.Reason))
	}
	if n := rep.NotAttempted; n > 0 {
		fmt.Fprintf(a.stderr, "not attempted: %d items read but not sent before the run stopped (listed in the report); the next run sends them\n", n)
	}
}
