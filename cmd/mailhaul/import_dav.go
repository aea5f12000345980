package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/importer/dav"
)

type importDAVFlags struct {
	url, carddav, caldav, user, passwordFile, tokenFile string
	state, report, tlsCA, schedule, bulk                string
	dryRun, update                                      bool
	concurrency                                         int
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
archive collection goes to the collection of the same display name, created
when missing. Objects are sent as the archive holds them (vCard 2.1 becomes
3.0) with If-None-Match, so a re-run creates nothing twice; --update replaces
objects that differ. The password comes from --password-file or the
MAILHAUL_PASSWORD environment variable, a bearer token from --token-file.

An object counts as already there only when the server's object with its UID
means the same (compared property by property); one with other content is a
failure naming what differs, or with --update is replaced. Every object sent
is read back: one the server stored changed is a failure naming the property
(see importer/dav/README.md).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runImportDAV(cmd.Context(), args, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.url, "url", "", "server URL, e.g. https://dav.example.com/")
	fl.StringVar(&f.carddav, "carddav", "", "address book home URL (skips CardDAV discovery)")
	fl.StringVar(&f.caldav, "caldav", "", "calendar home URL (skips CalDAV discovery)")
	fl.StringVar(&f.user, "user", "", "login on the server")
	fl.StringVar(&f.passwordFile, "password-file", "", "file holding the password (default: $MAILHAUL_PASSWORD)")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding an OAuth bearer token, used instead of a password")
	fl.StringVar(&f.tlsCA, "tls-ca", "", "PEM file of CA certificates to trust instead of the system's")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the plan; change nothing on the server")
	fl.BoolVar(&f.update, "update", false, "replace objects the server already has when they differ")
	fl.StringVar(&f.state, "state", "", "directory for the per-user journal (makes re-runs cheap)")
	fl.StringVar(&f.report, "report", "", "write the JSON report here")
	fl.IntVar(&f.concurrency, "concurrency", 0, "requests in flight (default 2; Radicale and Xandikos serialise writes)")
	fl.StringVar(&f.schedule, "scheduling-guard", "auto", "add SCHEDULE-AGENT=CLIENT to attendees: auto (when the server schedules), always, never")
	fl.StringVar(&f.bulk, "bulk", "auto", "fill an address book this run creates with one whole-collection PUT: auto (when the server is Radicale), never")
	cmd.MarkFlagRequired("user")
	return cmd
}

func (a *app) runImportDAV(ctx context.Context, archives []string, f *importDAVFlags) error {
	opt, err := davOptions(f)
	if err != nil {
		return err
	}
	if f.dryRun {
		opt.Plan = a.stdout
		if a.json {
			opt.Plan = nil
		}
	}
	prog := a.newProgress("import dav " + f.user)
	opt.Progress = func(n int) { prog.update(export.Progress{Items: n}) }
	rep, err := dav.Import(ctx, archives, *opt)
	prog.done()
	if err != nil {
		return fmt.Errorf("import dav: %w", err)
	}
	if f.report != "" {
		if err := writeJSONFile(f.report, rep); err != nil {
			return err
		}
	}
	return a.printImportReport(rep)
}

// davOptions turns flags into importer options, reading secrets from
// files or the environment only.
func davOptions(f *importDAVFlags) (*dav.Options, error) {
	if f.url == "" && f.carddav == "" && f.caldav == "" {
		return nil, fmt.Errorf("import dav: give --url, or --carddav and/or --caldav")
	}
	opt := &dav.Options{URL: f.url, CardDAV: f.carddav, CalDAV: f.caldav, User: f.user,
		Update: f.update, DryRun: f.dryRun, StateDir: f.state, Concurrency: f.concurrency}
	switch f.schedule {
	case "auto":
		opt.Schedule = dav.ScheduleAuto
	case "always":
		opt.Schedule = dav.ScheduleAlways
	case "never":
		opt.Schedule = dav.ScheduleNever
	default:
		return nil, fmt.Errorf("import dav: --scheduling-guard must be auto, always or never, not %q", f.schedule)
	}
	switch f.bulk {
	case "auto":
		opt.Bulk = dav.BulkAuto
	case "never":
		opt.Bulk = dav.BulkNever
	default:
		return nil, fmt.Errorf("import dav: --bulk must be auto or never, not %q", f.bulk)
	}
	if f.tlsCA != "" {
		pool, err := loadCAs(f.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("import dav: %w", err)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		tr.MaxIdleConnsPerHost = max(f.concurrency, 2) + 2
		opt.HTTPClient = &http.Client{Transport: tr}
	}
	if f.tokenFile != "" {
		b, err := readSecretFile(f.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("import dav: --token-file: %w", err)
		}
		opt.Token = strings.TrimSpace(string(b))
		return opt, nil
	}
	pw, err := password(f.passwordFile)
	if err != nil {
		return nil, fmt.Errorf("import dav: %w", err)
	}
	opt.Password = pw
	return opt, nil
}
