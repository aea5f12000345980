// Package eml restores archives into plain files: each message as an .eml
// file in a directory per folder, each address book as one .vcf file and
// each calendar as one .ics file (its contacts or calendar objects one
// after another, as the archives hold them). Any mail program opens an
// .eml, any address book or calendar imports the .vcf and .ics.
//
// A message's file name is derived from the item alone ("<received
// time>-<hash of folder, source id and checksum>.eml"), so a re-run, or a
// delta after its full archive, finds the file an earlier run wrote:
// restore is idempotent by construction and keeps no journal. A file is
// written under a temporary name, synced and renamed into place, so a run
// killed part way never leaves a torn file under a final name. An address
// book or calendar is gathered while the archives are read and written
// whole at the end, each item once (the latest archive's copy of an item
// wins), merged with the file already there: its objects (split with
// export/pim's splitters) that this run does not bring stay, one this run
// brings again (same UID; without a UID, same bytes) is replaced, so a
// delta restored alone, or a re-run with --folder or --after, adds to a
// book and never drops what an earlier run wrote.
//
// Folder names are escaped reversibly (safename.Escape: '%', separators,
// ':', control characters and a leading '.' as '%' and two hex digits),
// so two folders never share a directory or file.
//
// Every write goes through an os.Root opened on the target directory, so
// no folder name, however hostile, and no symbolic link planted in the
// tree can make it write elsewhere. Directories are made 0700, files 0600.
package eml

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/mailhaul/mailhaul/export/pim"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/importer/localfile"
	"github.com/mailhaul/mailhaul/internal/contentline"
	"github.com/mailhaul/mailhaul/internal/ctxio"
	"github.com/mailhaul/mailhaul/internal/safename"
	"github.com/mailhaul/mailhaul/report"
)

// Kind is the target kind, as restore --to names it.
const Kind = "eml"

// New returns the target writing .eml, .vcf and .ics files under dir.
func New(dir string) importer.Target {
	return localfile.NewTarget(Kind, dir, func(run *localfile.Run, root *os.Root) (localfile.Restorer, error) {
		return &restore{run: run, root: root, books: map[string]*book{}}, nil
	})
}

// Close writes the address books and calendars, if the walk ended well,
// and removes their spools.
func (r *restore) Close(ctx context.Context, walkErr error) error {
	defer r.discard()
	if walkErr != nil {
		return nil
	}
	return r.writeBooks(ctx)
}

// key names a folder of a kind in the plan.
func key(kind format.FolderKind, folder string) string { return string(kind) + ":" + folder }

// place is where a folder lives: a directory for mail, a .vcf or .ics
// file for an address book or calendar; each level one safe file name,
// escaped reversibly (safename.Escape; a level's own ".vcf" or ".ics"
// ending escaped too), so two folders never share a place.
func place(kind format.FolderKind, folder string) string {
	levels := strings.Split(folder, "/")
	for i, l := range levels {
		levels[i] = safename.Escape(l, ".vcf", ".ics", ".eml")
	}
	p := strings.Join(levels, "/")
	switch kind {
	case format.FolderContacts:
		return p + ".vcf"
	case format.FolderCalendar:
		return p + ".ics"
	}
	return p
}

// restore is the state of one Import.
type restore struct {
	run   *localfile.Run
	root  *os.Root         // nil in a dry run of a directory yet to be made
	books map[string]*book // by place: address books and calendars
	order []string
	buf   []byte
}

// book is an address book or calendar being gathered: its items' bytes
// in a spool file beside it, the final file written from it at the end.
type book struct {
	folder, place, archive string
	kind                   format.FolderKind
	spool                  *os.File
	size                   int64
	ids                    map[string]int // item identity → index in items
	items                  []span
	failed                 bool
}

type span struct {
	off, n int64
	id     string // source id, for the report
	key    string // the object's identity in the book: objectKey
	sum    string // hex SHA-256 of its bytes
}

