package main

import (
	"context"

	"github.com/mailhaul/mailhaul/report"
)

// writeResult records a run's result object however the run ended, so
// that a batch driver has a record of every user, the failed ones above
// all: the report file when reportPath is set, then with --json the
// result line, else text() for people (when given). Export and both
// importers end through it. It returns the report file's write error.
func (a *app) writeResult(reportPath string, v any, text func()) error {
	var err error
	if reportPath != "" {
		err = report.WriteFile(reportPath, v)
	}
	switch {
	case a.json:
		writeJSONLine(a.stdout, v)
	case text != nil:
		text()
	}
	return err
}

// endStatus is the status of a run that stopped early: "cancelled" when
// its context was (SIGINT, SIGTERM), else "failed".
func endStatus(ctx context.Context) string {
	if ctx.Err() != nil {
		return "cancelled"
	}
	return "failed"
}
