package dav

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer/dav/vcardconv"
	"github.com/mailhaul/mailhaul/internal/journal"
	"github.com/mailhaul/mailhaul/report"
)

// Import loads the contacts, events and tasks of the archives (one user's
// full and delta archives, in order) into the DAV account of opt.User and
// returns the report. Mail messages in the archives are left to the IMAP
// importer. The error is non-nil only when the import as a whole could not
// run (no server, bad options, journal unusable); items that failed are
// in the report, and report.Partial says whether there are any.
func Import(ctx context.Context, archives []string, opt Options) (*report.Report, error) {
	for _, s := range []string{opt.URL, opt.CardDAV, opt.CalDAV} {
		if err := checkPlaintext(s, opt.AllowPlaintext); err != nil {
			return nil, err
		}
	}
	var base *url.URL
	if opt.URL != "" {
		u, err := parseDir(opt.URL)
		if err != nil {
			return nil, err
		}
		base = u
	}
	target := opt.URL
	if target == "" {
		target = strings.TrimSpace(opt.CardDAV + " " + opt.CalDAV)
	}
	rep := report.New(opt.User, "dav", target, archives)
	rep.DryRun = opt.DryRun

	c := newClient(opt.HTTPClient, opt.User, opt.Password, opt.Token, opt.concurrency(), opt.Retry)
	c.allowPlaintext = opt.AllowPlaintext
	for _, s := range []string{opt.URL, opt.CardDAV, opt.CalDAV} {
		if u, err := url.Parse(s); err == nil && s != "" {
			c.trust(u)
		}
	}
	var throttled sync.Once
	c.notify = func(format string, args ...any) {
		throttled.Do(func() {
			rep.Note("the server asked us to slow down or dropped a connection; requests were retried (first: "+format+")", args...)
		})
	}
	h, err := c.discover(ctx, base, opt.CardDAV, opt.CalDAV)
	if err != nil {
		return nil, err
	}
	im := &importer{opt: opt, c: c, rep: rep, cols: newCollections(c, h, opt.DryRun, rep.Note),
		plan: map[*resolution]*planLine{}, bulk: map[*collection]*bulkBatch{}}
	im.cols.mapping, im.cols.archives = opt.MapCollection, archives
	if opt.StateDir != "" {
		host := "dav"
		if base != nil {
			host = base.Host
		} else if u, err := url.Parse(opt.CardDAV + opt.CalDAV); err == nil {
			host = u.Host
		}
		open := journal.Open
		if opt.DryRun {
			open = journal.OpenReadOnly // a dry run writes nothing
		}
		j, err := open(filepath.Join(opt.StateDir, safeFileName(opt.User), "dav-"+safeFileName(host)+".journal"))
		if err != nil {
			return nil, err
		}
		defer j.Close()
		im.j = j
		if err := im.cols.useJournal(j); err != nil {
			return nil, err
		}
	}
	if err := im.cols.checkMapping(ctx); err != nil {
		rep.Stop("arguments", err, ctx.Err() != nil)
		rep.Finish()
		return rep, err
	}
	err = im.run(ctx, archives)
	if err != nil {
		// The counts cover only what was read: never claim the rest is there.
		rep.Stop("import", err, ctx.Err() != nil)
	} else if opt.DryRun {
		im.writePlan()
	}
	rep.Finish()
	return rep, err
}

// importer is one run.
type importer struct {
	opt  Options
	c    *client
	rep  *report.Report
	cols *collections
	j    *journal.Journal

	mu        sync.Mutex
	done      int
	converted int // vCard 2.1 cards sent as 3.0
	guarded   int // objects given SCHEDULE-AGENT=CLIENT
	messages  int
	plan      map[*resolution]*planLine

	// Whole-collection uploads (bulk.go), touched by the archive reader
	// only: a batch per address book, nil for books that take cards one
	// by one; radicale caches the server probe.
	bulk     map[*collection]*bulkBatch
	radicale *bool

	// Objects waiting to be read back (check.go), under cmu; ctx is the
	// run's, for the reads that workers trigger.
	ctx       context.Context
	cmu       sync.Mutex
	checks    map[*collection][]check
	checkSize int64 // bytes of the bodies in checks
	noted     map[string]bool
	safer     int // cards rewritten so that Radicale keeps them (rewrite.go)
}