// Folder makes a mail folder's directory (so empty folders survive) or
// starts an address book or calendar.
func (r *restore) Folder(archive string, f format.Folder) error {
	p := place(f.Kind, f.Path)
	if r.run.Req.DryRun {
		r.planFolder(f.Kind, f.Path, p)
		return nil
	}
	var err error
	if f.Kind == format.FolderMail {
		err = r.root.MkdirAll(filepath.FromSlash(p), localfile.DirMode)
	} else {
		_, err = r.book(f.Kind, f.Path, p, archive)
	}
	if err != nil {
		r.run.Report.AddFolderFailure(report.Failure{Archive: archive, Folder: f.Path, Reason: err.Error()})
	}
	return nil
}

func (r *restore) planFolder(kind format.FolderKind, folder, p string) *importer.PlanFolder {
	pf := r.run.PlanFolder(key(kind, folder), p, string(kind), !localfile.Exists(r.root, filepath.FromSlash(p)))
	pf.Source = folder
	return pf
}

// messageName is a message's file name, from the item alone.
func messageName(it *format.Item) string {
	sum := localfile.ItemID(it)
	t := "00000000T000000Z"
	if !it.Received.IsZero() {
		t = it.Received.UTC().Format("20060102T150405Z")
	}
	return t + "-" + hex.EncodeToString(sum[:8]) + ".eml"
}

func (r *restore) Item(ctx context.Context, archive string, e *format.Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	it := e.Item
	if !r.run.Keep(it) {
		return nil
	}
	kind := it.Kind.FolderKind()
	p := place(kind, it.Folder)
	if kind != format.FolderMail {
		return r.bookItem(ctx, archive, kind, p, e)
	}
	name := path.Join(p, messageName(it))
	fi, err := statIn(r.root, name)
	present := err == nil && fi.Mode().IsRegular() && fi.Size() == it.Size
	var pf *importer.PlanFolder
	if r.run.Req.DryRun {
		pf = r.planFolder(kind, it.Folder, p)
	}
	if r.run.Settled(pf, it, present) {
		return nil
	}
	if err := r.root.MkdirAll(filepath.FromSlash(p), localfile.DirMode); err != nil {
		r.run.Failed(archive, it, err.Error())
		return nil
	}
	n, err := r.writeFile(ctx, name, e.Body)
	if err == nil && !it.Received.IsZero() {
		// The received time as the file's time, as a mail folder shows it.
		err = r.root.Chtimes(filepath.FromSlash(name), it.Received, it.Received)
	}
	switch {
	case err == nil:
		r.run.Wrote(it.Folder, n)
	case ctx.Err() != nil:
		r.run.Report.AddNotAttempted(report.Failure{Archive: archive, Folder: it.Folder, Item: it.SourceID, Reason: err.Error()})
		return ctx.Err()
	default:
		r.run.Failed(archive, it, err.Error())
	}
	return nil
}

func statIn(root *os.Root, name string) (fs.FileInfo, error) {
	if root == nil {
		return nil, fs.ErrNotExist
	}
	return root.Lstat(filepath.FromSlash(name))
}

// partName is where a file is written before it is renamed into place.
func partName(name string) string {
	dir, base := path.Split(name)
	return dir + "." + base + ".part"
}

// writeFile writes body to name through a temporary file, synced and
// renamed, so name never holds part of a file.
func (r *restore) writeFile(ctx context.Context, name string, body io.Reader) (int64, error) {
	part := filepath.FromSlash(partName(name))
	f, err := r.root.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, localfile.FileMode)
	if err != nil {
		return 0, err
	}
	if r.buf == nil {
		r.buf = make([]byte, 256<<10)
	}
	n, err := io.CopyBuffer(onlyWriter{f}, ctxio.NewReader(ctx, body), r.buf)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = r.root.Rename(part, filepath.FromSlash(name))
	}
	if err != nil {
		r.root.Remove(part)
		return 0, err
	}
	return n, nil
}

// onlyWriter hides ReadFrom, so CopyBuffer reads through ctxio.
type onlyWriter struct{ io.Writer }

