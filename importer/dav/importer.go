package dav

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/importer/dav/vcardconv"
	"github.com/mailhaul/mailhaul/internal/davclient"
	"github.com/mailhaul/mailhaul/internal/journal"
	"github.com/mailhaul/mailhaul/progress"
	"github.com/mailhaul/mailhaul/report"
)

// Target loads contacts, events and tasks into a CardDAV/CalDAV account.
// It implements importer.Target.
type Target struct{ opt Options }

// New returns the target that opt describes.
func New(opt Options) *Target { return &Target{opt: opt} }

// Kind names the target in plans and journals.
func (t *Target) Kind() string { return "dav" }

// Import loads the contacts, events and tasks of req.Archives (one user's
// full and delta archives, in order) into the DAV account and returns the
// report, and for a dry run the plan. Mail messages in the archives are
// left to the IMAP importer. The error is non-nil only when the import as
// a whole could not run (no server, bad options, journal unusable): the
// report says at which stage; items that failed are in the report, and
// report.Partial says whether there are any.
func (t *Target) Import(ctx context.Context, req importer.Request) (*importer.Result, error) {
	opt := t.opt
	if req.User == "" {
		req.User = opt.User
	}
	target := opt.URL
	if target == "" {
		target = strings.TrimSpace(opt.CardDAV + " " + opt.CalDAV)
	}
	rep := report.New(req.User, "dav", target, req.Archives)
	rep.DryRun = req.DryRun
	res := &importer.Result{Report: rep}
	stop := func(stage string, err error) (*importer.Result, error) {
		rep.Stop(stage, err, ctx.Err() != nil)
		rep.Finish()
		return res, err
	}
	im, closeJournal, stage, err := t.open(ctx, req, rep)
	if err != nil {
		return stop(stage, err)
	}
	defer closeJournal()
	if err := im.cols.checkMapping(ctx); err != nil {
		return stop("arguments", err)
	}
	if err := im.run(ctx); err != nil {
		// The counts cover only what was read: never claim the rest is there.
		return stop("import", err)
	}
	if req.DryRun {
		res.Plan = im.planValue()
	}
	rep.Finish()
	return res, nil
}

// open connects and makes the session of a run (Import, Compare): the
// client, the collections and, with req.StateDir, the journal (read-only
// in a dry run), which closeJournal closes. stage names where an error
// stopped it.
func (t *Target) open(ctx context.Context, req importer.Request, rep *report.Report) (im *session, closeJournal func(), stage string, err error) {
	opt := t.opt
	closeJournal = func() {}
	var throttled sync.Once
	dc, h, base, err := davclient.Connect(ctx, davclient.Config{
		User: opt.User, Password: opt.Password, Token: opt.Token, AllowPlaintext: opt.AllowPlaintext,
		RootCAs: opt.RootCAs, Transport: opt.Transport, Retry: opt.Retry,
		// One kept-alive connection per worker, plus discovery's.
		Conns: opt.concurrency() + 2,
		Logf: func(format string, args ...any) {
			throttled.Do(func() {
				rep.Note("the server asked us to slow down or dropped a connection; requests were retried (first: "+format+")", args...)
			})
			if req.Logf != nil {
				req.Logf(format, args...)
			}
		},
	}, davclient.Endpoints{URL: opt.URL, CardDAV: opt.CardDAV, CalDAV: opt.CalDAV})
	if err != nil {
		return nil, nil, "connect", err
	}
	c := &client{dc}
	im = &session{opt: opt, req: req, c: c, rep: rep, cols: newCollections(c, h, req.DryRun, rep.Note),
		plan: map[*resolution]*planLine{}, bulk: map[*collection]*bulkBatch{},
		deltas: map[string]bool{}}
	im.cols.mapping, im.cols.archives = opt.MapCollection, req.Archives
	jpath := ""
	if req.StateDir != "" {
		open := journal.Open
		if req.DryRun {
			open = journal.OpenReadOnly // a dry run writes nothing
		}
		jpath = journal.Path(req.StateDir, req.User, "dav", journalHost(base, opt))
		j, err := open(jpath)
		if err != nil {
			return nil, nil, "connect", err
		}
		if j.Len() == 0 {
			im.fresh = jpath
		}
		im.j = j
		closeJournal = func() { j.Close() }
		if err := im.cols.useJournal(j); err != nil {
			j.Close()
			return nil, nil, "connect", err
		}
		if im.placed, err = loadPlaced(j); err != nil {
			j.Close()
			return nil, nil, "connect", err
		}
	}
	im.spoolDir = journal.SpoolDir(jpath, req.StateDir, req.Archives)
	return im, closeJournal, "", nil
}

