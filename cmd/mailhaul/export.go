package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/maildir"
	"github.com/mailhaul/mailhaul/export/mbox"
	"github.com/mailhaul/mailhaul/export/pim"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/termtext"
)

// exportFlags are the flags every export source takes.
type exportFlags struct {
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
	layout    string // maildir only
}

func (a *app) exportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export a mailbox to a per-user archive",
	}
	cmd.AddCommand(
		a.exportSourceCommand("maildir", "Export a Maildir, Maildir++ or fs-layout Maildir",
			func(f *exportFlags) (export.Source, error) {
				layout, err := maildir.ParseLayout(f.layout)
				return &maildir.Source{Root: f.src, Layout: layout}, err
			}),
		a.exportSourceCommand("mbox", "Export an mbox file or a tree of them (Thunderbird layout)",
			func(f *exportFlags) (export.Source, error) { return &mbox.Source{Path: f.src}, nil }),
	)
	return cmd
}

func (a *app) exportSourceCommand(kind, short string, newSource func(f *exportFlags) (export.Source, error)) *cobra.Command {
	var f exportFlags
	cmd := &cobra.Command{
		Use:   kind + " --user ADDRESS --src PATH --out DIR",
		Short: short,
		Long:  short + ".\n\n" + exportHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, err := newSource(&f)
			if err != nil {
				return err
			}
			return a.runExport(cmd.Context(), kind, src, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.user, "user", "", "the mailbox owner, usually an e-mail address (required)")
	fl.StringVar(&f.src, "src", "", "the "+kind+" to export (required)")
	fl.StringVar(&f.out, "out", "", "directory to write <user>.tgz and <user>.tgz.sha256 into (required)")
	fl.StringVar(&f.after, "after", "", "only items received at or after this time: RFC 3339, YYYY-MM-DD or MM/DD/YYYY (local time)")
	fl.StringVar(&f.since, "since", "", "only items received since this earlier archive was started, less --overlap")
	fl.DurationVar(&f.overlap, "overlap", time.Hour, "safety overlap subtracted from --since's start time")
	fl.StringArrayVar(&f.contacts, "contacts", nil, "a .vcf file to add as an address book named after the file (repeatable)")
	fl.StringArrayVar(&f.calendars, "calendar", nil, "an .ics file to add as a calendar named after the file (repeatable)")
	fl.StringVar(&f.compress, "compress", "gzip", "archive compression: gzip (.tgz) or zstd (.tar.zst)")
	fl.IntVar(&f.level, "level", 0, "compression level (0: the default for the codec)")
	fl.BoolVar(&f.overwrite, "overwrite", false, "replace an existing archive of the same name")
	fl.StringVar(&f.report, "report", "", "write the JSON report here (default: beside the archive, <archive>.report.json)")
	if kind == "maildir" {
		fl.StringVar(&f.layout, "layout", "auto", "folder layout: maildir++ (.Work.2024), fs (Work/2024) or auto; give fs for a LAYOUT=fs root whose INBOX is elsewhere")
	}
	for _, name := range []string{"user", "src", "out"} {
		cmd.MarkFlagRequired(name)
	}
	cmd.MarkFlagsMutuallyExclusive("after", "since")
	return cmd
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

func (a *app) runExport(ctx context.Context, kind string, src export.Source, f *exportFlags) error {
	run := &exportRun{a: a, ctx: ctx, kind: kind, f: f,
		rec: &exportReport{Event: "export", User: f.user, Source: format.Source{Kind: kind}, Started: time.Now().UTC(), Errors: []format.Problem{}}}
	if strings.TrimSpace(f.user) == "" {
		return run.fail("arguments", fmt.Errorf("export %s: %w", kind, errEmptyUser))
	}
	comp, err := format.ParseCompression(f.compress)
	if err != nil {
		return run.fail("arguments", err)
	}
	after, err := cutoff(f)
	if err != nil {
		return run.fail("arguments", err)
	}
	run.name = format.ArchiveName(f.user, after, comp)
	if fi, err := os.Stat(f.src); err != nil {
		return run.fail("arguments", fmt.Errorf("export %s for %s: %w", kind, f.user, err))
	} else if kind == "maildir" && !fi.IsDir() {
		return run.fail("arguments", fmt.Errorf("export maildir for %s: %s is not a directory", f.user, f.src))
	}
	if err := os.MkdirAll(f.out, format.PrivateDir); err != nil {
		return run.fail("arguments", err)
	}
	host, _ := os.Hostname()
	abs, _ := filepath.Abs(f.src)
	m := format.Manifest{
		User:    f.user,
		Source:  format.Source{Kind: kind, Host: host, Path: abs},
		Started: run.rec.Started,
		After:   after,
		Tool:    "mailhaul " + version,
	}
	run.rec.Source, run.rec.After = m.Source, after
	arch, err := format.Create(f.out, m, &format.CreateOptions{
		WriterOptions: format.WriterOptions{Compression: comp, Level: f.level},
		Overwrite:     f.overwrite,
	})
	if err != nil {
		return run.fail("write", err)
	}
	prog := a.newProgress("export "+f.user, nil)
	counted := &errorCount{Sink: export.WithProgress(arch, prog.update)}
	err = fillArchive(ctx, counted, src, f, export.Options{After: after})
	prog.done()
	if err != nil {
		arch.Abort()
		if nm, ok := errors.AsType[*maildir.NotMaildirError](err); ok {
			// Say it in the command line's terms: which --src was meant.
			msg := fmt.Sprintf("export maildir for %s: %s", f.user, nm.Reason())
			if nm.Below != "" { // a name found on disk: escaped
				msg += "; did you mean --src " + termtext.Escape(nm.Below) + "?"
			}
			return run.fail("export", errors.New(msg))
		}
		return run.fail("export", fmt.Errorf("export %s for %s: %w", kind, f.user, err))
	}
	if err := arch.Close(); err != nil {
		return run.fail("write", err)
	}
	rep := newExportReport(m, arch.Path(), arch.Summary(), counted.n)
	reportPath := f.report
	if reportPath == "" {
		reportPath = arch.Path() + ".report.json"
	}
	if err := a.writeResult(reportPath, rep, func() { a.printExportReport(rep, reportPath) }); err != nil {
		return err
	}
	if rep.Status != "ok" {
		return errPartial
	}
	return nil
}

// exportRun is an export under way, for the record of a run that stops
// early.
type exportRun struct {
	a    *app
	ctx  context.Context
	kind string
	f    *exportFlags
	name string // the archive's file name, once known
	rec  *exportReport
}

// fail ends an export that stopped at stage with err: the result and the
// report file (--report, or beside the archive it would have been) say
// so, as for the importers. The error itself is printed by run.
func (r *exportRun) fail(stage string, err error) error {
	r.rec.Status, r.rec.Stage, r.rec.Error = endStatus(r.ctx), stage, err.Error()
	r.rec.Finished = time.Now().UTC()
	r.rec.Seconds = r.rec.Finished.Sub(r.rec.Started).Seconds()
	reportPath := r.f.report
	if fi, serr := os.Stat(r.f.out); reportPath == "" && r.name != "" && serr == nil && fi.IsDir() {
		reportPath = filepath.Join(r.f.out, r.name+".report.json")
	}
	if werr := r.a.writeResult(reportPath, r.rec, nil); werr != nil {
		return errors.Join(err, werr)
	}
	return err
}

// errorCount counts the items reported as not exported (see
// newExportReport): exit 3 when there is one, never for warnings alone.
type errorCount struct {
	export.Sink
	n int
}

func (c *errorCount) AddError(p format.Problem) { c.n++; c.Sink.AddError(p) }

// fillArchive runs the source and adds the contact and calendar files.
func fillArchive(ctx context.Context, sink export.Sink, src export.Source, f *exportFlags, opt export.Options) error {
	if err := src.Export(ctx, sink, opt); err != nil {
		return err
	}
	for _, path := range f.contacts {
		if err := pim.AddContacts(ctx, sink, collectionName(path), path, opt); err != nil {
			if errors.Is(err, pim.ErrCalendarFile) {
				return fmt.Errorf("--contacts: %w; give it with --calendar", err)
			}
			return err
		}
	}
	for _, path := range f.calendars {
		if err := pim.AddCalendar(ctx, sink, collectionName(path), path, opt); err != nil {
			if errors.Is(err, pim.ErrContactsFile) {
				return fmt.Errorf("--calendar: %w; give it with --contacts", err)
			}
			return err
		}
	}
	return nil
}

// collectionName names an address book or calendar after its file.
func collectionName(path string) string {
	base := filepath.Base(path)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// cutoff works out the incremental cutoff from --after or --since.
func cutoff(f *exportFlags) (time.Time, error) {
	switch {
	case f.after != "":
		return export.ParseCutoff(f.after, time.Local)
	case f.since != "":
		prev, err := format.Open(f.since, nil)
		if err != nil {
			return time.Time{}, fmt.Errorf("--since: %w", err)
		}
		defer prev.Close()
		m := prev.Manifest()
		if m.User != f.user {
			return time.Time{}, fmt.Errorf("--since: %s is %s's archive, not %s's", f.since, m.User, f.user)
		}
		if f.overlap < 0 {
			return time.Time{}, errors.New("--overlap must not be negative")
		}
		return m.Started.Add(-f.overlap), nil
	}
	return time.Time{}, nil
}
