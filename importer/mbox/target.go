// Package mbox restores archives into mbox files: one mboxrd file per
// folder in Thunderbird's tree (the folder "Work/2024" is the file
// Work.sbd/2024, INBOX the file Inbox), each message after a From line
// carrying its received time. What the files mean is mailbox/mbox's; this
// package decides where each item goes and reports what it did.
//
// Flags travel in the message's own header, as mbox keeps them: Status
// (R), X-Status (A, F, T, D) and X-Keywords. A message whose header
// already says its flags (one that came from an mbox) is written byte for
// byte, so mbox → archive → mbox → archive gives the same checksums;
// otherwise its flag fields are replaced (mbox.SetFlags) and the rest of
// the header keeps its bytes.
//
// An mbox file has no names to find a message by, so restore keeps a
// journal (journal.Path(state, user, "mbox", DIR), DIR absolute with
// symbolic links resolved) of what it wrote: a
// re-run, or a delta after its full archive, adds only what is new. Each
// message is appended after an intent naming the file's length before it,
// and confirmed once the file is synced; a run killed in between leaves
// an intent without its outcome, and the next run first truncates that
// file back to the recorded length, so no torn or unconfirmed message
// stays to be appended again. A run that fails or is cancelled mid-message
// truncates at once. The file, not the journal, is what the user sees: a
// message the journal has as written but the file no longer holds (the
// file was removed or cut back to the end of a message) is written
// again, with a note; a file cut inside a message cannot be added to, and
// what it lacks fails, naming the file.
//
// Every write goes through an os.Root opened on the target directory, so
// no folder name and no symbolic link planted in the tree can make it
// write elsewhere. Directories are made 0700, files 0600.
package mbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/importer/localfile"
	"github.com/mailhaul/mailhaul/internal/ctxio"
	"github.com/mailhaul/mailhaul/internal/journal"
	mboxfmt "github.com/mailhaul/mailhaul/mailbox/mbox"
	"github.com/mailhaul/mailhaul/report"
)

// Kind is the target kind, as restore --to names it.
const Kind = "mbox"

// SkipNotMail is why contacts and calendars are left out.
const SkipNotMail = "contacts and calendars have no place in an mbox: restore them with --to eml"

// New returns the target writing mbox files under dir.
func New(dir string) importer.Target {
	return localfile.NewTarget(Kind, dir, func(run *localfile.Run, root *os.Root) (localfile.Restorer, error) {
		return start(dir, run, root)
	})
}

// start opens the journal and cuts back what a killed run left unconfirmed.
func start(dir string, run *localfile.Run, root *os.Root) (localfile.Restorer, error) {
	req := run.Req
	abs, err := resolvedDir(dir)
	if err != nil {
		return nil, fmt.Errorf("mbox: %w", err)
	}
	jpath := journal.Path(journal.DefaultDir(req.StateDir, req.Archives), req.User, Kind, abs)
	var j *journal.Journal
	if req.DryRun {
		j, err = journal.OpenReadOnly(jpath)
	} else {
		j, err = journal.Open(jpath)
	}
	if err != nil {
		return nil, err
	}
	r := &restore{run: run, root: root, j: j}
	if err := r.recover(); err != nil {
		j.Close()
		return nil, err
	}
	return r, nil
}

// resolvedDir is the journal's name for dir: its absolute path with
// symbolic links resolved, so that every spelling of one directory (a
// link to it, a path through a linked parent) finds the one journal. A
// directory yet to be made (a dry run) is resolved up to its nearest
// existing parent. Resolving beats a marker file inside DIR naming its
// journal: it needs no write, so a dry run and a read-only target give
// the same answer, and nothing in the tree can be forged to point at
// another journal.
func resolvedDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	rest := ""
	for p := abs; ; p = filepath.Dir(p) {
		real, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(real, rest), nil
		}
		if !errors.Is(err, os.ErrNotExist) || filepath.Dir(p) == p {
			return "", err
		}
		rest = filepath.Join(filepath.Base(p), rest)
	}
}