// journalHost names the server in the journal's file name: the host (and
// port) of the URL, else of the home sets given.
func journalHost(base *url.URL, opt Options) string {
	if base != nil {
		return base.Host
	}
	if u, err := url.Parse(opt.CardDAV + opt.CalDAV); err == nil {
		return u.Host
	}
	return "dav"
}

// session is one run of Import.
type session struct {
	opt  Options
	req  importer.Request
	c    *client
	rep  *report.Report
	cols *collections
	j    *journal.Journal

	mu        sync.Mutex
	done      int
	converted int // vCard 2.1 cards sent as 3.0
	guarded   int // objects given SCHEDULE-AGENT=CLIENT
	messages  int
	// unselected counts the objects req.Select left out; folder is the
	// archive folder being read, for progress.
	unselected int
	folder     string
	plan       map[*resolution]*planLine

	// Whole-collection uploads (bulk.go), touched by the archive reader
	// only: a batch per address book, nil for books that take cards one
	// by one; radicale caches the server probe.
	bulk     map[*collection]*bulkBatch
	spoolDir string // where batches wait (journal.SpoolDir)
	radicale *bool

	// Objects waiting to be read back (check.go), under cmu; ctx is the
	// run's, for the reads that workers trigger.
	ctx       context.Context
	cmu       sync.Mutex
	checks    map[*collection][]check
	checkSize int64 // bytes of the bodies in checks
	noted     map[string]bool
	safer     int // cards rewritten so that Radicale keeps them (rewrite.go)

	// Applying a delta (converge.go): where the journal says mailhaul
	// placed objects, which archives are deltas, the last archive's
	// state, and the counts of what changed.
	placed  map[string]placedObject
	fresh   string // the journal's path, when it was empty as the run began
	deltas  map[string]bool
	state   *sourceState
	summary *format.Summary // the archive being read's
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
	delta   bool // from a delta: may replace the version mailhaul placed before
	update  bool // replaces an earlier version (counted as updated)
}

