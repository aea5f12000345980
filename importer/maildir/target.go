// Package maildir restores archives into a Maildir++ tree, as Dovecot
// reads it: one ".Folder.Sub" directory per folder (INBOX is the root),
// names in modified UTF-7, flags as info letters in the file names,
// keywords in each folder's dovecot-keywords, the received time as the
// file's mtime and in its unique name, and the subscribed folders in
// "subscriptions". What the files mean is mailbox/maildir's; this package
// decides where each item goes and reports what it did.
//
// A message's file name is derived from the item alone ("<received
// seconds>.M<hash of folder, source id and checksum>.mailhaul"), so a
// re-run, or a delta after its full archive, finds the file an earlier run
// wrote: restore is idempotent by construction and keeps no journal. A
// message already there with other flags is renamed to the archive's
// flags: the tree holds what the archives say, the last archive holding a
// message deciding its flags, whatever happened to the files since an
// earlier run. Nothing is written twice.
//
// The run itself is importer/localfile's, as for the mbox and .eml
// targets: the target directory opened as an os.Root, so no folder name,
// however hostile, and no symbolic link planted in the tree can make it
// write elsewhere; directories 0700 and files 0600; the selection; the
// report, plan and progress. This package adds the Maildir rules: the
// file names, renaming to the archive's flags, dovecot-keywords, the
// subscriptions (merged at the end) and one flush of the file system at
// the end where the platform has syncfs(2).
package maildir

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/importer/localfile"
	mdir "github.com/mailhaul/mailhaul/mailbox/maildir"
	"github.com/mailhaul/mailhaul/report"
)

// Kind is the target kind, as restore --to names it.
const Kind = "maildir"

// SkipNotMail is why contacts and calendars are left out.
const SkipNotMail = "contacts and calendars have no place in a Maildir: restore them with --to eml"

// host is the last part of every unique name restore writes: it marks
// the files a re-run looks for.
const host = "mailhaul"

// New returns the target writing a Maildir++ tree under dir. The
// directory, its modes, the selection, the report, the plan and the
// progress are localfile's; this package brings the Maildir rules.
func New(dir string) importer.Target {
	return localfile.NewTarget(Kind, dir, start)
}

// restore is one run's Maildir state.
type restore struct {
	run  *localfile.Run
	root *os.Root // nil in a dry run whose directory does not exist yet

	folders    map[string]*folderState // by archive folder path
	order      []string                // folder paths in the order first met, for the subscriptions
	listed     *folderState            // the folder whose names are held
	subscribed map[string]bool         // the archives' last word on each folder
	nonMail    map[string]bool         // address books and calendars met, noted once

	buf []byte
}

// start begins a run: the root is INBOX, whether or not the archives
// have it (IMAP always does), and its tmp/ holds the files restore writes
// there.
func start(run *localfile.Run, root *os.Root) (localfile.Restorer, error) {
	r := &restore{run: run, root: root, folders: map[string]*folderState{}, subscribed: map[string]bool{},
		nonMail: map[string]bool{}, buf: make([]byte, 256<<10)}
	if root != nil && !run.Req.DryRun {
		if err := r.makeFolder(&folderState{dir: "."}); err != nil {
			return nil, fmt.Errorf("%s: %w", Kind, err)
		}
	}
	return r, nil
}

// Close writes the subscriptions once every archive is read and, however
// the run ended, flushes what it wrote to disk: it counts as on the
// target only once it is there.
func (r *restore) Close(_ context.Context, walkErr error) error {
	if r.root == nil || r.run.Req.DryRun {
		return nil
	}
	var err error
	if walkErr == nil {
		err = r.writeSubscriptions()
	}
	if serr := syncAll(r.root); serr != nil && err == nil {
		err = fmt.Errorf("flush to disk: %w", serr)
	}
	return err
}