// maxObject bounds one contact, event or task (a variable for tests).
// Real ones are kilobytes; servers refuse far less than this (Radicale's
// default max_content_length is 100 MB).
var maxObject int64 = 100 << 20

// job is one object on its way to the target.
type job struct {
	archive string
	item    format.Item
	col     *collection
	href    *url.URL
	body    []byte
	key     journal.Key
	asIs    bool // a vCard sent unconverted because conversion would lose something
}

func (im *importer) run(ctx context.Context, archives []string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	im.ctx = ctx
	jobs := make(chan job, im.opt.concurrency())
	var wg sync.WaitGroup
	for range im.opt.concurrency() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for jb := range jobs {
				im.send(ctx, jb)
			}
		}()
	}
	var err error
	for _, a := range archives {
		if err = im.readArchive(ctx, a, jobs); err != nil {
			break
		}
	}
	if err == nil {
		err = im.flushAll(ctx, jobs)
	}
	im.dropBatches()
	close(jobs)
	wg.Wait()
	im.verifyAll(ctx)
	if err == nil {
		err = ctx.Err()
	}
	if im.messages > 0 {
		im.rep.Note("%d mail messages in the archives were left for `mailhaul import imap`", im.messages)
	}
	if im.converted > 0 {
		im.rep.Note("%d vCard 2.1 cards were converted to vCard 3.0 (lossless; see importer/dav/README.md)", im.converted)
	}
	if im.safer > 0 {
		im.rep.Note("%d cards had commas in a data: URI (photo, logo, sound, key), a URI or a single text value escaped, because Radicale cuts such values at an unescaped comma (lossless; see importer/dav/README.md)", im.safer)
	}
	if im.guarded > 0 {
		im.rep.Note("%d events or tasks with attendees got SCHEDULE-AGENT=CLIENT so that the server sends no invitations", im.guarded)
	}
	return err
}

// readArchive streams one archive, resolving each item's collection and
// handing the object to the workers. A damaged item costs that item; a
// damaged archive ends the run, as in the IMAP importer (FORMAT.md).
func (im *importer) readArchive(ctx context.Context, path string, jobs chan<- job) error {
	name := filepath.Base(path)
	r, err := format.Open(path, nil)
	if err != nil {
		return fmt.Errorf("dav: %w", err)
	}
	defer r.Close()
	folders := map[string]format.Folder{}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if errors.Is(err, format.ErrDamagedItem) {
			continue // an item left unread here (mail); objects are read, and failed, in prepare
		}
		if err != nil {
			return fmt.Errorf("dav: %w", err)
		}
		switch {
		case e.Folder != nil:
			if e.Folder.Kind != format.FolderMail {
				for _, n := range e.Notes { // the reader's: a folder read under a safe path
					im.rep.Note("%s", n)
				}
			}
			folders[string(e.Folder.Kind)+"\x00"+e.Folder.Path] = *e.Folder
		case e.Item != nil:
			if e.Item.Kind == format.KindMessage {
				im.messages++
				continue
			}
			jb, ok := im.prepare(ctx, name, e, folders)
			if ok {
				taken, err := im.spool(ctx, jb, jobs)
				if err != nil {
					return err
				}
				if taken {
					continue
				}
				select {
				case jobs <- jb:
				case <-ctx.Done():
					im.notAttempted(jb)
					return ctx.Err()
				}
			}
		}
	}
}

