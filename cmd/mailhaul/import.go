package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mailhaul/mailhaul/format"
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

// checkArchiveUser refuses archives of different users in one run, and
// archives of a user other than the login unless archiveUser confirms it:
// a shell glob or a slip of the hand must not load one user's mail into
// another's mailbox. It reads each archive's manifest only.
func checkArchiveUser(archives []string, login, archiveUser string) error {
	owner, first := "", ""
	for _, path := range archives {
		r, err := format.Open(path, nil)
		if err != nil {
			return err
		}
		u := r.Manifest().User
		r.Close()
		switch {
		case first == "":
			owner, first = u, path
		case !strings.EqualFold(u, owner): // as the login is compared: sameUser
			return report.WithAdvice(fmt.Errorf("the archives belong to different users: %s is %s's, %s is %s's; import one user's archives in a run",
				filepath.Base(first), owner, filepath.Base(path), u), "import each user's archives in a run of their own")
		}
	}
	switch {
	case archiveUser != "" && !strings.EqualFold(archiveUser, owner):
		return report.WithAdvice(fmt.Errorf("--archive-user %s does not match the archives' user %s (%s)", archiveUser, owner, filepath.Base(first)),
			"give the archives' user with --archive-user "+owner+", or import the archives of "+archiveUser)
	case archiveUser == "" && !sameUser(owner, login):
		return report.WithAdvice(fmt.Errorf("%s holds the mailbox of %s, not of the login %s; to load it into %s's account, confirm with --archive-user %s",
			filepath.Base(first), owner, login, login, owner),
			"the archives belong to another user: to load them into this account, confirm with --archive-user "+owner+"; else import them into "+owner+"'s account")
	}
	return nil
}

// sameUser reports whether an archive's user and a login name one person:
// equal ignoring case (domains are case-insensitive, and practically every
// server treats local parts so too; so are archive owners compared), or equal local parts where one side is a bare name
// (an archive of alice@example.org loaded with the login alice).
func sameUser(archiveUser, login string) bool {
	if strings.EqualFold(archiveUser, login) {
		return true
	}
	al, ad, aAt := strings.Cut(archiveUser, "@")
	ll, ld, lAt := strings.Cut(login, "@")
	if aAt && lAt && !strings.EqualFold(ad, ld) {
		return false
	}
	return strings.EqualFold(al, ll)
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