// folderState is one target folder.
type folderState struct {
	path    string // the archive's folder path
	dir     string // its Maildir++ directory, relative to the root
	err     error  // the directory could not be made: its items fail
	existed bool   // the directory was there before this run

	kw      mdir.Keywords
	kwDirty bool            // letters given that dovecot-keywords does not hold yet
	dropped map[string]bool // keywords without a letter, noted once
	// names maps the unique names restore wrote to their file, "cur/NAME"
	// or "new/NAME"; filled when the folder is listed, for one folder at
	// a time (archives hold a folder's items together).
	names map[string]string

	plan *importer.PlanFolder // its line in a dry run's plan
}

// Folder handles an archive's folder record.
func (r *restore) Folder(archive string, f format.Folder) error {
	if f.Kind != format.FolderMail {
		if !r.nonMail[f.Path] {
			r.nonMail[f.Path] = true
			r.run.Report.Note("%s %q of %s is not restored to a Maildir: restore it with --to eml", f.Kind, f.Path, archive)
		}
		return nil
	}
	r.subscribed[f.Path] = f.Subscribed
	r.folder(f.Path)
	return nil
}

// folder returns the state of the folder at path, making its directories
// the first time.
func (r *restore) folder(p string) *folderState {
	if st := r.folders[p]; st != nil {
		return st
	}
	st := &folderState{path: p}
	r.folders[p] = st
	r.order = append(r.order, p)
	dir, escaped := mdir.MaildirPPDir(p)
	st.dir = dir
	st.plan = r.run.PlanFolder(p, dir, string(format.FolderMail), false)
	if escaped {
		st.plan.Note = `"." or "\" in a level is written as Dovecot's listescape does ("\2e", "\5c")`
		r.run.Report.Note("folder %q is the directory %q: %s", p, dir, st.plan.Note)
	}
	// The archive's paths are safe (format.SafeFolderPath): one level of
	// the root, never the root itself but for INBOX. Checked once more
	// here, as this is where a path becomes a directory.
	if dir == "" || strings.Contains(dir, "/") || dir == ".." || (dir == "." && p != mdir.InboxPath) {
		st.err = fmt.Errorf("folder path %q is not a safe folder path", p)
		r.run.Report.AddFolderFailure(report.Failure{Folder: p, Reason: st.err.Error()})
		return st
	}
	if r.root != nil {
		if fi, err := r.root.Stat(path.Join(dir, mdir.Cur)); err == nil && fi.IsDir() {
			st.existed = true
		}
	}
	st.plan.Create = !st.existed
	if err := r.loadKeywords(st); err != nil {
		st.err = err
	} else if !r.run.Req.DryRun {
		st.err = r.makeFolder(st)
	}
	if st.err != nil {
		r.run.Report.AddFolderFailure(report.Failure{Folder: p, Reason: st.err.Error()})
	}
	return st
}

// makeFolder makes a folder's cur/, new/ and tmp/ (where missing, also
// in a folder that exists), and the maildirfolder marker a Maildir++
// folder has.
func (r *restore) makeFolder(st *folderState) error {
	for _, sub := range []string{mdir.Cur, mdir.New, mdir.Tmp} {
		if err := r.root.MkdirAll(path.Join(st.dir, sub), localfile.DirMode); err != nil {
			return fmt.Errorf("make folder directory: %w", cause(err))
		}
	}
	if st.dir != "." {
		f, err := r.root.OpenFile(path.Join(st.dir, mdir.FolderMarker), os.O_WRONLY|os.O_CREATE, localfile.FileMode)
		if err != nil {
			return fmt.Errorf("make folder directory: %w", cause(err))
		}
		f.Close()
	}
	return nil
}