// book returns the address book or calendar at p, starting its spool.
func (r *restore) book(kind format.FolderKind, folder, p, archive string) (*book, error) {
	if b, ok := r.books[p]; ok {
		return b, nil
	}
	b := &book{folder: folder, place: p, kind: kind, archive: archive, ids: map[string]int{}}
	if !r.run.Req.DryRun {
		if dir := path.Dir(p); dir != "." {
			if err := r.root.MkdirAll(filepath.FromSlash(dir), localfile.DirMode); err != nil {
				return nil, err
			}
		}
		f, err := r.root.OpenFile(filepath.FromSlash(partName(p)+".spool"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, localfile.FileMode)
		if err != nil {
			return nil, err
		}
		b.spool = f
	}
	r.books[p] = b
	r.order = append(r.order, p)
	return b, nil
}

// bookItem adds a contact or calendar object to its book's spool. An item
// that an earlier archive held already (same source id) replaces it.
func (r *restore) bookItem(ctx context.Context, archive string, kind format.FolderKind, p string, e *format.Entry) error {
	it := e.Item
	b, err := r.book(kind, it.Folder, p, archive)
	if err != nil {
		r.run.Failed(archive, it, err.Error())
		return nil
	}
	s := span{off: b.size, n: it.Size, id: it.SourceID, sum: it.SHA256}
	if !r.run.Req.DryRun {
		if r.buf == nil {
			r.buf = make([]byte, 256<<10)
		}
		n, err := io.CopyBuffer(onlyWriter{b.spool}, ctxio.NewReader(ctx, e.Body), r.buf)
		if err != nil {
			// Cut the spool back: the book must hold whole items only.
			if terr := b.spool.Truncate(b.size); terr != nil {
				b.failed = true
			}
			b.spool.Seek(b.size, io.SeekStart)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.run.Failed(archive, it, err.Error())
			return nil
		}
		s.n = n
		b.size += n
	}
	s.key = runKey(ctx, b, s, it.UID)
	id := it.SourceID
	if id == "" {
		id = it.UID + "\x00" + it.SHA256
	}
	if i, ok := b.ids[id]; ok {
		b.items[i] = s
		return nil
	}
	b.ids[id] = len(b.items)
	b.items = append(b.items, s)
	return nil
}

// writeBooks writes each address book and calendar from its spool,
// merged with the file an earlier run wrote (merge): a run adds to a book,
// it never takes away what it does not bring.
func (r *restore) writeBooks(ctx context.Context) error {
	for _, p := range r.order {
		if err := ctx.Err(); err != nil {
			return err
		}
		b := r.books[p]
		if err := r.writeBook(ctx, b); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			for _, s := range b.items {
				r.run.Report.AddFailure(report.Failure{Archive: b.archive, Folder: b.folder, Item: s.id, Reason: err.Error()})
			}
		}
	}
	return nil
}

// objectKey is what identifies a contact or calendar object in a book:
// its UID, or, without one, its exact bytes (their hex SHA-256).
func objectKey(uid, sum string) string {
	if uid != "" {
		return "uid:" + uid
	}
	return "sha256:" + sum
}

// writeBook writes the book: the objects of the file already there that
// this run does not bring (by objectKey), then this run's objects, the
// later archive's copy winning. An object already there byte for byte is
// present; when every one is, the file is left as it is.
func (r *restore) writeBook(ctx context.Context, b *book) error {
	if b.failed {
		return errors.New("the spool of this address book or calendar could not be cut back after a failed item")
	}
	old, closeOld, err := r.existingObjects(ctx, b)
	if err != nil {
		return fmt.Errorf("read the %s already there: %w", b.place, err)
	}
	defer closeOld()
	had := map[string]string{}   // key → sum of the object there
	bySum := map[string]string{} // sum → key of the object there
	for _, o := range old {
		had[o.key], bySum[o.sum] = o.sum, o.key
	}
	brings := map[string]bool{}
	present := make([]bool, len(b.items))
	changed := false
	for i, s := range b.items {
		brings[s.key] = true
		present[i] = had[s.key] == s.sum
		if k, ok := bySum[s.sum]; ok {
			// The same bytes are there (a dry run, which spools nothing,
			// may not know the item's UID): that object is this one.
			present[i], brings[k] = true, true
		}
		changed = changed || !present[i]
	}
	var pf *importer.PlanFolder
	if r.run.Req.DryRun {
		pf = r.planFolder(b.kind, b.folder, b.place)
	}
	if changed && !r.run.Req.DryRun {
		var readers []io.Reader
		for _, o := range old {
			if !brings[o.key] {
				readers = append(readers, o.open())
			}
		}
		for _, s := range b.items {
			readers = append(readers, io.NewSectionReader(b.spool, s.off, s.n))
		}
		if _, err := r.writeFile(ctx, b.place, io.MultiReader(readers...)); err != nil {
			return err
		}
	}
	for i, s := range b.items {
		it := &format.Item{Folder: b.folder, Size: s.n}
		r.run.Settled(pf, it, present[i])
		if !present[i] && !r.run.Req.DryRun {
			r.run.Wrote(b.folder, s.n)
		}
	}
	return nil
}

