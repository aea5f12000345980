// Package localfile is what the restore targets that write local files
// (importer/maildir, importer/mbox, importer/eml) share: the output
// directory, opened as an os.Root so that nothing they write can land
// outside it, with its modes (0700 directories, 0600 files); the folder
// names in it, one per archive folder (a target names folders
// with safename.Escape, reversibly, so no two folders ever share a name,
// whatever the order or the run that meets them); the selection (--folder, --after,
// --before); and the run's bookkeeping, one report, one plan and one
// progress count for the whole run. A target brings only its format's
// rules, as a Restorer: where an item goes, how it is written, what is
// already there, and what is written once at the end (Close).
package localfile

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/progress"
	"github.com/mailhaul/mailhaul/report"
)

// Modes of what restore creates: a mailbox is its owner's alone.
const (
	DirMode  = 0o700
	FileMode = 0o600
)

// Reasons items are left out on purpose, as the report counts them.
const (
	SkipNotSelected = "not selected (--folder, --after, --before)"
)

// Restorer writes one run's items; Restore drives it.
type Restorer interface {
	// Folder is called for each folder record of a selected folder (the
	// reader's notes on it are in the report already).
	Folder(archive string, f format.Folder) error
	Item(ctx context.Context, archive string, e *format.Entry) error
	// Close ends the run after the walk (walkErr is the walk's error):
	// it writes what it gathered, if the walk ended well, and releases
	// what it holds. It is called however the walk ended, so that what
	// was written can still be flushed to disk.
	Close(ctx context.Context, walkErr error) error
}

// Target is a local restore target: kind, the directory it writes under,
// and how a run starts its Restorer.
type Target struct {
	kind, dir string
	start     func(*Run, *os.Root) (Restorer, error)
}

var _ importer.Target = (*Target)(nil)

// NewTarget returns the target of kind writing under dir.
func NewTarget(kind, dir string, start func(*Run, *os.Root) (Restorer, error)) *Target {
	return &Target{kind: kind, dir: dir, start: start}
}

// Kind names the target: "mbox", "eml".
func (t *Target) Kind() string { return t.kind }

// Import restores req.Archives, in order, into the directory (Restore).
// Items that cannot be written are failures in the report, each with its
// reason; the error is only for a run that stopped early (the directory or
// a journal cannot be opened, an archive is damaged, ctx is cancelled),
// and the report says so too.
func (t *Target) Import(ctx context.Context, req importer.Request) (*importer.Result, error) {
	return Restore(ctx, t.kind, t.dir, req, t.start)
}

// Restore is the whole run of a target of kind writing under dir: it
// opens dir as an os.Root, starts the restorer (an error there stops the
// run at "connect"), walks the archives into it (importer.Walk, which owns
// the damaged-archive policy), passing on the folders the selection keeps,
// and finishes the report. The notes the archives carry (a folder read
// under a safe path, items the export could not read) go into the report
// here, the same for every target.
func Restore(ctx context.Context, kind, dir string, req importer.Request, start func(*Run, *os.Root) (Restorer, error)) (*importer.Result, error) {
	run := Start(kind, dir, req)
	if dir == "" {
		return run.Finish(ctx, "connect", fmt.Errorf("%s: no directory given", kind))
	}
	root, err := OpenDir(dir, req.DryRun)
	if err != nil {
		return run.Finish(ctx, "connect", fmt.Errorf("%s: %w", kind, err))
	}
	if root != nil {
		defer root.Close()
	}
	w, err := start(run, root)
	if err != nil {
		return run.Finish(ctx, "connect", err)
	}
	err = importer.Walk(ctx, req.Archives, importer.Visitor{
		Folder: func(archive string, f format.Folder, notes []string) error {
			if !req.Select.KeepFolder(f.Path) {
				return nil
			}
			for _, n := range notes {
				run.Report.Note("folder %q of %s: %s", f.Path, archive, n)
			}
			return w.Folder(archive, f)
		},
		Item: func(archive string, e *format.Entry) error { return w.Item(ctx, archive, e) },
		Summary: func(archive string, s *format.Summary) error {
			if n := len(s.Errors) + s.Truncated; n > 0 {
				run.Report.Note("%s: its export could not read %d item(s) (see its summary); they are not in the archive", archive, n)
			}
			return nil
		},
	})
	if err == nil {
		// Every item is accounted for, whatever Close says.
		run.Report.MarkAllRead()
	}
	stage := "import"
	if cerr := w.Close(ctx, err); err == nil && cerr != nil {
		// Every item was read and handled; only the finishing step failed.
		err, stage = cerr, report.StageFinish
	}
	return run.Finish(ctx, stage, err)
}