// Close closes the files and the journal.
func (r *restore) Close(ctx context.Context, walkErr error) error {
	err := r.closeFile()
	if r.rf != nil {
		if cerr := r.rf.Close(); err == nil {
			err = cerr
		}
	}
	if jerr := r.j.Close(); err == nil {
		err = jerr
	}
	return err
}

// restore is the state of one Import.
type restore struct {
	run  *localfile.Run
	root *os.Root // nil in a dry run of a directory yet to be made
	j    *journal.Journal
	// Confirmed messages the file no longer holds (check), and files
	// that cannot be added to, with why.
	untrusted map[journal.Key]bool
	broken    map[string]string
	spans     map[journal.Key]span // where each confirmed message lies

	// A file opened to read the flags of messages already there.
	rplace string
	rf     *os.File

	// The file being appended to, and its length.
	place string
	f     *os.File
	size  int64
	bw    *bufio.Writer
	br    *bufio.Reader
}

// intent is the Ref of a pending record: where the message starts.
const intentPrefix = "at "

// recover truncates every file an interrupted run left an unconfirmed
// message in back to its length before that message (not in a dry run,
// which only reckons with it), then checks every file against the
// journal (check).
func (r *restore) recover() error {
	open := map[journal.Key]journal.Record{}
	last := map[journal.Key]span{} // each key's latest confirmed message
	err := r.j.Scan(func(rec journal.Record) {
		if rec.State == journal.Pending && strings.HasPrefix(rec.Ref, intentPrefix) {
			open[rec.Key] = rec
			return
		}
		delete(open, rec.Key)
		delete(last, rec.Key)
		if rec.State == journal.Done {
			if sp, ok := parseSpan(rec); ok {
				last[rec.Key] = sp
			}
		}
	})
	if err != nil {
		return err
	}
	cut := map[string]int64{} // place → where a dry run would cut it
	for _, rec := range open {
		at, err := strconv.ParseInt(strings.TrimPrefix(rec.Ref, intentPrefix), 10, 64)
		if err != nil {
			return fmt.Errorf("mbox: journal: bad intent %q for %s", rec.Ref, rec.Where)
		}
		if r.run.Req.DryRun {
			if c, ok := cut[rec.Where]; !ok || at < c {
				cut[rec.Where] = at
			}
			continue
		}
		if err := r.truncate(rec.Where, at); err != nil {
			return fmt.Errorf("mbox: %s: removing the message an interrupted run left unfinished: %w", rec.Where, err)
		}
		if err := r.j.Write(journal.Record{Key: rec.Key, State: journal.Pending, Where: rec.Where}); err != nil {
			return err
		}
	}
	r.spans = last
	return r.check(last, cut)
}

// span is where a confirmed message lies in its file.
type span struct {
	place      string
	start, end int64
}

