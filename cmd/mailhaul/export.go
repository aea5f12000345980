package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/maildir"
	"github.com/mailhaul/mailhaul/export/pim"
	"github.com/mailhaul/mailhaul/internal/cause"
	"github.com/mailhaul/mailhaul/internal/termtext"
)

// exportFlags are the flags every export source takes.
type exportFlags struct {
	from      string // the source kind, for export --from
	user      string
	src       string
	out       string
	after     string
	since     string
	overlap   time.Duration
	contacts  []string
	calendars []string
	compress  string
	level     int
	overwrite bool
	report    string
	layout    string   // maildir only
	files     []string // zimbra: --from-tgz and the arguments after it
	accountID string   // zimbra: --account-id
	// dav adds a CardDAV/CalDAV account's contacts and calendars to the
	// archive (--dav-url...: export_dav.go).
	dav davSourceFlags
}

// exportCommand is "export --from KIND" and, the same, "export KIND" for
// each source kind of the registry.
func (a *app) exportCommand() *cobra.Command {
	var f exportFlags
	kinds := sourceKinds()
	cmd := &cobra.Command{
		Use:   "export --from KIND --user ADDRESS --src PATH --out DIR",
		Short: "Export a mailbox to a per-user archive",
		Long: "Export a mailbox to a per-user archive: export --from KIND, or export KIND, where KIND is one of " +
			kindNames(kinds, func(k sourceKind) string { return k.name }) + ".\n\n" + exportHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.from == "" {
				if cmd.Flags().NFlag() == 0 {
					return cmd.Help()
				}
				return errors.New("export: give the source kind with --from KIND, or as export KIND")
			}
			k, err := findSource(f.from)
			if err != nil {
				return err
			}
			for _, name := range []string{"src", "out"} {
				if !cmd.Flags().Changed(name) {
					return fmt.Errorf("export --from %s: --%s is required", k.name, name)
				}
			}
			return a.exportKind(cmd.Context(), k, &f)
		},
	}
	cmd.Flags().StringVar(&f.from, "from", "", "the source kind: "+kindNames(kinds, func(k sourceKind) string { return k.name }))
	exportFlagSet(cmd, &f, "source", true)
	for _, k := range kinds {
		if k.name == "zimbra" { // its files come with --from-tgz
			cmd.AddCommand(a.exportZimbraCommand(k))
			continue
		}
		cmd.AddCommand(a.exportSourceCommand(k))
	}
	cmd.AddCommand(a.exportDAVCommand())
	cmd.AddCommand(a.exportIMAPCommand())
	return cmd
}

func (a *app) exportSourceCommand(k sourceKind) *cobra.Command {
	var f exportFlags
	cmd := &cobra.Command{
		Use:   k.name + " --user ADDRESS --src PATH --out DIR",
		Short: k.short,
		Long:  k.short + ".\n\n" + exportHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.exportKind(cmd.Context(), k, &f)
		},
	}
	exportFlagSet(cmd, &f, k.name, k.name == "maildir")
	if k.name == "maildir" || k.name == "mbox" {
		addDAVSource(cmd, &f.dav)
	}
	for _, name := range []string{"user", "src", "out"} {
		cmd.MarkFlagRequired(name)
	}
	return cmd
}

// exportFlagSet adds the flags of an export from src (a kind's name, or
// "source"); layout adds maildir's --layout.
func exportFlagSet(cmd *cobra.Command, f *exportFlags, src string, layout bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.user, "user", "", "the mailbox owner, usually an e-mail address (required)")
	fl.StringVar(&f.src, "src", "", "the "+src+" to export (required)")
	fl.StringArrayVar(&f.contacts, "contacts", nil, "a .vcf file to add as an address book named after the file (repeatable)")
	fl.StringArrayVar(&f.calendars, "calendar", nil, "an .ics file to add as a calendar named after the file (repeatable)")
	archiveFlagSet(cmd, f)
	if layout {
		what := "folder layout"
		if src == "source" {
			what = "maildir: " + what
		}
		fl.StringVar(&f.layout, "layout", "auto", what+": maildir++ (.Work.2024), fs (Work/2024) or auto; give fs for a LAYOUT=fs root whose INBOX is elsewhere")
	}
}

// archiveFlagSet adds the flags of the archive an export writes: where,
// the cutoff, the compression, the report.
func archiveFlagSet(cmd *cobra.Command, f *exportFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.out, "out", "", "directory to write <user>.tgz and <user>.tgz.sha256 into (required)")
	fl.StringVar(&f.after, "after", "", "only items received at or after this time: RFC 3339, YYYY-MM-DD or MM/DD/YYYY (local time)")
	fl.StringVar(&f.since, "since", "", "only items received since this earlier archive was started, less --overlap")
	fl.DurationVar(&f.overlap, "overlap", time.Hour, "safety overlap subtracted from --since's start time")
	fl.StringVar(&f.compress, "compress", "gzip", "archive compression: gzip (.tgz) or zstd (.tar.zst)")
	fl.IntVar(&f.level, "level", 0, "compression level (0: the default for the codec)")
	fl.BoolVar(&f.overwrite, "overwrite", false, "replace an existing archive of the same name")
	fl.StringVar(&f.report, "report", "", "write the JSON report here (default: beside the archive, <archive>.report.json)")
	cmd.MarkFlagsMutuallyExclusive("after", "since")
}

