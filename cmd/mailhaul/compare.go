package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mailhaul/mailhaul/compare"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/journal"
	"github.com/mailhaul/mailhaul/internal/termtext"
)

// comparer is a target that can compare itself with the archives (see
// package compare): importer/imap's and importer/dav's Target.
type comparer interface {
	Compare(ctx context.Context, req importer.Request) (*compare.Result, error)
}

func (a *app) compareCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "compare",
		Short: "Compare a target with one user's archives: is everything there, once, with its flags?",
		Long: `Compare a target with the state one user's archives describe: a full archive
and its deltas, in order; when the last one carries a state record (a delta
export), that record is what the source held (messages, their folders and
flags; contacts and events by UID), else every item of the archives.

Each archive folder is compared with the mailbox or collection the import
maps it to (the same flags as the import): messages by Message-ID and size
(with their flags), contacts and events by UID and meaning. The table shows
the difference target − source per folder; then each message missing on the
target, each one copied there more often than the source held it, each flag
or content difference, and the target's extra items (the user's own new mail:
listed, never an error). Exit 0: equal; 3: something mailhaul should have
carried differs (each listed); 1: the comparison could not be made.`,
	}
	cmd.AddCommand(a.compareIMAPCommand(), a.compareDAVCommand())
	return cmd
}

type compareIMAPFlags struct {
	importIMAPFlags // the login and the folder mapping, as import imap
	report          string
}

func (a *app) compareIMAPCommand() *cobra.Command {
	var f compareIMAPFlags
	cmd := &cobra.Command{
		Use:   "imap ARCHIVE... --url imaps://host[:port] --user LOGIN",
		Short: "Compare an IMAP mailbox with one user's archives",
		Long: `Compare an IMAP mailbox with one user's archives, folder by folder, with the
login, TLS and folder mapping flags of import imap. It changes nothing.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runCompareIMAP(cmd.Context(), args, &f)
		},
	}
	fl := cmd.Flags()
	f.addTargetFlags(fl)
	fl.StringVar(&f.report, "report", "", "write the JSON result here")
	return cmd
}

func (a *app) runCompareIMAP(ctx context.Context, archives []string, f *compareIMAPFlags) error {
	opt, err := imapOptions(&f.importIMAPFlags)
	if err != nil {
		return fmt.Errorf("compare imap: %w", err)
	}
	return a.compareTarget(ctx, "imap", f.url, *opt, importer.Request{User: f.user, Archives: archives}, f.archiveUser, f.report)
}

type compareDAVFlags struct {
	importDAVFlags // the account and the collection mapping, as import dav
	report         string
}

func (a *app) compareDAVCommand() *cobra.Command {
	// The import-only flags keep their defaults.
	f := compareDAVFlags{importDAVFlags: importDAVFlags{bulk: "auto", prefer: "target"}}
	cmd := &cobra.Command{
		Use:   "dav ARCHIVE... --url https://host/ --user LOGIN",
		Short: "Compare a CardDAV/CalDAV account with one user's archives",
		Long: `Compare a CardDAV/CalDAV account with the contacts, events and tasks of one
user's archives, collection by collection, with the account and collection
flags of import dav (the journal under --state says where earlier imports
put each folder): objects by UID, their content by meaning (parsed, as the
import compares what it sent, so that a server's own rewriting counts for
nothing). It changes nothing.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runCompareDAV(cmd.Context(), args, &f)
		},
	}
	fl := cmd.Flags()
	f.addTargetFlags(fl)
	fl.StringVar(&f.report, "report", "", "write the JSON result here")
	return cmd
}

func (a *app) runCompareDAV(ctx context.Context, archives []string, f *compareDAVFlags) error {
	opt, err := davOptions(&f.importDAVFlags)
	if err != nil {
		return fmt.Errorf("compare dav: %w", err)
	}
	req := importer.Request{User: f.user, Archives: archives, StateDir: journal.DefaultDir(f.state, archives)}
	return a.compareTarget(ctx, "dav", f.url, *opt, req, f.archiveUser, f.report)
}

// compareTarget checks that the archives are req.User's (as the import
// does, archiveUser confirming another's), makes the target of kind (the
// registry's, as the import makes it) and compares.
func (a *app) compareTarget(ctx context.Context, kind, where string, opt any, req importer.Request, archiveUser, reportPath string) error {
	if err := importer.CheckArchiveUser(req.Archives, req.User, archiveUser); err != nil {
		return fmt.Errorf("compare %s: %w", kind, err)
	}
	k, err := findTarget(kind)
	var tg importer.Target
	if err == nil {
		tg, err = k.new(targetSettings{Where: where, Options: opt})
	}
	if err != nil {
		return fmt.Errorf("compare %s: %w", kind, err)
	}
	return a.runCompare(ctx, tg, req, reportPath)
}