// parseSpan reads a Done record's "start-end".
func parseSpan(rec journal.Record) (span, bool) {
	a, b, ok := strings.Cut(rec.Ref, "-")
	if !ok {
		return span{}, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	return span{rec.Where, start, end}, err1 == nil && err2 == nil && start <= end
}

// check compares each file with what the journal says restore wrote
// there. The file is what the user sees: a message the file no longer
// holds (it was removed or cut back) is not "already there". A file cut
// back to the end of one of its messages gets the rest written again,
// with a note; one cut elsewhere (inside a message) cannot be added to
// without gluing a message onto a torn one, so what it lacks fails,
// naming the file.
func (r *restore) check(last map[journal.Key]span, cut map[string]int64) error {
	byPlace := map[string][]journal.Key{}
	for k, sp := range last {
		byPlace[sp.place] = append(byPlace[sp.place], k)
	}
	r.untrusted, r.broken = map[journal.Key]bool{}, map[string]string{}
	for place, keys := range byPlace {
		size := int64(0)
		fi, err := r.statPlace(place)
		switch {
		case err == nil:
			size = fi.Size()
		case !errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("mbox: %s: %w", place, err)
		}
		if c, ok := cut[place]; ok && c < size {
			size = c
		}
		var wrote int64
		boundary := size == 0
		var lost []journal.Key
		for _, k := range keys {
			sp := last[k]
			wrote = max(wrote, sp.end)
			if sp.end == size {
				boundary = true
			}
			if sp.end > size {
				lost = append(lost, k)
			}
		}
		if len(lost) == 0 {
			continue
		}
		for _, k := range lost {
			r.untrusted[k] = true
		}
		if !boundary {
			r.broken[place] = fmt.Sprintf("%s holds %d bytes, which is not the end of any message restore wrote there (%d bytes): it was changed since, and adding to it would join a message to a torn one; move it aside to restore it anew", place, size, wrote)
			continue
		}
		r.run.Report.Note("%s holds %d bytes, fewer than the %d restore wrote there: it was changed since, and the %d messages it no longer holds are written again", place, size, wrote, len(lost))
	}
	return nil
}

// statPlace stats the file at place; a dry run of a directory yet to be
// made has none.
func (r *restore) statPlace(place string) (os.FileInfo, error) {
	if r.root == nil {
		return nil, os.ErrNotExist
	}
	return r.root.Stat(filepath.FromSlash(place))
}

// truncate cuts the file at place back to at bytes, if it is longer.
func (r *restore) truncate(place string, at int64) error {
	f, err := r.root.OpenFile(filepath.FromSlash(place), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() > at {
		r.run.Report.Note("%s: removed %d bytes of a message an interrupted run left unconfirmed; it is written again", place, fi.Size()-at)
		if err := f.Truncate(at); err != nil {
			return err
		}
	}
	return f.Sync()
}

// Folder makes the (empty) file of a selected mail folder, so that empty
// folders survive.
func (r *restore) Folder(archive string, f format.Folder) error {
	if f.Kind != format.FolderMail {
		return nil
	}
	place := mboxfmt.TreePath(f.Path)
	if r.run.Req.DryRun {
		pf := r.run.PlanFolder(f.Path, place, string(format.FolderMail), !localfile.Exists(r.root, filepath.FromSlash(place)))
		if place != mboxfmt.TreePath(f.Path) {
			pf.Note = "another folder has the file name " + mboxfmt.TreePath(f.Path)
		}
		return nil
	}
	fh, err := r.create(place)
	if err != nil {
		r.run.Report.AddFolderFailure(report.Failure{Archive: archive, Folder: f.Path, Reason: err.Error()})
		return nil
	}
	return fh.Close()
}

// create opens (making it and its directories if need be) the file at
// place for appending.
func (r *restore) create(place string) (*os.File, error) {
	if dir := path.Dir(place); dir != "." {
		if err := r.root.MkdirAll(filepath.FromSlash(dir), localfile.DirMode); err != nil {
			return nil, err
		}
	}
	return r.root.OpenFile(filepath.FromSlash(place), os.O_RDWR|os.O_CREATE, localfile.FileMode)
}

// key identifies an item in the journal: its folder, its source id and
// its checksum, so a delta that holds it again adds nothing and two equal
// messages of one folder stay two.
func key(it *format.Item) journal.Key {
	return journal.Key(localfile.ItemID(it))
}

func (r *restore) Item(ctx context.Context, archive string, e *format.Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	it := e.Item
	if !r.run.KeepMessage(it, SkipNotMail) {
		return nil
	}
	place := mboxfmt.TreePath(it.Folder)
	k := key(it)
	st, known := r.j.Lookup(k)
	present := known && st == journal.Done && !r.untrusted[k]
	var pf *importer.PlanFolder
	if r.run.Req.DryRun {
		pf = r.run.PlanFolder(it.Folder, place, string(format.FolderMail), !localfile.Exists(r.root, filepath.FromSlash(place)))
	}
	if why, ok := r.broken[place]; ok && !present && !r.run.Req.DryRun {
		r.run.Failed(archive, it, why)
		return nil
	}
	if present && !r.run.Req.DryRun {
		if err := r.laterFlags(it, k); err != nil {
			r.run.Report.Note("%s (%s): the flags of the message already in %s could not be read to compare with the archive's: %v", it.SourceID, it.Folder, place, err)
		}
	}
	if r.run.Settled(pf, it, present) {
		return nil
	}
	n, err := r.append(ctx, place, k, it, e.Body)
	switch {
	case err == nil:
		r.run.Wrote(it.Folder, n)
	case errors.Is(err, errCrash), ctx.Err() != nil:
		r.run.Report.AddNotAttempted(report.Failure{Archive: archive, Folder: it.Folder, Item: it.SourceID, Reason: err.Error()})
		return err
	default:
		r.run.Failed(archive, it, err.Error())
	}
	return nil
}

// append writes one message at the end of the file at place, between its
// journal intent and outcome. On failure the file is cut back to where it
// was, and the intent cleared.
func (r *restore) append(ctx context.Context, place string, k journal.Key, it *format.Item, body io.Reader) (int64, error) {
	if err := r.use(place); err != nil {
		return 0, err
	}
	start := r.size
	if err := r.j.Write(journal.Record{Key: k, State: journal.Pending, Where: place, Ref: intentPrefix + strconv.FormatInt(start, 10)}); err != nil {
		return 0, err
	}
	n, err := r.write(ctx, it, body)
	if errors.Is(err, errCrash) {
		return 0, err // as a kill would: nothing cleaned up
	}
	if err == nil {
		err = r.f.Sync()
	}
	if err != nil {
		if terr := r.rollback(k, place, start); terr != nil {
			return 0, fmt.Errorf("%w; and cutting the file back failed: %v (the next run does it)", err, terr)
		}
		return 0, err
	}
	r.size = start + n
	r.spans[k] = span{place, start, r.size}
	end := strconv.FormatInt(start, 10) + "-" + strconv.FormatInt(r.size, 10)
	if err := r.j.Write(journal.Record{Key: k, State: journal.Done, Where: place, Ref: end}); err != nil {
		return 0, err
	}
	return n, nil
}

// write writes the message: its From line, its header with the item's
// flags, the rest as it is.
func (r *restore) write(ctx context.Context, it *format.Item, body io.Reader) (int64, error) {
	if r.br == nil {
		r.br = bufio.NewReaderSize(nil, 64<<10)
	}
	r.br.Reset(ctxio.NewReader(ctx, body))
	hdr, whole, err := readHeader(r.br)
	if err != nil {
		return 0, err
	}
	if !mboxfmt.SameFlags(it.Flags, mboxfmt.MessageFlags(hdr)) {
		if !whole {
			r.run.Report.Note("%s (%s): flags %q not written: the header is longer than %d bytes", it.SourceID, it.Folder, it.Flags, mboxfmt.MaxHeader)
		} else {
			var lost []string
			hdr, lost = mboxfmt.SetFlags(hdr, it.Flags)
			if len(lost) > 0 {
				r.run.Report.Note("%s (%s): flags %q have no form in an mbox header and are not kept", it.SourceID, it.Folder, lost)
			}
		}
	}
	r.bw.Reset(writerTo(r.f))
	w := mboxfmt.NewWriter(r.bw)
	n, added, err := w.WriteMessage(mboxfmt.FromLine(it.Received), io.MultiReader(bytes.NewReader(hdr), r.br))
	if err == nil {
		err = r.bw.Flush()
	}
	if err == nil && added {
		r.run.Report.Note("%s (%s): the message did not end with a line ending; mbox needs one, so one was added", it.SourceID, it.Folder)
	}
	return n, err
}

// laterFlags notes a message already in its file whose flags in this
// archive differ from those its header says. An mbox keeps the flags a
// message was first written with: changing them means rewriting the
// file from that message on, which restore does not do, so the change is
// reported rather than lost silently. Flags an mbox cannot carry are no
// change: what is compared is what SetFlags would write.
func (r *restore) laterFlags(it *format.Item, k journal.Key) error {
	sp, ok := r.spans[k]
	if !ok {
		return nil
	}
	if r.rf == nil || r.rplace != sp.place {
		if r.rf != nil {
			r.rf.Close()
			r.rf = nil
		}
		f, err := r.root.Open(filepath.FromSlash(sp.place))
		if err != nil {
			return err
		}
		r.rf, r.rplace = f, sp.place
	}
	br := bufio.NewReader(io.NewSectionReader(r.rf, sp.start, sp.end-sp.start))
	if _, err := br.ReadSlice('\n'); err != nil { // the From line
		return err
	}
	hdr, whole, err := readHeader(br)
	if err != nil || !whole {
		return err // a header too long to have had its flags set
	}
	have := mboxfmt.MessageFlags(hdr)
	set, _ := mboxfmt.SetFlags(hdr, it.Flags)
	if want := mboxfmt.MessageFlags(set); !mboxfmt.SameFlags(want, have) {
		r.run.Report.Note("%s (%s): this archive gives it %s, but it was written with %s and an mbox keeps the first flags (restore does not rewrite the file)",
			it.SourceID, it.Folder, flagList(want), flagList(have))
	}
	return nil
}

// flagList spells flags for a note.
func flagList(f mboxfmt.Flags) string {
	if len(f) == 0 {
		return "no flags"
	}
	return "the flags " + strings.Join(f, " ")
}

// readHeader reads the message's header, up to the blank line ending it,
// at most mbox.MaxHeader bytes; whole says it ended within that.
func readHeader(br *bufio.Reader) (hdr []byte, whole bool, err error) {
	lineStart := true
	for len(hdr) < mboxfmt.MaxHeader {
		line, err := br.ReadSlice('\n')
		hdr = append(hdr, line...)
		switch {
		case err == bufio.ErrBufferFull:
			lineStart = false
			continue
		case err == io.EOF:
			return hdr, true, nil
		case err != nil:
			return hdr, false, err
		}
		if lineStart && (len(line) == 1 || len(line) == 2 && line[0] == '\r') {
			return hdr, true, nil
		}
		lineStart = true
	}
	return hdr, false, nil
}

// rollback cuts the file back to start and clears the intent.
func (r *restore) rollback(k journal.Key, place string, start int64) error {
	if err := r.f.Truncate(start); err != nil {
		return err
	}
	if _, err := r.f.Seek(start, io.SeekStart); err != nil {
		return err
	}
	if err := r.f.Sync(); err != nil {
		return err
	}
	return r.j.Write(journal.Record{Key: k, State: journal.Pending, Where: place})
}

// use makes the file at place the one appended to.
func (r *restore) use(place string) error {
	if r.f != nil && r.place == place {
		return nil
	}
	if err := r.closeFile(); err != nil {
		return err
	}
	f, err := r.create(place)
	if err != nil {
		return err
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.place, r.size = f, place, size
	if r.bw == nil {
		r.bw = bufio.NewWriterSize(f, 256<<10)
	}
	return nil
}

func (r *restore) closeFile() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f, r.place = nil, ""
	return err
}

// testWrite, when set, writes to the file in place of f.Write: tests use
// it to stop a run mid-message, by cancelling or as a kill would
// (returning errCrash, which leaves everything as it is).
var testWrite func(f *os.File, p []byte) (int, error)

var errCrash = errors.New("mbox: simulated crash")

// writerTo is the file, or the test's writer.
func writerTo(f *os.File) io.Writer {
	if testWrite == nil {
		return f
	}
	return hookWriter{f}
}

type hookWriter struct{ f *os.File }

func (h hookWriter) Write(p []byte) (int, error) { return testWrite(h.f, p) }