// loadKeywords reads the folder's dovecot-keywords, if any: letters
// already given keep their keyword.
func (r *restore) loadKeywords(st *folderState) error {
	if r.root == nil {
		return nil
	}
	data, err := r.root.ReadFile(path.Join(st.dir, mdir.KeywordsFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("read %s: %w", mdir.KeywordsFile, cause(err))
	}
	st.kw = *mdir.ParseKeywords(data)
	return nil
}

// Item restores one archive item.
func (r *restore) Item(_ context.Context, archive string, e *format.Entry) error {
	it := e.Item
	if !r.run.KeepMessage(it, SkipNotMail) {
		return nil
	}
	st := r.folder(it.Folder)
	fail := func(reason string) { r.run.Failed(archive, it, reason) }
	if st.err != nil {
		fail("folder not restored: " + st.err.Error())
		return nil
	}
	kwBefore := st.kw
	flags, dropped := mdir.FlagsFor(it.Flags, &st.kw)
	st.kwDirty = st.kwDirty || st.kw != kwBefore
	for _, k := range dropped {
		// Once per keyword and folder, naming the first message: the
		// report stays bounded by the folder's keywords, not its messages.
		if st.dropped == nil {
			st.dropped = map[string]bool{}
		}
		if !st.dropped[strings.ToLower(k)] {
			st.dropped[strings.ToLower(k)] = true
			r.run.Report.Note("keyword %q of %s and later messages in %q not restored: all 26 keyword letters of the folder are taken, or the name cannot be a dovecot-keywords entry",
				k, it.SourceID, it.Folder)
		}
	}
	unique := UniqueName(it)
	name := path.Join(mdir.Cur, mdir.FileName(unique, flags))
	if err := r.list(st); err != nil {
		fail("list folder: " + err.Error())
		return nil
	}
	present := false
	if old, ok := st.names[unique]; ok {
		err := r.present(st, old, name, it)
		if err != nil && !errors.Is(err, errStale) {
			fail(err.Error())
			return nil
		}
		present = err == nil
	}
	if r.run.Settled(st.plan, it, present) {
		return nil
	}
	if err := r.write(st, unique, name, it, e.Body); err != nil {
		fail(err.Error())
		return nil
	}
	st.names[unique] = name
	r.run.Wrote(it.Folder, it.Size)
	return nil
}

// errStale says a file restore wrote earlier is not the item (its size
// differs, or it is gone): it is written again.
var errStale = errors.New("stale copy")

// present handles a message an earlier run wrote as old: with other
// flags, it is renamed to name, the archive's later word.
func (r *restore) present(st *folderState, old, name string, it *format.Item) error {
	if r.root == nil {
		return nil
	}
	fi, err := r.root.Stat(path.Join(st.dir, old))
	if errors.Is(err, fs.ErrNotExist) { // gone since the listing: write it again
		delete(st.names, UniqueName(it))
		return errStale
	}
	if err != nil {
		return fmt.Errorf("stat %s: %w", old, cause(err))
	}
	if fi.Size() != it.Size {
		return errStale
	}
	if old == name || r.run.Req.DryRun {
		return nil
	}
	if err := r.saveKeywords(st); err != nil {
		return err
	}
	if err := r.root.Rename(path.Join(st.dir, old), path.Join(st.dir, name)); err != nil {
		return fmt.Errorf("rename %s to the archive's flags: %w", old, cause(err))
	}
	st.names[UniqueName(it)] = name
	return nil
}

// write stores one message: into tmp/, its mtime the received time, then
// renamed into cur/ (the Maildir way: a reader never sees a half-written
// message). A failure removes what it wrote. Where the platform can
// flush a whole file system, that is done once at the end (syncAll),
// else each file is synced here.
func (r *restore) write(st *folderState, unique, name string, it *format.Item, body io.Reader) (err error) {
	if err := r.saveKeywords(st); err != nil { // before a letter can be seen
		return err
	}
	tmp := path.Join(st.dir, mdir.Tmp, unique)
	f, err := r.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, localfile.FileMode)
	if err != nil {
		return fmt.Errorf("create: %w", cause(err))
	}
	defer func() {
		if err != nil {
			f.Close()
			r.root.Remove(tmp)
		}
	}()
	if _, err := io.CopyBuffer(struct{ io.Writer }{f}, body, r.buf); err != nil {
		return fmt.Errorf("write: %w", cause(err))
	}
	if syncEach {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("write: %w", cause(err))
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write: %w", cause(err))
	}
	if err := r.root.Chtimes(tmp, it.Received, it.Received); err != nil {
		return fmt.Errorf("set the received time: %w", cause(err))
	}
	if old, ok := st.names[unique]; ok && old != name { // a stale copy under other flags
		if err := r.root.Remove(path.Join(st.dir, old)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove stale copy %s: %w", old, cause(err))
		}
	}
	if err := r.root.Rename(tmp, path.Join(st.dir, name)); err != nil {
		return fmt.Errorf("move into cur/: %w", cause(err))
	}
	return nil
}