// runCompare compares and prints; it returns errPartial when the target
// differs.
func (a *app) runCompare(ctx context.Context, tg importer.Target, req importer.Request, reportPath string) error {
	c, ok := tg.(comparer)
	if !ok {
		return fmt.Errorf("compare %s: this target cannot compare", tg.Kind())
	}
	res, err := c.Compare(ctx, req)
	if err != nil {
		return fmt.Errorf("compare %s: %w", tg.Kind(), err)
	}
	if err := a.writeResult(reportPath, res, func() { a.printCompare(res) }); err != nil {
		return err
	}
	if res.Differs() {
		return errPartial
	}
	return nil
}

// verifyImport runs the comparison after an import (--verify): its
// statement is the last line, and a difference makes the run partial.
// importErr is what the import returned (nil or errPartial).
func (a *app) verifyImport(ctx context.Context, tg importer.Target, req importer.Request, importErr error) error {
	req.DryRun, req.Progress, req.Logf = false, nil, nil
	if err := a.runCompare(ctx, tg, req, ""); err != nil {
		return err
	}
	return importErr
}

// printCompare prints imapsync's "difference target − source" table,
// then each difference, then the statement.
func (a *app) printCompare(r *compare.Result) {
	esc := termtext.Escape
	w := a.stdout
	unit := "messages"
	if r.Kind == "dav" {
		unit = "objects"
	}
	names := make([]string, len(r.Folders))
	width := len("folder")
	for i, f := range r.Folders {
		name := f.Target
		if len(f.Source) != 1 || f.Source[0] != f.Target {
			name = strings.Join(f.Source, ", ") + " -> " + f.Target
		}
		if f.Absent {
			name += " (absent)"
		}
		names[i] = esc(name)
		width = max(width, len(names[i]))
	}
	// imapsync's "difference host2 - host1", target − source, per folder.
	fmt.Fprintf(w, "%-*s %9s %9s %9s %12s %12s %12s\n", width, "folder", "source", "target", "diff", "src bytes", "tgt bytes", "diff bytes")
	for i, f := range r.Folders {
		fmt.Fprintf(w, "%-*s %9d %9d %+9d %12d %12d %+12d\n", width, names[i], f.SourceCount, f.TargetCount,
			f.TargetCount-f.SourceCount, f.SourceBytes, f.TargetBytes, f.TargetBytes-f.SourceBytes)
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "  note:", esc(n))
	}
	for _, f := range r.Folders {
		list := func(label string, ds []compare.Difference) {
			for _, d := range ds {
				fmt.Fprintf(w, "%s: %s: %s: %s\n", label, esc(r.User), esc(f.Target), esc(describe(d)))
			}
		}
		list("missing", f.Missing)
		list("duplicate", f.Duplicates)
		list("flags differ", f.Flags)
		list("content differs", f.Content)
		list("extra", f.Extra)
	}
	state := "the archives"
	if r.State != "" {
		state = "the state record of " + r.State
	}
	if !r.Differs() {
		fmt.Fprintf(w, "%s: the target is equal to %s (%d folders; %d extra %s on the target, the user's own)\n",
			esc(r.User), esc(state), len(r.Folders), r.Extra, unit)
		return
	}
	fmt.Fprintf(w, "%s: the target differs from %s: %d missing, %d duplicate copies, %d flag differences, %d content differences (%d extra %s on the target, the user's own)\n",
		esc(r.User), esc(state), r.Missing, r.Duplicates, r.FlagDiffs, r.Content, r.Extra, unit)
}

// describe names one difference for people.
func describe(d compare.Difference) string {
	s := d.Ref
	if d.MessageID != "" {
		s += " " + d.MessageID
	}
	if d.Size > 0 {
		s += fmt.Sprintf(" (%d bytes)", d.Size)
	}
	if d.Copies > 0 {
		s += fmt.Sprintf(": %d more copies than the source", d.Copies)
	}
	if d.Source != nil || d.Target != nil {
		s += fmt.Sprintf(": source %s, target %s", fmtFlagList(d.Source), fmtFlagList(d.Target))
	}
	if d.Reason != "" {
		s += ": " + d.Reason
	}
	return s
}

func fmtFlagList(fs []string) string { return "(" + strings.Join(fs, " ") + ")" }
