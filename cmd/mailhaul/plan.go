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
// and the report's statement. The target never prints; this is the one
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
		fmt.Fprintln(a.stdout, termtext.Escape(rep.Statement))
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

// writePlanText writes one line per target folder: whether it is created
// or reused, where its items come from, and how many would be sent or are
// there already, with the reason of a changed name on a line of its own.
func writePlanText(w io.Writer, p *importer.Plan) {
	for _, f := range p.Folders {
		action := "reuse "
		if f.Create {
			action = "create"
		}
		fmt.Fprintf(w, "%s %-30q <- %-30q %6d %-8s %10d bytes to send, %6d already there\n",
			action, f.Target, f.Source, f.Items, planNoun(f.Kind), f.Bytes, f.Present)
		if f.Note != "" {
			fmt.Fprintf(w, "       %s\n", termtext.Escape(f.Note))
		}
	}
}

// planNoun names a plan folder's items.
func planNoun(kind string) string {
	switch kind {
	case "", "mail":
		return "messages"
	case "contacts":
		return "contacts"
	}
	return "objects" // events and tasks of a calendar
}
