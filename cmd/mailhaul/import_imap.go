package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"golang.org/x/sync/semaphore"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	imapimport "github.com/mailhaul/mailhaul/importer/imap"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/journal"
	"github.com/mailhaul/mailhaul/internal/ratelimit"
	"github.com/mailhaul/mailhaul/internal/termtext"
	"github.com/mailhaul/mailhaul/progress"
)

// importIMAPFlags are the flags of import imap.
type importIMAPFlags struct {
	imapLogin
	provider, folderMap, state, report, archiveUser string
	dryRun, applyDeletions, verify                  bool
	connections, errorBudget                        int
	settle                                          time.Duration
	maxBytesPerSecond, maxMessagesPerSecond         float64
}

func (a *app) importIMAPCommand() *cobra.Command {
	var f importIMAPFlags
	cmd := &cobra.Command{
		Use:   "imap ARCHIVE... --url imaps://host[:port] --user LOGIN",
		Short: "Import one user's archives (a full one and its deltas, in order) into an IMAP server",
		Long: `Import one user's archives into an IMAP server: folders (mapped to the target's
names and special-use folders), messages with flags, keywords and received dates.
Re-running, a killed run or overlapping delta archives never create duplicates:
a journal under --state records what landed, and the target is checked where
the journal cannot tell.

Folder names are mapped to what the target allows (its delimiter, reserved
names) with a note for each change; with --folder-map you rename folders
yourself. A folder whose mailbox the target still refuses (Dovecot with "/" as
separator refuses "." in a name, as in "Release v1.2") is not renamed by
guesswork: it is listed as failed (an empty one too), and so are its
messages, with the server's answer and a --folder-map line to a name of
letters, digits, spaces, "-" and "_"; every other folder is imported, and the
exit code is 3. Add the line to the map and run the import again to finish. (--dry-run creates nothing, so it cannot
foresee such a refusal.)

All archives must be of one user: the login (--user, also with --admin), or a
user whose local part it is, unless --archive-user names the archives' user to
confirm loading them into this account. An item damaged in an archive fails
alone (exit 3); a damaged archive ends the run (exit 1). The result (--json,
--report) is written however the run ends; SIGINT or SIGTERM exit 130.

A delta archive (export --since) carries the source's state: after loading
its new messages, the import brings the messages it placed earlier to it:
flags and keywords, moves between folders (MOVE), and, only with
--apply-deletions, deletions; without it the report lists what would be
deleted. A message the user changed on the target since mailhaul placed it
(its flags differ from those mailhaul set, or it was moved or deleted there)
is left alone and listed as a conflict.

The password comes from --password-file or the MAILHAUL_PASSWORD environment
variable, never from the command line.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runImportIMAP(cmd.Context(), args, &f)
		},
	}
	fl := cmd.Flags()
	f.addTargetFlags(fl)
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the plan; create and send nothing")
	fl.BoolVar(&f.verify, "verify", false, "compare the target with the archives at the end (as mailhaul compare imap); a difference makes the exit code 3")
	fl.BoolVar(&f.applyDeletions, "apply-deletions", false, "delete on the target the messages mailhaul placed that the last delta's state says the source deleted (default: list them)")
	fl.StringVar(&f.state, "state", "", "directory for the journal (default: beside the first archive)")
	fl.StringVar(&f.report, "report", "", "write the JSON report here")
	fl.IntVar(&f.connections, "connections", 0, "parallel connections (default: the provider's)")
	fl.IntVar(&f.errorBudget, "error-budget", 0, "NO/BAD answers after which a connection is replaced (default 9)")
	fl.Float64Var(&f.maxBytesPerSecond, "max-bytes-per-second", 0, "upload at most this many bytes per second")
	fl.Float64Var(&f.maxMessagesPerSecond, "max-messages-per-second", 0, "upload at most this many messages per second")
	fl.DurationVar(&f.settle, "settle", 5*time.Second, "how long a command cut off by a dropped connection or a killed run may still land on the server; such messages are looked for only after it")
	// --url and --user are checked by the run, not by the flag parser, so
	// that a missing one still gets a result object and a report.
	return cmd
}

func (a *app) runImportIMAP(ctx context.Context, archives []string, f *importIMAPFlags) error {
	run := &importRun{a: a, kind: "imap", user: f.user, target: targetOf(f.url), archives: archives, reportPath: f.report}
	opt, err := imapOptions(f)
	if err != nil {
		return run.fail(ctx, "arguments", err)
	}
	// With --admin the login is still --user's mailbox: that is the owner.
	if err := importer.CheckArchiveUser(archives, f.user, f.archiveUser); err != nil {
		return run.fail(ctx, "archives", err)
	}
	req := importer.Request{User: f.user, Archives: archives, StateDir: journal.DefaultDir(f.state, archives), DryRun: f.dryRun,
		ApplyDeletions: f.applyDeletions}
	if !a.quiet && !a.json {
		req.Logf = func(format string, args ...any) {
			fmt.Fprintln(a.stderr, termtext.Escape(fmt.Sprintf(format, args...)))
		}
	}
	var prog *display
	if !f.dryRun {
		prog = a.newProgress("import "+f.user, archiveTotals(archives, format.KindMessage))
		req.Progress = func(e progress.Event) {
			e.Stage, e.User = "import", f.user
			prog.update(e)
		}
	}
	kind, err := findTarget("imap")
	var tg importer.Target
	if err == nil {
		tg, err = kind.new(targetSettings{Where: f.url, Options: *opt})
	}
	if err != nil {
		if prog != nil {
			prog.done()
		}
		return run.fail(ctx, "arguments", err)
	}
	res, err := tg.Import(ctx, req)
	if prog != nil {
		prog.done()
	}
	if res == nil {
		return run.fail(ctx, "connect", err)
	}
	if f.dryRun && err == nil {
		return a.printPlan(f.report, res)
	}
	err = run.finish(ctx, res.Report, "import", err)
	if f.verify && (err == nil || errors.Is(err, errPartial)) {
		return a.verifyImport(ctx, tg, req, err)
	}
	return err
}

// addTargetFlags adds the flags that say how to log in to the target and
// which mailbox each archive folder goes to: import imap's and compare
// imap's, so both reach and map alike.
func (f *importIMAPFlags) addTargetFlags(fl *pflag.FlagSet) {
	f.addFlags(fl, "target")
	fl.StringVar(&f.user, "user", "", "the mailbox owner's login (required)")
	fl.StringVar(&f.archiveUser, "archive-user", "", archiveUserHelp)
	fl.StringVar(&f.provider, "provider", "generic", "target profile: "+strings.Join(imapimport.ProfileNames(), ", "))
	fl.StringVar(&f.folderMap, "folder-map", "", `file of "source/path = target/path" lines (a folder and every folder below it; the longest match wins)`)
}

// imapOptions turns flags into the target's options, reading secrets from
// files or the environment only, and makes the limits the run takes part
// in: the provider's connection cap, the throttling window and the pacer.
func imapOptions(f *importIMAPFlags) (*imapimport.Options, error) {
	acct, err := f.account()
	if err != nil {
		return nil, err
	}
	lim, err := imapconn.ProviderLimits(f.provider)
	if err != nil {
		return nil, err
	}
	connCap := max(lim.MaxConnections, 1) // what the provider allows one user
	opt := &imapimport.Options{Account: acct, Provider: f.provider, Connections: f.connections, ErrorBudget: f.errorBudget,
		Settle: f.settle, Limits: imapimport.Limits{Window: ratelimit.NewAIMD(1, 1, 1),
			Conns: semaphore.NewWeighted(int64(connCap)), Pacer: ratelimit.NewPacer(f.maxBytesPerSecond, f.maxMessagesPerSecond)}}
	if f.folderMap != "" {
		fh, err := os.Open(f.folderMap)
		if err != nil {
			return nil, fmt.Errorf("--folder-map: %w", err)
		}
		defer fh.Close()
		if opt.FolderMap, err = imapimport.ParseFolderMap(fh, f.folderMap); err != nil {
			return nil, err
		}
	}
	return opt, nil
}
