package main

import (
	"fmt"
	"io"

	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/termtext"
	"github.com/mailhaul/mailhaul/report"
)

// printPlan shows a dry run's result for any target: the report file
// (when reportPath is set), then with --json one line
// {"event":"plan","user","folders","report"}, else the plan as a table
// and the report as a real run's (summary, notes, statement, failures). The target never prints; this is the one
// printer of importer.Plan. It returns errPartial when the dry run found
// items that would fail.
func (a *app) printPlan(reportPath string, res *importer.Result) error {
	rep := res.Report
	plan := res.Plan
	if plan == nil {
		plan = &importer.Plan{}
	}
	// The report file holds the report alone, as a real run's does.
	if reportPath != "" {
		if err := report.WriteFile(reportPath, rep); err != nil {
			return err
		}
	}
	a.writeResult("", planLine{Event: "plan", User: rep.User, Folders: plan.Folders, Report: rep}, func() {
		writePlanText(a.stdout, plan)
		writeChangesText(a.stdout, rep.Changes)
		a.printImportText(rep)
	})
	if rep.Partial() {
		return errPartial
	}
	return nil
}

// planLine is the JSON result of a dry run.
type planLine struct {
	Event   string                `json:"event"`
	User    string                `json:"user"`
	Folders []importer.PlanFolder `json:"folders"`
	Report  *report.Report        `json:"report"`
}

// writePlanText writes one line per target folder. A mailbox's line says
// whether it is created or reused, where its messages come from, and how
// many would be sent or are there already, with the reason of a changed
// name on a line of its own; an address book's or calendar's names the
// target collection and whether it exists, with the note that says why
// it was chosen.
func writePlanText(w io.Writer, p *importer.Plan) {
	for _, f := range p.Folders {
		var from string
		switch f.Kind {
		case "contacts":
			from = fmt.Sprintf("address book %q", f.Source)
		case "events":
			from = fmt.Sprintf("calendar %q", f.Source)
		case "tasks":
			from = fmt.Sprintf("tasks of calendar %q", f.Source)
		default: // mail
			action := "reuse "
			if f.Create {
				action = "create"
			}
			fmt.Fprintf(w, "%s %-30q <- %-30q %6d messages %10d bytes to send, %6d already there\n",
				action, f.Target, f.Source, f.Items, f.Bytes, f.Present)
			if f.Note != "" {
				fmt.Fprintf(w, "       %s\n", termtext.Escape(f.Note))
			}
			continue
		}
		state := "existing"
		if f.Create {
			state = "new"
		}
		line := fmt.Sprintf("%s -> %s %s: %d to send (%d bytes), %d already there", from, state, f.Target, f.Items, f.Bytes, f.Present)
		if f.Note != "" {
			line += "; " + f.Note
		}
		fmt.Fprintln(w, termtext.Escape(line))
	}
}

// writeChangesText writes what a delta's state record would change on the
// target (updates, moves, deletions, conflicts), nothing when the archives
// hold no state record.
func writeChangesText(w io.Writer, c *report.Changes) {
	if c == nil {
		return
	}
	line := fmt.Sprintf("state record: would update %d, move %d, delete %d; %d left alone as conflicts",
		c.Updated, c.Moved, c.Deleted, len(c.Conflicts))
	if n := len(c.WouldDelete); n > 0 {
		line += fmt.Sprintf("; %d deleted at the source would stay on the target (--apply-deletions deletes them)", n)
	}
	fmt.Fprintln(w, line)
}