// saveKeywords writes the folder's dovecot-keywords when letters were
// given since.
func (r *restore) saveKeywords(st *folderState) error {
	if !st.kwDirty {
		return nil
	}
	if err := r.replace(st.dir, mdir.KeywordsFile, st.kw.Marshal()); err != nil {
		return err
	}
	st.kwDirty = false
	return nil
}

// replace writes the file name of the folder directory dir whole: into
// the folder's tmp/, then renamed over the old one, so a reader never
// sees half.
func (r *restore) replace(dir, name string, data []byte) error {
	tmp := path.Join(dir, mdir.Tmp, name+"."+host)
	if err := r.root.WriteFile(tmp, data, localfile.FileMode); err != nil {
		return fmt.Errorf("write %s: %w", name, cause(err))
	}
	if err := r.root.Rename(tmp, path.Join(dir, name)); err != nil {
		return fmt.Errorf("write %s: %w", name, cause(err))
	}
	return nil
}

// list fills st.names from the folder's cur/ and new/, dropping the
// previous folder's: only names restore writes are kept.
func (r *restore) list(st *folderState) error {
	if r.listed == st {
		return nil
	}
	if r.listed != nil {
		r.listed.names = nil
	}
	r.listed = st
	st.names = map[string]string{}
	if r.root == nil || !st.existed && r.run.Req.DryRun {
		return nil
	}
	for _, sub := range []string{mdir.New, mdir.Cur} { // cur/ wins
		d, err := r.root.Open(path.Join(st.dir, sub))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return cause(err)
		}
		for {
			names, err := d.Readdirnames(1024)
			for _, n := range names {
				if u, _, _ := mdir.SplitInfo(n); strings.HasSuffix(u, "."+host) {
					st.names[u] = path.Join(sub, n)
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				d.Close()
				return cause(err)
			}
		}
		d.Close()
	}
	return nil
}

// writeSubscriptions merges the archives' word on each folder into the
// tree's subscriptions file.
func (r *restore) writeSubscriptions() error {
	if len(r.subscribed) == 0 {
		return nil
	}
	names := map[string]bool{}
	var order []string
	data, err := r.root.ReadFile(mdir.SubscriptionsFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", mdir.SubscriptionsFile, cause(err))
	}
	add := func(n string) {
		if !names[n] {
			names[n] = true
			order = append(order, n)
		}
	}
	if err == nil {
		_ = mdir.ReadSubscriptions(strings.NewReader(string(data)), add) // a string reader does not fail
	}
	for _, p := range r.order {
		if sub, ok := r.subscribed[p]; ok && sub {
			add(p)
		}
	}
	order = slices.DeleteFunc(order, func(n string) bool { sub, ok := r.subscribed[n]; return ok && !sub })
	var b strings.Builder
	if err := mdir.WriteSubscriptions(&b, order); err != nil {
		return err
	}
	return r.replace(".", mdir.SubscriptionsFile, []byte(b.String()))
}

// UniqueName is the unique part of the file name restore gives item: its
// received time in seconds (what mailbox/maildir.NameTime reads back; 0
// before 1970, when the mtime alone carries it), then a hash of its
// folder, source id and checksum. The same item always gets the same
// name; two items differ in one of the three.
func UniqueName(it *format.Item) string {
	sum := localfile.ItemID(it)
	sec := it.Received.Unix()
	if sec < 0 || it.Received.IsZero() {
		sec = 0
	}
	return mdir.UniqueName(sec, "M"+hex.EncodeToString(sum[:12]), host)
}

// cause is err without the path an *fs.PathError repeats: the report
// names the folder and item already.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
