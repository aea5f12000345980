package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/journal"
)

// restoreKinds are the registry's local targets, for help and errors.
func restoreKinds() []string {
	var kinds []string
	for _, k := range targetKinds() {
		if k.local && k.new != nil {
			kinds = append(kinds, k.name)
		}
	}
	return kinds
}

// findRestoreTarget resolves --to among the registry's local targets.
func findRestoreTarget(name string) (targetKind, error) {
	k, err := findTarget(name)
	if err == nil && !k.local {
		err = fmt.Errorf("%s is a server; load it with import %s", name, name)
	}
	if err != nil {
		return k, fmt.Errorf("--to must be one of %s, not %q", strings.Join(restoreKinds(), ", "), name)
	}
	return k, nil
}

type restoreFlags struct {
	to, after, before, report, state string
	folders                          []string
	dryRun                           bool
}

func (a *app) restoreCommand() *cobra.Command {
	f := &restoreFlags{}
	cmd := &cobra.Command{
		Use:   "restore ARCHIVE... --to KIND DIR",
		Short: "Restore archives into local files: a Maildir, mbox files or .eml files",
		Long: `Restore one user's archives (a full archive, then its deltas, in order) into the
directory DIR, the last argument, as local files:

  --to maildir  a Maildir++ tree as Dovecot reads it: INBOX at DIR, a ".Folder.Sub"
                directory per folder (names in modified UTF-7), flags in the file
                names, keywords in each folder's dovecot-keywords, the received time
                as the file's mtime and in its name, subscribed folders in
                "subscriptions". Contacts and calendars are skipped (restore them
                with --to eml).
  --to mbox     an mboxrd file per folder in a Thunderbird-style tree (INBOX is
                DIR/Inbox, Work/2024 is DIR/Work.sbd/2024), the received time in
                each From_ line, flags and keywords in Status, X-Status and
                X-Keywords. A journal (--state; default beside the first archive)
                records what was appended, so a re-run appends only what is new and
                an interrupted run is cut back to its last whole message.
  --to eml      an .eml file per message (exactly the archive's bytes, the
                received time as its mtime) in a folder tree, and one .vcf per
                address book and one .ics per calendar.

Restoring again, or a delta after its full archive, adds only what is missing:
a message's file name is derived from the message, so one already there is found
and not written twice (in a Maildir a message whose flags changed in a later
archive gets the later flags; an mbox keeps the flags it was first written with,
and the report notes each such message with both sets). Nothing is written outside DIR, whatever the archive's folder names
or links inside DIR; directories are created 0700 and files 0600.

For mbox and eml, each folder level is its own file name with '%', '/', '\', ':',
control characters and a leading '.' written as '%' and two hex digits (a:b is
a%3Ab), so two folders never share a file, whatever the order or the run.

--folder (repeatable) restores a folder and those below it; --after and --before
restore what was received at or after, and before, a time (RFC 3339, YYYY-MM-DD
or MM/DD/YYYY, local time). --dry-run says what would be written, per folder, and
writes nothing. An item that cannot be written is a failure naming it and the
reason (exit 3); a damaged archive ends the run (exit 1). The result (--json,
--report) is written however the run ends; SIGINT or SIGTERM exit 130.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runRestore(cmd.Context(), args[:len(args)-1], args[len(args)-1], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.to, "to", "", "what to write: "+strings.Join(restoreKinds(), ", "))
	fl.StringArrayVar(&f.folders, "folder", nil, "restore only this folder and those below it (an archive folder path such as Work/2024; repeatable)")
	fl.StringVar(&f.after, "after", "", "only items received at or after this time: RFC 3339, YYYY-MM-DD or MM/DD/YYYY (local time)")
	fl.StringVar(&f.before, "before", "", "only items received before this time: RFC 3339, YYYY-MM-DD or MM/DD/YYYY (local time)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the plan; write nothing")
	fl.StringVar(&f.report, "report", "", "write the JSON report here")
	fl.StringVar(&f.state, "state", "", "directory for the journal (--to mbox; default: beside the first archive)")
	return cmd
}

func (a *app) runRestore(ctx context.Context, archives []string, dir string, f *restoreFlags) error {
	run := &importRun{a: a, verb: "restore", kind: f.to, target: dir, archives: archives, reportPath: f.report}
	kind, err := findRestoreTarget(f.to)
	if err != nil {
		return run.fail(ctx, "arguments", err)
	}
	sel, err := restoreSelect(f)
	if err != nil {
		return run.fail(ctx, "arguments", err)
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() || format.IsArchiveName(dir) {
		return run.fail(ctx, "arguments", fmt.Errorf("the last argument is the directory to restore into; %s is not a directory", dir))
	}
	user, err := importer.ArchivesUser(archives)
	if err != nil {
		return run.fail(ctx, "archives", err)
	}
	run.user = user
	prog := a.newProgress("restore "+user, archiveTotals(archives, format.KindMessage, format.KindContact, format.KindEvent, format.KindTask))
	req := importer.Request{User: user, Archives: archives, DryRun: f.dryRun, Select: sel,
		StateDir: journal.DefaultDir(f.state, archives), Progress: prog.update}
	target, err := kind.new(targetSettings{Where: dir})
	if err != nil {
		prog.done()
		return run.fail(ctx, "arguments", err)
	}
	res, err := target.Import(ctx, req)
	prog.done()
	if res == nil || res.Report == nil {
		return run.fail(ctx, "connect", err)
	}
	res.Report.Event = "restore"
	if f.dryRun && err == nil && res.Plan != nil {
		return a.printPlan(f.report, res)
	}
	return run.finish(ctx, res.Report, "import", err)
}

// restoreSelect turns --folder, --after and --before into a selection.
func restoreSelect(f *restoreFlags) (importer.Select, error) {
	sel := importer.Select{Folders: f.folders}
	for _, p := range f.folders {
		if safe, changed := format.SafeFolderPath(p); changed || safe == "" {
			return sel, fmt.Errorf("--folder %q is not a folder path (levels separated by /, none empty, . or ..)", p)
		}
	}
	var err error
	for _, c := range []struct {
		flag, value string
		t           *time.Time
	}{{"--after", f.after, &sel.After}, {"--before", f.before, &sel.Before}} {
		if c.value == "" {
			continue
		}
		if *c.t, err = export.ParseCutoff(c.value, time.Local); err != nil {
			return sel, fmt.Errorf("%s: %w", c.flag, err)
		}
	}
	if !sel.After.IsZero() && !sel.Before.IsZero() && !sel.After.Before(sel.Before) {
		return sel, fmt.Errorf("--after %s is not before --before %s: nothing would be restored", f.after, f.before)
	}
	return sel, nil
}
