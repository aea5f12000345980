package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/termtext"
	"github.com/mailhaul/mailhaul/report"
)

// printExportReport shows an export's report for people (--json prints
// the report itself, through writeResult).
func (a *app) printExportReport(r *report.Export) {
	c := r.Counts
	fmt.Fprintf(a.stdout, "%s: %d messages, %d contacts, %d events, %d tasks, %s in %s -> %s\n",
		termtext.Escape(r.User), c.Messages, c.Contacts, c.Events, c.Tasks, humanBytes(c.Bytes),
		time.Duration(r.Seconds*float64(time.Second)).Round(time.Millisecond), termtext.Escape(r.Archive))
	for _, reason := range sortedKeys(r.Skipped) {
		fmt.Fprintf(a.stdout, "  skipped %d: %s\n", r.Skipped[reason], termtext.Escape(reason))
	}
	printProblems(a.stderr, "warning", r.User, uncoded(r.Warnings), 10)
	printProblems(a.stderr, "error", r.User, uncoded(r.Errors), 50)
	if r.Status != "ok" {
		fmt.Fprintf(a.stderr, "%s: %d items could not be exported; the full list is in %s\n",
			termtext.Escape(r.User), r.Failed, termtext.Escape(r.File))
	}
}

// uncoded is the prose of coded problems: the text output names the
// reason, the JSON output its code too.
func uncoded(ps []report.Problem) []format.Problem {
	out := make([]format.Problem, len(ps))
	for i, p := range ps {
		out[i] = p.Problem
	}
	return out
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
		if user != "" { // "" when the problems name their source themselves
			where = user + ": " + where
		}
		fmt.Fprintf(w, "%s: %s: %s\n", label, termtext.Escape(where), termtext.Escape(p.Reason))
	}
}

// failureProblems is report failures as problems, to print.
func failureProblems(fs []report.Failure) []format.Problem {
	out := make([]format.Problem, len(fs))
	for i, f := range fs {
		out[i] = format.Problem{Folder: f.Folder, Item: f.Item, Reason: f.Reason}
	}
	return out
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

// writeJSONFile writes a report file (report.WriteFile).
func writeJSONFile(path string, v any) error { return report.WriteFile(path, v) }

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
		where := esc(fl.Folder)
		if fl.Item != "" { // a folder's own failure names no item
			where += ": " + esc(fl.Item)
		}
		fmt.Fprintf(a.stderr, "failed: %s: %s: %s\n", esc(rep.User), where, esc(fl.Reason))
	}
	if c := rep.Changes; c != nil {
		// A cutover's state record: what was left alone, what was not deleted.
		printProblems(a.stderr, "conflict", rep.User, failureProblems(c.Conflicts), 50)
		printProblems(a.stdout, "would delete", rep.User, failureProblems(c.WouldDelete), 50)
	}
	if n := rep.NotAttempted; n > 0 {
		fmt.Fprintf(a.stderr, "not attempted: %d items read but not sent before the run stopped (listed in the report); the next run sends them\n", n)
	}
}