func (im *session) run(ctx context.Context) error {
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
	err := im.readArchives(ctx, jobs)
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
	if err == nil {
		im.deleted(ctx, im.state)
	}

	if im.unselected > 0 {
		im.rep.Note("%d contacts, events or tasks outside the selected folders or times were left out", im.unselected)
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

// readArchives streams the archives through importer.Walk, which owns the
// damaged-archive policy (a damaged item costs that item, failed in
// prepare; a damaged archive ends the run), resolving each item's
// collection and handing the object to the workers.
func (im *session) readArchives(ctx context.Context, jobs chan<- job) error {
	// The folder records of the archive being read.
	var folders map[string]format.Folder
	current := ""
	return importer.Walk(ctx, im.req.Archives, importer.Visitor{
		Folder: func(archive string, f format.Folder, notes []string) error {
			if archive != current {
				folders, current = map[string]format.Folder{}, archive
			}
			if f.Kind != format.FolderMail {
				for _, n := range notes { // the reader's: a folder read under a safe path
					im.rep.Note("%s", n)
				}
			}
			folders[string(f.Kind)+"\x00"+f.Path] = f
			return nil
		},
		Item: func(archive string, e *format.Entry) error {
			if e.Item.Kind == format.KindMessage {
				im.messages++
				return nil
			}
			if !im.selected(*e.Item) {
				im.unselected++
				return nil
			}
			if archive != current {
				folders, current = map[string]format.Folder{}, archive
			}
			jb, ok := im.prepare(ctx, filepath.Base(archive), e, folders, im.isDelta(archive))
			if !ok {
				return nil
			}
			taken, err := im.spool(ctx, jb, jobs)
			if err != nil || taken {
				return err
			}
			select {
			case jobs <- jb:
				return nil
			case <-ctx.Done():
				im.notAttempted(jb)
				return ctx.Err()
			}
		},
		Summary: func(archive string, s *format.Summary) error {
			// Deletions follow the last archive's state record alone: an
			// archive without one says nothing of them.
			im.summary, im.state = s, nil
			return nil
		},
		State: func(archive string, items iter.Seq2[format.StateItem, error]) error {
			st, err := readState(filepath.Base(archive), im.summary, items)
			if err != nil {
				return err
			}
			if len(st.folders) > 0 {
				im.state = st
				im.rep.StateApplied()
			}
			return nil
		},
	})
}

// selected applies the request's selection: the folders always, the
// time window to items that carry a received time (contacts do not).
func (im *session) selected(it format.Item) bool {
	if it.Received.IsZero() {
		return im.req.Select.KeepFolder(it.Folder)
	}
	return im.req.Select.Keep(it.Folder, it.Received)
}

// prepare reads an item, finds its collection and href and converts its
// bytes; it reports items that are settled without a request.
func (im *session) prepare(ctx context.Context, archive string, e *format.Entry, folders map[string]format.Folder, delta bool) (job, bool) {
	it := *e.Item
	im.mu.Lock()
	im.folder = it.Folder
	im.mu.Unlock()
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
		key:  itemKey(it.Kind, it.Folder, uid, sum), delta: delta}
	body, jb.asIs = im.asSent(ctx, it, body)
	jb.body = body
	if col.MaxSize > 0 && int64(len(body)) > col.MaxSize {
		return fail(fmt.Sprintf("%d bytes exceed the collection's max-resource-size of %d bytes; not sent", len(body), col.MaxSize))
	}
	// The journal speaks of collections as they were: one this run creates
	// (or a dry run would) was gone from the server, and nothing in it can
	// be there, whatever the journal says.
	if im.j != nil && !im.opt.Update && !col.Created && !col.Planned {
		state, ok := im.j.Lookup(jb.key)
		switch {
		case ok && state == journal.Done:
			im.rep.AddPresent()
			im.planned(jb, false)
			im.progress()
			return job{}, false
		case ok && state == journal.Gone:
			// Deleted on the target as at the source (converge.go):
			// an earlier archive passed again does not bring it back.
			im.rep.AddSkipped("deleted at the source, and on the target by an earlier run")
			im.progress()
			return job{}, false
		}
	}
	if im.req.DryRun {
		im.dryRun(ctx, jb)
		return job{}, false
	}
	return jb, true
}

// asSent is an object's bytes as the import sends them: a vCard 2.1
// made 3.0 (asIs when it is left as it was), commas escaped for
// Radicale, SCHEDULE-AGENT=CLIENT added where the server schedules.
func (im *session) asSent(ctx context.Context, it format.Item, body []byte) (_ []byte, asIs bool) {
	switch it.Kind {
	case format.KindContact:
		out, changed, notes, err := vcardconv.Convert(body)
		if err != nil {
			im.rep.Note("%s: %s: sent as vCard 2.1: %v", it.Folder, itemName(it), err)
			asIs = true
		}
		if changed {
			im.count(&im.converted)
		}
		for _, n := range notes {
			im.rep.Note("%s: %s: %s", it.Folder, itemName(it), n)
		}
		body = out
		if !asIs && im.isRadicale(ctx) {
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
	return body, asIs
}

func (im *session) guardScheduling(ctx context.Context) bool {
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

func (im *session) count(n *int) {
	im.mu.Lock()
	*n++
	im.mu.Unlock()
}

func (im *session) progress() {
	im.mu.Lock()
	im.done++
	e := progress.Event{Stage: "import", User: im.req.User, Folder: im.folder, Items: int64(im.done)}
	im.mu.Unlock()
	im.req.Progress.Report(e)
}