// object is a contact or calendar object of the file already there.
type object struct {
	key, sum string
	open     func() io.Reader
}

// existingObjects splits the book's file, if there is one, into its
// objects, with the project's splitters (export/pim): vCards as they are,
// calendar objects as an export makes them. close releases the file.
func (r *restore) existingObjects(ctx context.Context, b *book) (objs []object, close func(), err error) {
	close = func() {}
	if r.root == nil {
		return nil, close, nil
	}
	f, err := r.root.Open(filepath.FromSlash(b.place))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, close, nil
	}
	if err != nil {
		return nil, close, err
	}
	close = func() { f.Close() }
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	if err != nil {
		return nil, close, err
	}
	err = splitObjects(ctx, b, f, fi.Size(), func(uid string, open func() io.Reader) error {
		h := sha256.New()
		if _, err := io.Copy(h, open()); err != nil {
			return err
		}
		sum := hex.EncodeToString(h.Sum(nil))
		objs = append(objs, object{key: objectKey(uid, sum), sum: sum, open: open})
		return nil
	})
	return objs, close, err
}

// splitObjects calls fn with each object of the book's bytes in r, its
// UID and how to read it, with the project's splitters (export/pim):
// vCards as they are, calendar objects as an export makes them.
func splitObjects(ctx context.Context, b *book, r io.ReaderAt, size int64, fn func(uid string, open func() io.Reader) error) error {
	if b.kind == format.FolderCalendar {
		ix, err := pim.IndexCalendar(ctx, r, size, nil)
		if err != nil {
			return err
		}
		return ix.Objects(ctx, b.folder, func(o *pim.CalendarObject) error { return fn(o.UID, o.Open) })
	}
	return pim.SplitVCards(ctx, io.NewSectionReader(r, 0, size), func(c pim.VCard) error {
		off, n := c.Offset, int64(len(c.Raw))
		return fn(vcardUID(c.Raw), func() io.Reader { return io.NewSectionReader(r, off, n) })
	}, nil)
}

// runKey is the objectKey of a spooled item: the UID its bytes hold, as
// the same splitter reads it from the file later (the archive's record
// may not name it), else its UID on record, else its bytes.
func runKey(ctx context.Context, b *book, s span, recorded string) string {
	if b.spool != nil {
		var uids []string
		err := splitObjects(ctx, b, io.NewSectionReader(b.spool, s.off, s.n), s.n, func(uid string, _ func() io.Reader) error {
			uids = append(uids, uid)
			return nil
		})
		if err == nil && len(uids) == 1 && uids[0] != "" {
			return objectKey(uids[0], s.sum)
		}
	}
	return objectKey(recorded, s.sum)
}

// vcardUID is the UID of the card raw (not of a card nested in it).
func vcardUID(raw []byte) string {
	depth := 0
	for _, line := range contentline.Unfold(raw) {
		p := contentline.Split([]byte(line))
		switch {
		case p.Is("BEGIN"):
			depth++
		case p.Is("END"):
			depth--
		case depth == 1 && p.Is("UID"):
			return string(contentline.Trim(p.Value))
		}
	}
	return ""
}

// discard removes the spools.
func (r *restore) discard() {
	for _, b := range r.books {
		if b.spool != nil {
			b.spool.Close()
			r.root.Remove(filepath.FromSlash(partName(b.place) + ".spool"))
		}
	}
}