// OpenDir opens dir, creating it (0700) unless dryRun. A dry run of a
// directory that does not exist yet returns a nil Root: everything in it
// is to be created.
func OpenDir(dir string, dryRun bool) (*os.Root, error) {
	if !dryRun {
		if err := os.MkdirAll(dir, DirMode); err != nil {
			return nil, err
		}
	}
	root, err := os.OpenRoot(dir)
	if dryRun && errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return root, err
}

// Exists reports whether name is in root (nil: nothing is).
func Exists(root *os.Root, name string) bool {
	if root == nil {
		return false
	}
	_, err := root.Lstat(name)
	return err == nil
}

// ItemID is what tells an item from every other across a full archive
// and its deltas: a hash of its folder, source id and checksum. The same
// item always has the same ID, so a target can find what an earlier run
// wrote (by a file name made from it, or in a journal keyed by it); two
// equal messages of one folder stay two.
func ItemID(it *format.Item) [sha256.Size]byte {
	return sha256.Sum256([]byte(it.Folder + "\x00" + it.SourceID + "\x00" + it.SHA256))
}

// Run is one restore's bookkeeping: its report, its plan for a dry run,
// and its progress.
type Run struct {
	Req    importer.Request
	Report *report.Report
	plan   map[string]*importer.PlanFolder
	order  []string
	done   progress.Event
}

// Start begins the run of a target of kind writing to dir.
func Start(kind, dir string, req importer.Request) *Run {
	rep := report.New(req.User, kind, dir, req.Archives)
	rep.DryRun = req.DryRun
	return &Run{Req: req, Report: rep, plan: map[string]*importer.PlanFolder{},
		done: progress.Event{Stage: "restore", User: req.User}}
}

// Keep reports whether the item is selected, counting it skipped if not.
func (r *Run) Keep(it *format.Item) bool {
	if r.Req.Select.Keep(it.Folder, it.Received) {
		return true
	}
	r.Report.AddSkipped(SkipNotSelected)
	return false
}

// KeepMessage is Keep for a target that holds messages only: anything
// else is counted skipped for notMail, the reason the target gives.
func (r *Run) KeepMessage(it *format.Item, notMail string) bool {
	if it.Kind != format.KindMessage {
		r.Report.AddSkipped(notMail)
		return false
	}
	return r.Keep(it)
}

// PlanFolder returns the plan's line for a folder (creating it), for a
// dry run to count into.
func (r *Run) PlanFolder(source, target, kind string, create bool) *importer.PlanFolder {
	if pf, ok := r.plan[source]; ok {
		return pf
	}
	pf := &importer.PlanFolder{Source: source, Target: target, Kind: kind, Create: create}
	r.plan[source], r.order = pf, append(r.order, source)
	return pf
}

// Settled counts an item a run need not write: one an earlier run wrote
// (present), or, in a dry run, one it would write, into pf's counts too.
// It reports whether that is all there is to do.
func (r *Run) Settled(pf *importer.PlanFolder, it *format.Item, present bool) bool {
	switch {
	case present:
		if r.Req.DryRun {
			pf.Present++
		}
		r.Present(it.Folder)
	case r.Req.DryRun:
		pf.Items++
		pf.Bytes += it.Size
		r.Wrote(it.Folder, it.Size)
	}
	return present || r.Req.DryRun
}

// Wrote counts an item written (or, in a dry run, to be written) into
// folder, with n bytes.
func (r *Run) Wrote(folder string, n int64) {
	r.Report.AddImported(n)
	r.step(folder, n)
}

// Present counts an item an earlier run wrote.
func (r *Run) Present(folder string) {
	r.Report.AddPresent()
	r.step(folder, 0)
}

// Failed records an item that is not in the directory, and why.
func (r *Run) Failed(archive string, it *format.Item, reason string) {
	r.Report.AddFailure(report.Failure{Archive: archive, Folder: it.Folder, Item: it.SourceID, Reason: reason})
	r.step(it.Folder, 0)
}

func (r *Run) step(folder string, n int64) {
	r.done.Folder = folder
	r.done.Items++
	r.done.Bytes += n
	r.Req.Progress.Report(r.done)
}

// Finish closes the report. err is what stopped the run early, at stage,
// if anything did. The result carries the plan for a dry run.
func (r *Run) Finish(ctx context.Context, stage string, err error) (*importer.Result, error) {
	if err != nil {
		r.Report.Stop(stage, err, ctx.Err() != nil)
	} else {
		r.Report.MarkAllRead()
	}
	r.Report.Finish()
	res := &importer.Result{Report: r.Report}
	if r.Req.DryRun {
		res.Plan = &importer.Plan{Folders: []importer.PlanFolder{}}
		for _, s := range r.order {
			res.Plan.Folders = append(res.Plan.Folders, *r.plan[s])
		}
	}
	return res, err
}
