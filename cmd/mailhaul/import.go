package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/mailhaul/mailhaul/internal/cause"
	"github.com/mailhaul/mailhaul/report"
)

// importCommand is the parent of the importers; each target kind lives in
// its own file (import_imap.go, import_dav.go).
func (a *app) importCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Import per-user archives into a target server",
	}
	cmd.AddCommand(a.importIMAPCommand(), a.importDAVCommand())
	return cmd
}

// archiveUserHelp is the --archive-user flag's text, shared by both importers.
const archiveUserHelp = "the user the archives belong to, when it is not the login (nor the login's local part): confirms loading one user's archives into another's account"

// importRun is what both importers share around their core: the result
// object and the report file are written whatever happens, so that a batch
// driver has a record of every user, the failed ones above all.
type importRun struct {
	a          *app
	kind       string // "imap", "dav"
	user       string // the mailbox owner's login
	target     string // the URL given, for the report
	archives   []string
	reportPath string
	// verb is "import" (when empty) or "restore": the error's prefix and
	// the report's event.
	verb string
}

// fail ends a run that stopped before the importer made its report:
// stage says where ("arguments", "archives", "connect").
func (r *importRun) fail(ctx context.Context, stage string, err error) error {
	rep := report.New(r.user, r.kind, r.target, r.archives)
	if r.verb != "" {
		rep.Event = r.verb
	}
	return r.finish(ctx, rep, stage, err)
}

// finish writes the report file and the result for the run's report and
// error, and returns what the command returns: the error, errPartial, or
// nil.
func (r *importRun) finish(ctx context.Context, rep *report.Report, stage string, err error) error {
	if err != nil {
		verb := r.verb
		if verb == "" {
			verb = "import"
		}
		err = fmt.Errorf("%s %s: %w", verb, r.kind, err)
		if stage == "arguments" {
			err = cause.MarkUsage(err)
		}
		if rep.Status != "failed" && rep.Status != "cancelled" {
			rep.Stop(stage, err, endStatus(ctx) == "cancelled")
		}
		rep.Finish()
	}
	var text func()
	if err == nil || stage == "import" {
		text = func() { r.a.printImportText(rep) }
	}
	if werr := r.a.writeResult(r.reportPath, rep, text); werr != nil && err == nil {
		err = werr
	}
	if err == nil && rep.Partial() {
		err = errPartial
	}
	return err
}

// targetOf is a URL for the report, without any credentials in it.
func targetOf(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	u.User = nil
	return u.String()
}

// errEmptyUser refuses --user "": the archive would be called "_.tgz" and
// the import would log in as nobody.
var errEmptyUser = errors.New(`--user is missing or empty: give the mailbox owner, usually an e-mail address`)