// prepare reads an item, finds its collection and href and converts its
// bytes; it reports items that are settled without a request.
func (im *importer) prepare(ctx context.Context, archive string, e *format.Entry, folders map[string]format.Folder) (job, bool) {
	it := *e.Item
	fail := func(reason string) (job, bool) {
		im.rep.AddFailure(report.Failure{Archive: archive, Folder: it.Folder, Item: itemName(it), Reason: reason})
		im.progress()
		return job{}, false
	}
	if it.Size > maxObject {
		// Objects are held in memory whole; a hostile archive's 2 GiB
		// "contact" must not be.
		return fail(fmt.Sprintf("%d bytes, larger than the %d bytes a contact or event may have here; not sent", it.Size, maxObject))
	}
	body, err := io.ReadAll(e.Body)
	if errors.Is(err, format.ErrDamagedItem) {
		return fail("damaged in the archive: " + err.Error())
	}
	if err != nil {
		return fail("read from the archive: " + err.Error())
	}
	fk := format.FolderContacts
	if it.Kind != format.KindContact {
		fk = format.FolderCalendar
	}
	f, ok := folders[string(fk)+"\x00"+it.Folder]
	if !ok {
		f = format.Folder{Kind: fk, Path: it.Folder}
	}
	sum := sha256.Sum256(body)
	uid := it.UID
	if uid == "" {
		uid = "mailhaul-" + hex.EncodeToString(sum[:16])
	}
	res := resourceName(uid, it.Kind.Ext())
	col, err := im.cols.forItem(ctx, f, it.Kind, res)
	if err != nil {
		return fail(err.Error())
	}
	jb := job{archive: archive, item: it, col: col,
		href: col.URL.ResolveReference(&url.URL{Path: res}),
		key:  itemKey(it.Kind, it.Folder, uid, sum)}
	switch it.Kind {
	case format.KindContact:
		out, changed, notes, err := vcardconv.Convert(body)
		if err != nil {
			im.rep.Note("%s: %s: sent as vCard 2.1: %v", it.Folder, itemName(it), err)
			jb.asIs = true
		}
		if changed {
			im.count(&im.converted)
		}
		for _, n := range notes {
			im.rep.Note("%s: %s: %s", it.Folder, itemName(it), n)
		}
		body = out
		if !jb.asIs && im.isRadicale(ctx) {
			// Not for a card left in 2.1, where "\," is no escape.
			if out, changed := radicaleSafe(body); changed {
				im.count(&im.safer)
				body = out
			}
		}
	default:
		if im.guardScheduling(ctx) {
			if out, changed := scheduleAgentClient(body); changed {
				im.count(&im.guarded)
				body = out
			}
		}
	}
	jb.body = body
	if col.MaxSize > 0 && int64(len(body)) > col.MaxSize {
		return fail(fmt.Sprintf("%d bytes exceed the collection's max-resource-size of %d bytes; not sent", len(body), col.MaxSize))
	}
	if im.j != nil && !im.opt.Update {
		if state, ok := im.j.Lookup(jb.key); ok && state == journal.Done {
			im.rep.AddPresent()
			im.planned(jb, false)
			im.progress()
			return job{}, false
		}
	}
	if im.opt.DryRun {
		im.dryRun(ctx, jb)
		return job{}, false
	}
	return jb, true
}

func (im *importer) guardScheduling(ctx context.Context) bool {
	switch im.opt.Schedule {
	case ScheduleAlways:
		return true
	case ScheduleNever:
		return false
	}
	return im.cols.autoSchedules(ctx)
}

// itemKey identifies an object in the journal: its kind, folder, UID
// and the SHA-256 of its bytes in the archive, so that another object
// with the same UID (or a later version of it) is never taken for one
// already done.
func itemKey(k format.Kind, folder, uid string, sum [32]byte) journal.Key {
	return journal.Key(sha256.Sum256([]byte("dav\x00" + string(k) + "\x00" + folder + "\x00" + uid + "\x00" + string(sum[:]))))
}

func itemName(it format.Item) string {
	if it.UID != "" {
		return string(it.Kind) + " " + it.UID
	}
	return string(it.Kind) + " " + it.SourceID
}

func (im *importer) count(n *int) {
	im.mu.Lock()
	*n++
	im.mu.Unlock()
}

func (im *importer) progress() {
	im.mu.Lock()
	im.done++
	n := im.done
	im.mu.Unlock()
	if im.opt.Progress != nil {
		im.opt.Progress(n)
	}
}

// safeFileName makes a user or host name usable as one path element.
func safeFileName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '/' || r == '\\' || r == ':' || r < ' ':
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	out := b.String()
	if out == "" || out == "." || out == ".." {
		return "_" + out
	}
	return out
}