// exportHelp says what every export reads and refuses (README: Export).
const exportHelp = `Nothing outside --src is read: symbolic links below it are not followed, and FIFOs,
sockets and devices are not opened; each is listed as an error and the export ends with
exit 3. A --src, --contacts or --calendar whose last component is a symbolic link is
refused, naming its target (pass that if it is trusted); links above it are followed.
A Maildir --src must hold cur/ or new/ directories (tmp/ alone is not enough), or be a
LAYOUT=fs root with an INBOX directory; a directory above the Maildir is refused, naming
the Maildir found below. LAYOUT=fs is guessed only then: a LAYOUT=fs root whose INBOX
lives elsewhere needs --layout fs. A Maildir++ root whose INBOX directories are gone
(only .Folder directories hold messages) is refused, saying so; --layout maildir++
exports it with an empty INBOX. A .Folder directory is never suggested as --src.
Messages renamed or delivered while the export runs are found again by their unique name;
deleted ones are counted as expunged. In each --contacts and --calendar file, a UID names
one object: a later, different item with a used UID gets a new one (noted), an identical
copy is exported once (counted). A vCard file given as --calendar, or an .ics given as
--contacts, is refused. Exit codes: 0 all exported, 3 some items failed (each listed in
the report beside the archive), 1 the export failed, 130 stopped by SIGINT or SIGTERM.
The result (--json) and the report (--report, default beside the archive) are written
however the export ends, with its status, and for a run that stopped early the stage
("arguments", "export", "write") and the error.`

// exportKind runs the export of one source kind, plus the contact and
// calendar files, into one archive, and prints its report.
func (a *app) exportKind(ctx context.Context, k sourceKind, f *exportFlags) error {
	src, err := k.new(sourceSettings{Path: f.src, Layout: f.layout, Files: f.files, AccountID: f.accountID})
	if err != nil {
		return err
	}
	sources, err := a.withContacts(src, f)
	if err != nil {
		return err
	}
	return a.runExport(ctx, f, export.Job{User: f.user, Kind: k.name, Path: f.src, PathIsDir: k.dir, Source: sources})
}

// withContacts puts src into one archive with the contacts and calendars
// every export command takes: --contacts/--calendar files and a
// CardDAV/CalDAV account (--dav-url).
func (a *app) withContacts(src export.Source, f *exportFlags) (export.Composite, error) {
	sources := export.Composite{src}
	for _, path := range f.contacts {
		sources = append(sources, pim.Contacts{Path: path})
	}
	for _, path := range f.calendars {
		sources = append(sources, pim.Calendar{Path: path})
	}
	return f.dav.appendTo(sources, f.user, f.since, a.retryLog)
}

// runExport runs job, with the settings every export takes from f, and
// prints its report.
func (a *app) runExport(ctx context.Context, f *exportFlags, job export.Job) error {
	job.Out, job.After, job.Since, job.Overlap = f.out, f.after, f.since, f.overlap
	job.Compress, job.Level, job.Overwrite = f.compress, f.level, f.overwrite
	job.ReportPath, job.Tool, job.Explain = f.report, "mailhaul "+version, explainExport
	prog := a.newProgress("export "+job.User, nil)
	job.Progress = prog.update
	rep, err := export.Run(ctx, job)
	prog.done()
	var text func()
	if rep.Stage == "" { // the export ran to its end
		text = func() { a.printExportReport(rep) }
	}
	a.writeResult("", rep, text)
	switch {
	case err != nil && rep.Stage == "arguments":
		return cause.MarkUsage(err)
	case err != nil:
		return err
	case rep.Status != "ok":
		return errPartial
	}
	return nil
}

// explainExport words the export's errors in the command line's terms:
// which flag was wrong, and which --src was meant.
func explainExport(err error) error {
	switch {
	case errors.Is(err, export.ErrNoUser):
		return errEmptyUser
	case errors.Is(err, pim.ErrCalendarFile):
		return fmt.Errorf("--contacts: %w; give it with --calendar", err)
	case errors.Is(err, pim.ErrContactsFile):
		return fmt.Errorf("--calendar: %w; give it with --contacts", err)
	}
	if ae, ok := errors.AsType[*export.ArgError](err); ok {
		return fmt.Errorf("--%s: %w", ae.Name, ae.Err)
	}
	if nm, ok := errors.AsType[*maildir.NotMaildirError](err); ok {
		msg := nm.Reason()
		if nm.Below != "" { // a name found on disk: escaped
			msg += "; did you mean --src " + termtext.Escape(nm.Below) + "?"
		}
		return errors.New(msg)
	}
	return err
}
