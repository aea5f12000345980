package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/importer/dav"
	"github.com/mailhaul/mailhaul/internal/journal"
	"github.com/mailhaul/mailhaul/progress"
)

type importDAVFlags struct {
	url, carddav, caldav, user, passwordFile, tokenFile string
	state, report, tlsCA, schedule, bulk, archiveUser   string
	prefer                                              string
	dryRun, update, allowPlaintext, applyDeletions      bool
	verify                                              bool
	concurrency                                         int
	mapCollection                                       []string
}

func (a *app) importDAVCommand() *cobra.Command {
	f := &importDAVFlags{}
	cmd := &cobra.Command{
		Use:   "dav ARCHIVE...",
		Short: "Import contacts, calendars and tasks into a CardDAV/CalDAV server",
		Long: `Import the address books, calendars and tasks of one user's archives (a full
archive, then any deltas) into a CardDAV/CalDAV account.

The server is found from --url through .well-known/carddav and .well-known/caldav;
--carddav and --caldav name the address book and calendar homes directly. Each
archive address book or calendar goes to, in this order: the collection
--map-collection names; the one the journal recorded for it (kept beside
the first archive unless --state names a directory); the one at the path
mailhaul gives its name (or a numbered sibling) with its display name; one
with its display name; with one address book (or calendar) in the archives,
the target's only one (its default); one that already holds its objects;
else a new one. Two archive folders never share a collection unless
--map-collection says so ("Work Old" and "Work-Old" get work-old and
work-old-2). A --map-collection name that no archive folder has, or a
target that is a URL, has . or .. segments or lies outside the home set,
is an error before anything is sent. --dry-run says where each goes.
Objects are sent as the archive holds them (vCard 2.1 becomes 3.0) with
If-None-Match, so a re-run creates nothing twice; --update replaces objects
that differ.

On a delta (--since), a contact or event edited at the source replaces the
version mailhaul put on the target, with If-Match on the ETag the journal
recorded: one changed or removed on the target since is a conflict, listed
and left alone, unless --prefer source. What mailhaul placed and the
delta's state record no longer lists was deleted at the source: listed as
"would delete", removed (If-Match again) only with --apply-deletions. The password comes from --password-file or the
MAILHAUL_PASSWORD environment variable, a bearer token from --token-file.
http:// is refused for any host but loopback (the password would travel in
clear) unless --allow-plaintext; a certificate that is not trusted fails at
once: give the server's CA with --tls-ca.

An object counts as already there only when the server's object with its UID
means the same (compared property by property); one with other content is a
failure naming what differs, or with --update is replaced. Every object sent
is read back: one the server stored changed is a failure naming the property
(see importer/dav/README.md).

All archives must be of one user: the login, or a user whose local part it
is, unless --archive-user names the archives' user to confirm it. An item
damaged in an archive fails alone (exit 3); a damaged archive ends the run
(exit 1). The result (--json, --report) is written however the run ends;
SIGINT or SIGTERM exit 130.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runImportDAV(cmd.Context(), args, f)
		},
	}
	fl := cmd.Flags()
	f.addTargetFlags(fl)
	fl.BoolVar(&f.verify, "verify", false, "compare the target with the archives at the end (as mailhaul compare dav); a difference makes the exit code 3")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the plan; change nothing on the server")
	fl.BoolVar(&f.update, "update", false, "replace objects the server already has when they differ")
	fl.BoolVar(&f.applyDeletions, "apply-deletions", false, "delete what mailhaul placed and a delta's state record says the source deleted (default: list it)")
	fl.StringVar(&f.prefer, "prefer", "target", "when an object edited at the source was also changed on the target: target (leave it, report a conflict) or source (overwrite)")
	fl.StringVar(&f.report, "report", "", "write the JSON report here")
	fl.IntVar(&f.concurrency, "concurrency", 0, "requests in flight (default 2; Radicale and Xandikos serialise writes)")
	fl.StringVar(&f.bulk, "bulk", "auto", "fill an address book this run creates with one whole-collection PUT: auto (when the server is Radicale), never")
	// --user is checked by the run, not by the flag parser, so that a
	// missing one still gets a result object and a report.
	return cmd
}

func (a *app) runImportDAV(ctx context.Context, archives []string, f *importDAVFlags) error {
	target := f.url
	if target == "" {
		target = strings.TrimSpace(f.carddav + " " + f.caldav)
	}
	run := &importRun{a: a, kind: "dav", user: f.user, target: targetOf(target), archives: archives, reportPath: f.report}
	opt, err := davOptions(f)
	if err != nil {
		return run.fail(ctx, "arguments", err)
	}
	if err := importer.CheckArchiveUser(archives, f.user, f.archiveUser); err != nil {
		return run.fail(ctx, "archives", err)
	}
	// The journal is kept beside the first archive unless --state says
	// otherwise, as import imap keeps its own.
	req := importer.Request{User: f.user, Archives: archives, StateDir: journal.DefaultDir(f.state, archives), DryRun: f.dryRun,
		ApplyDeletions: f.applyDeletions}
	prog := a.newProgress("import dav "+f.user, archiveTotals(archives, format.KindContact, format.KindEvent, format.KindTask))
	req.Progress = func(e progress.Event) {
		e.Stage, e.User = "import", f.user
		prog.update(e)
	}
	kind, err := findTarget("dav")
	if err != nil {
		prog.done()
		return run.fail(ctx, "arguments", err)
	}
	tg, err := kind.new(targetSettings{Where: f.url, Options: *opt})
	if err != nil {
		prog.done()
		return run.fail(ctx, "arguments", err)
	}
	res, err := tg.Import(ctx, req)
	prog.done()
	rep := res.Report
	if err != nil {
		// A run that never reached the server has no counts to print.
		stage := "import"
		if rep.Stage == "connect" {
			stage = "connect"
		}
		return run.finish(ctx, rep, stage, err)
	}
	if f.dryRun {
		return a.printPlan(f.report, res)
	}
	err = run.finish(ctx, rep, "import", nil)
	if f.verify && (err == nil || errors.Is(err, errPartial)) {
		return a.verifyImport(ctx, tg, req, err)
	}
	return err
}

// addTargetFlags adds the flags that say how to reach the account and
// where each archive folder goes: import dav's and compare dav's.
func (f *importDAVFlags) addTargetFlags(fl *pflag.FlagSet) {
	fl.StringVar(&f.url, "url", "", "server URL, e.g. https://dav.example.com/")
	fl.StringVar(&f.carddav, "carddav", "", "address book home URL (skips CardDAV discovery)")
	fl.StringVar(&f.caldav, "caldav", "", "calendar home URL (skips CalDAV discovery)")
	fl.StringVar(&f.user, "user", "", "login on the server")
	fl.StringVar(&f.archiveUser, "archive-user", "", archiveUserHelp)
	fl.StringVar(&f.passwordFile, "password-file", "", "file holding the password (default: $MAILHAUL_PASSWORD)")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding an OAuth bearer token, used instead of a password")
	fl.StringVar(&f.tlsCA, "tls-ca", "", "PEM file of CA certificates to trust instead of the system's")
	fl.BoolVar(&f.allowPlaintext, "allow-plaintext", false, "allow http:// to a host other than loopback (the password travels in clear)")
	fl.StringVar(&f.state, "state", "", "directory for the per-user journal (default: beside the first archive)")
	fl.StringVar(&f.schedule, "scheduling-guard", "auto", "add SCHEDULE-AGENT=CLIENT to attendees: auto (when the server schedules), always, never")
	fl.StringArrayVar(&f.mapCollection, "map-collection", nil, "ARCHIVE_NAME=TARGET: send an archive address book or calendar (path or display name) to the target collection of that path (with a /, relative to the home set) or display name; created when missing (repeatable)")
}

// davOptions turns flags into importer options, reading secrets from
// files or the environment only.
func davOptions(f *importDAVFlags) (*dav.Options, error) {
	if strings.TrimSpace(f.user) == "" {
		return nil, errEmptyUser
	}
	if f.url == "" && f.carddav == "" && f.caldav == "" {
		return nil, fmt.Errorf("give --url, or --carddav and/or --caldav")
	}
	opt := &dav.Options{URL: f.url, CardDAV: f.carddav, CalDAV: f.caldav, User: f.user,
		Update: f.update, Concurrency: f.concurrency, AllowPlaintext: f.allowPlaintext}
	for _, m := range f.mapCollection {
		from, to, ok := strings.Cut(m, "=")
		if !ok || strings.TrimSpace(from) == "" || strings.TrimSpace(to) == "" {
			return nil, fmt.Errorf("--map-collection %q: want ARCHIVE_NAME=TARGET_PATH_OR_NAME", m)
		}
		if opt.MapCollection == nil {
			opt.MapCollection = map[string]string{}
		}
		if _, dup := opt.MapCollection[from]; dup {
			return nil, fmt.Errorf("--map-collection names %q twice", from)
		}
		opt.MapCollection[from] = to
	}
	switch f.prefer {
	case "target", "": // "": options built without the flag parser
	case "source":
		opt.PreferSource = true
	default:
		return nil, fmt.Errorf("--prefer must be target or source, not %q", f.prefer)
	}
	switch f.schedule {
	case "auto":
		opt.Schedule = dav.ScheduleAuto
	case "always":
		opt.Schedule = dav.ScheduleAlways
	case "never":
		opt.Schedule = dav.ScheduleNever
	default:
		return nil, fmt.Errorf("--scheduling-guard must be auto, always or never, not %q", f.schedule)
	}
	switch f.bulk {
	case "auto":
		opt.Bulk = dav.BulkAuto
	case "never":
		opt.Bulk = dav.BulkNever
	default:
		return nil, fmt.Errorf("--bulk must be auto or never, not %q", f.bulk)
	}
	if f.tlsCA != "" {
		pool, err := loadCAs(f.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("%w", err)
		}
		opt.RootCAs = pool
	}
	if f.tokenFile != "" {
		b, err := readSecretFile(f.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		opt.Token = strings.TrimSpace(string(b))
		return opt, nil
	}
	pw, err := password(f.passwordFile)
	if err != nil {
		return nil, fmt.Errorf("%w", err)
	}
	opt.Password = pw
	return opt, nil
}
