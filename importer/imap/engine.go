package imap

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/importer/imap/appender"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/journal"
	"github.com/mailhaul/mailhaul/internal/ratelimit"
	"github.com/mailhaul/mailhaul/progress"
	"github.com/mailhaul/mailhaul/report"
)

// box is one target mailbox as this run knows it.
type box struct {
	name    string
	source  string // the first source folder mapped here
	created bool   // created by this run (or to be, in a dry run)
	state   mailboxState
	hadMail bool // held messages before this run: check before sending
	index   mailboxIndex
	plan    *importer.PlanFolder
	// refused is why the target would not create or open the mailbox:
	// the reason each of its messages fails with, while the other folders
	// go on.
	refused string
	// claims counts, by content, copies the journal says earlier runs
	// put here: a check on the target skips that many matching copies,
	// which belong to those items, not to another one with the same bytes.
	claims map[uint64]int32
	// flying counts, by content, messages of this run in commands not yet
	// answered; their UIDs are unknown until the answer.
	flying map[[32]byte]int
}

// item is one message on its way.
type item struct {
	archive  string
	folder   string // source folder
	sourceID string
	box      *box
	sp       *spool
	key      journal.Key
	msg      appender.Message
	stripped bool // keywords were dropped after the server refused them
	attempts int
}

// batch is what one APPEND command carries: messages for one mailbox.
type batch struct {
	box       *box
	items     []*item
	bytes     int64
	uncertain bool      // a connection dropped while it was in flight
	lostAt    time.Time // when, to let the server finish storing it
	attempts  int
}

// job is one run's state.
type job struct {
	opt    *Options
	req    importer.Request
	prof   Profile
	ctl    *control
	j      *journal.Journal
	rep    *report.Report
	mapper *folderMapper
	boxes  map[string]*box // target name → box
	byPath map[string]*box // source folder path → box
	seen   map[journal.Key]bool
	plan   []*importer.PlanFolder // a dry run's, in the order met
	// copies numbers identical messages without a sourceId in a mailbox,
	// to tell them apart (see itemKey).
	copies map[journal.Key]int
	// legacy marks records of an old journal, keyed by mailbox and
	// content alone, that an item of this run has taken.
	legacy map[journal.Key]bool
	// placed holds, by mailbox, the UIDs the journal says its items got,
	// read once when the first mailbox is checked (nil before).
	placed map[string][]placedUID

	queue   *batchQueue
	spooler *spooler // the archive reader's
	// lim, pacer and conns are Options.Limits, perhaps shared with other
	// runs.
	lim   *ratelimit.AIMD
	pacer *ratelimit.Pacer
	conns *semaphore.Weighted
	mem   *semaphore.Weighted
	// connCtx bounds the append connections' lives: it ends stopGrace
	// after the run's context, so that a command in flight when the run
	// is stopped may still be answered (see collect).
	connCtx context.Context
	// settleUntil is when the previous run's last commands have surely
	// landed; no target check before it (see Options.Settle).
	settleUntil time.Time

	// capabilities of the append connections, from the first one
	multi       bool
	binary      bool
	appendLimit int64
	batchMsgs   int
	batchBytes  int64
	nconns      int
	depth       int

	// senders counts the workers and the connections they retired while
	// those still have commands in flight.
	senders sync.WaitGroup

	mu        sync.Mutex // guards the counters below
	queued    int64      // bytes handed to connections (upload cap)
	doneMsgs  int
	doneBytes int64
	// itemsTotal and bytesTotal are the archives' messages, once known
	// (see findTotals).
	itemsTotal, bytesTotal int64
	refused                map[string]int // flag → messages it was kept off
	// unjournaled counts messages on the target whose outcome the journal
	// could not record; journalErr is the first reason.
	unjournaled int
	journalErr  error
}

// memBudget bounds message bytes held in memory across all batches, read
// ahead or in flight (and, through spillCharge, the spill files). It leaves room under the command's 64 MiB soft
// memory limit for the garbage collector to work without thrashing; with
// MULTIAPPEND batches of typical mail (50 messages, a few MB) it still
// keeps every connection busy.
const memBudget = 32 << 20

// Target loads archives into one IMAP account. It implements
// importer.Target; one Target may run several requests, one at a time or
// at once (each run has its own state; they share o.Limits).
type Target struct{ opt Options }

var _ importer.Target = (*Target)(nil)

// New returns the target for o.
func New(o Options) *Target { return &Target{opt: o} }

// Kind is "imap".
func (t *Target) Kind() string { return "imap" }

// Import loads req's archives (a full one and its deltas, in order) and
// returns the report; a dry run returns the plan too, and creates, sends
// and writes nothing. An error means the run could not go on (login
// refused, archive unreadable, cancelled); items that failed one by one
// are in the report instead. The report is nil only when the run failed
// before it began (bad options, no connection).
func (t *Target) Import(ctx context.Context, req importer.Request) (*importer.Result, error) {
	o := t.opt // each run its own copy, defaults applied
	if o.Account.User == "" {
		o.Account.User = req.User
	}
	if req.User == "" {
		req.User = o.Account.User
	}
	rep, plan, err := run(ctx, &o, req)
	if rep == nil {
		return nil, err
	}
	return &importer.Result{Report: rep, Plan: plan}, err
}

func run(ctx context.Context, o *Options, req importer.Request) (*report.Report, *importer.Plan, error) {
	if err := o.check(); err != nil {
		return nil, nil, err
	}
	if len(req.Archives) == 0 {
		return nil, nil, errors.New("imap: no archive given")
	}
	prof, err := LookupProfile(o.Provider)
	if err != nil {
		return nil, nil, err
	}
	o.defaults(prof)
	if logf := req.Logf; logf != nil {
		// Connections report from their own goroutines; callers get one
		// call at a time.
		var mu sync.Mutex
		req.Logf = func(f string, a ...any) { mu.Lock(); defer mu.Unlock(); logf(f, a...) }
	}
	archives := req.Archives
	rep := report.New(req.User, "imap", "imap://"+o.Account.Addr, archives)
	rep.DryRun = req.DryRun
	im := &job{opt: o, req: req, prof: prof, rep: rep, boxes: map[string]*box{}, byPath: map[string]*box{},
		seen: map[journal.Key]bool{}, copies: map[journal.Key]int{}, legacy: map[journal.Key]bool{}, queue: newBatchQueue(), spooler: newSpooler(""), refused: map[string]int{},
		lim: o.Limits.Window, pacer: o.Limits.Pacer, conns: o.Limits.Conns, mem: semaphore.NewWeighted(memBudget)}
	totalsDone := im.findTotals(ctx)
	defer totalsDone()
	jpath, lastWrite, err := journalPath(req, o.Account)
	if err != nil {
		return nil, nil, err
	}
	open := journal.Open
	if req.DryRun {
		open = journal.OpenReadOnly // a dry run writes nothing
	}
	if im.j, err = open(jpath); err != nil {
		return nil, nil, err
	}
	defer im.j.Close()
	if im.j.HasPending() {
		// The last run ended with commands in flight, which the server
		// may still be storing: look on the target only after they settle,
		// and before telling which mailboxes held mail.
		im.settleUntil = lastWrite.Add(o.Settle)
		if err := im.settle(ctx, im.settleUntil, "the previous run's last commands"); err != nil {
			return nil, nil, err
		}
	}
	if im.ctl, err = dialControl(ctx, o); err != nil {
		return nil, nil, err
	}
	defer im.ctl.close()
	if err := im.ctl.discover(); err != nil {
		return nil, nil, err
	}
	im.mapper = newFolderMapper(im.ctl.delim, prof, o.FolderMap, im.ctl.special)

	connCtx, cancelConns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelConns()
	context.AfterFunc(ctx, func() { time.AfterFunc(stopGrace, cancelConns) })
	im.connCtx = connCtx
	// The first append connection tells what the server offers and proves
	// the login before anything is read; it becomes worker 0's.
	first, err := im.dial(ctx)
	if err != nil {
		return nil, nil, err
	}
	im.learnCaps(first.c)
	first.slots = make(chan struct{}, im.depth) // nothing in flight yet
	if req.DryRun {
		im.hangUp(first)
		err = im.readArchives(ctx, archives)
		im.finishNotes()
		rep.Finish()
		return rep, im.planValue(), err
	}
	im.lim.Widen(im.nconns * im.depth)
	for i := 0; i < im.nconns; i++ {
		var c *wconn
		if i == 0 {
			c = first
		}
		im.senders.Add(1)
		go func() { defer im.senders.Done(); im.worker(ctx, i, c) }()
	}
	readErr := im.readArchives(ctx, archives)
	if readErr == nil {
		rep.MarkAllRead()
	}
	im.queue.close()
	if readErr != nil {
		// Stop sending, but let batches already out finish: their outcome
		// belongs in the journal.
		im.drain()
	}
	im.queue.wait(ctx)
	im.senders.Wait()
	if readErr == nil {
		readErr = ctx.Err()
	}
	if readErr != nil {
		// Batches put back after the workers (and every command they sent)
		// stopped are not on the target.
		im.drain()
	}
	im.finishNotes()
	if readErr != nil {
		// The counts cover only what was read: never claim the rest is there.
		rep.Stop("import", readErr, ctx.Err() != nil)
	}
	rep.Finish()
	return rep, nil, readErr
}

// journalPath is where the run keeps its journal: journal.Path under
// req's state directory (journal.DefaultDir), and when the journal was
// last written. A journal of an earlier version, named
// <state>/<user>@<addr>.imap.journal, is moved there first, so a
// migration begun with it keeps its state; a dry run only reads it where
// it is.
func journalPath(req importer.Request, a imapconn.Account) (string, time.Time, error) {
	state := journal.DefaultDir(req.StateDir, req.Archives)
	path := journal.Path(state, req.User, "imap", a.Addr)
	old := filepath.Join(state, oldJournalName(a.User, a.Addr))
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(old); err == nil {
			if req.DryRun {
				path = old
			} else {
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					return "", time.Time{}, fmt.Errorf("journal: %w; pass --state DIR to keep the journal in a writable directory", err)
				}
				if err := os.Rename(old, path); err != nil {
					return "", time.Time{}, fmt.Errorf("journal: move %s to %s: %w", old, path, err)
				}
			}
		}
	}
	var lastWrite time.Time
	if fi, err := os.Stat(path); err == nil {
		lastWrite = fi.ModTime()
	}
	return path, lastWrite, nil
}

// oldJournalName is how versions before issue 10 named the journal.
func oldJournalName(user, addr string) string {
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == '/' || r == '\\' || r == ':' || r < ' ' {
				return '_'
			}
			return r
		}, s)
	}
	return clean(user) + "@" + clean(addr) + ".imap.journal"
}

// findTotals learns, in the background, how many messages and bytes the
// archives hold, from their summaries (tar headers only), for the
// progress events' totals. The returned function stops it.
func (im *job) findTotals(ctx context.Context) func() {
	if im.req.Progress == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var items, bytes int64
		for _, path := range im.req.Archives {
			s, err := format.ScanSummary(ctx, path)
			if err != nil {
				return
			}
			for _, f := range s.Folders {
				if f.Kind == format.FolderMail {
					items += int64(f.Messages)
					bytes += f.Bytes
				}
			}
		}
		im.mu.Lock()
		im.itemsTotal, im.bytesTotal = items, bytes
		im.mu.Unlock()
	}()
	return func() { cancel(); <-done }
}

// progress counts messages handled (imported, or found already there) and
// reports the running totals, one call at a time.
func (im *job) progress(folder string, items int, bytes int64) {
	if im.req.Progress == nil {
		return
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	im.doneMsgs += items
	im.doneBytes += bytes
	im.req.Progress(progress.Event{Stage: "import", User: im.req.User, Folder: folder,
		Items: int64(im.doneMsgs), ItemsTotal: im.itemsTotal, Bytes: im.doneBytes, BytesTotal: im.bytesTotal})
}

// planValue is the dry run's plan, folder by folder.
func (im *job) planValue() *importer.Plan {
	p := &importer.Plan{Folders: []importer.PlanFolder{}}
	for _, f := range im.plan {
		p.Folders = append(p.Folders, *f)
	}
	return p
}

func (im *job) learnCaps(c *appender.Conn) {
	im.multi = c.MultiAppend()
	im.binary = c.Has("BINARY")
	im.appendLimit = c.AppendLimit()
	if m := im.prof.MaxMessageSize; m > 0 && (im.appendLimit == 0 || m < im.appendLimit) {
		im.appendLimit = m
	}
	im.nconns = im.opt.Connections
	im.batchMsgs, im.batchBytes, im.depth = 1, 0, 16
	if im.multi {
		// A few large commands per connection: one mailbox transaction
		// each, and two in flight so the wire never idles.
		im.batchMsgs, im.batchBytes, im.depth = im.opt.BatchMessages, im.opt.BatchBytes, 2
	}
	if !c.Has("LITERAL+") {
		im.logf("imap: %s does not offer LITERAL+; large messages wait for the server's go-ahead", im.opt.Account.Addr)
	}
}

// readArchives streams every archive through importer.Walk, mapping
// folders and queueing messages in batches.
func (im *job) readArchives(ctx context.Context, archives []string) error {
	var cur *batch
	flush := func() {
		if cur != nil && len(cur.items) > 0 {
			im.dispatch(cur)
		}
		cur = nil
	}
	defer flush()
	sel := im.req.Select
	err := importer.Walk(ctx, archives, importer.Visitor{
		Folder: func(archive string, f format.Folder, notes []string) error {
			if f.Kind != format.FolderMail || !sel.KeepFolder(f.Path) {
				return nil
			}
			for _, n := range notes {
				im.rep.Note("%s", n)
			}
			_, err := im.folder(archive, f)
			return err
		},
		Item: func(archive string, e *format.Entry) error {
			if e.Item.Kind != format.KindMessage {
				im.rep.AddSkipped(fmt.Sprintf("%s, not mail (import it with import dav)", e.Item.Kind))
				return nil
			}
			if !sel.Keep(e.Item.Folder, e.Item.Received) {
				return nil
			}
			it, err := im.prepare(ctx, archive, e)
			if err != nil || it == nil {
				return err
			}
			if err := im.reserve(ctx, it, flush); err != nil {
				return err
			}
			if cur != nil && (cur.box != it.box || len(cur.items) >= im.batchMsgs ||
				cur.bytes+it.msg.Size > im.batchBytes) {
				flush()
			}
			if cur == nil {
				cur = &batch{box: it.box}
			}
			cur.items = append(cur.items, it)
			cur.bytes += it.msg.Size
			return nil
		},
		Summary: func(archive string, s *format.Summary) error {
			if n := len(s.Errors) + s.Truncated; n > 0 {
				im.rep.Note("archive %s: its export could not read %d items; they are not in the archive (see its export report)", archive, n)
			}
			return nil
		},
	})
	return err
}

// folder maps and prepares the target mailbox for a source folder, of
// archive.
func (im *job) folder(archive string, f format.Folder) (*box, error) {
	if b, ok := im.byPath[f.Path]; ok {
		return b, nil
	}
	m := im.mapper.Map(f)
	if m.note != "" {
		im.rep.Note("%s", m.note)
	}
	b, ok := im.boxes[m.name]
	if !ok {
		b = &box{name: m.name, source: f.Path}
		exists := im.ctl.exists(m.name)
		var err error
		switch {
		case exists:
			b.state, err = im.ctl.examine(m.name)
			b.hadMail = b.state.messages > 0
		case im.req.DryRun:
			b.created = true
			b.state.perm = permanentFlags{unknown: true}
		default:
			if err = im.ctl.create(m.name, false); err == nil {
				b.state, err = im.ctl.examine(m.name)
				b.created = true
			}
		}
		if err != nil {
			if !imapconn.Refused(err) {
				return nil, err
			}
			// The server said no to this one name (Dovecot over Maildir++
			// with "/" refuses "."): the folder fails, and so do its
			// messages, if it has any; the rest goes on.
			b.refused = refusedFolderReason(f.Path, m.name, err)
			im.rep.AddFolderFailure(report.Failure{Archive: archive, Folder: f.Path, Reason: b.refused})
		}
		if im.req.DryRun {
			b.plan = &importer.PlanFolder{Source: f.Path, Target: m.name, Kind: "mail", Create: b.created, Note: m.note}
			im.plan = append(im.plan, b.plan)
		}
		im.boxes[m.name] = b
	}
	if f.Subscribed && !im.req.DryRun && b.refused == "" {
		if err := im.ctl.create(m.name, true); err != nil {
			if !imapconn.Refused(err) {
				return nil, err
			}
			im.rep.Note("folder %q imported into %q but not subscribed: %v", f.Path, m.name, err)
		}
	}
	im.byPath[f.Path] = b
	return b, nil
}

// itemKey identifies an item in a target mailbox: its sourceId (the
// item's identity in the user's archives, so a delta repeating it is the
// same item) and its content (a sourceId reused for other bytes, as an
// mbox offset can be, is another item). Identical copies in one folder
// have their own sourceIds and are as many items; copies without one are
// told apart by their order among the identical copies of their mailbox.
func itemKey(mailbox, sourceID string, sum [32]byte) journal.Key {
	h := sha256.New()
	h.Write([]byte("imap-item\x00" + mailbox + "\x00" + sourceID + "\x00"))
	h.Write(sum[:])
	var k journal.Key
	copy(k[:], h.Sum(nil))
	return k
}

// contentKey is how journals before issue 9 keyed a message: mailbox and
// content, with identical copies merged into one. Such a record still
// stands for the one copy it sent (see prepare).
func contentKey(mailbox string, sum [32]byte) journal.Key {
	h := sha256.New()
	h.Write([]byte("imap\x00" + mailbox + "\x00"))
	h.Write(sum[:])
	var k journal.Key
	copy(k[:], h.Sum(nil))
	return k
}

// prepare reads one message and decides its fate: already there, refused
// up front, or to be sent (returned).
func (im *job) prepare(ctx context.Context, archive string, e *format.Entry) (*item, error) {
	src := e.Item
	b, err := im.folder(archive, format.Folder{Kind: format.FolderMail, Path: src.Folder, Role: src.Role})
	if err != nil {
		return nil, err
	}
	fail := func(reason string) {
		im.rep.AddFailure(report.Failure{Archive: archive, Folder: src.Folder, Item: src.SourceID, Reason: reason})
	}
	if b.refused != "" {
		fail(b.refused)
		return nil, nil
	}
	sp, err := im.spooler.read(e.Body)
	if err != nil {
		if errors.Is(err, format.ErrDamagedItem) {
			// The reader goes on past it (FORMAT.md): this item alone is lost.
			fail("damaged in the archive: " + err.Error())
			return nil, nil
		}
		return nil, fmt.Errorf("imap: read %s in %s: %w", src.SourceID, archive, err)
	}
	ck := contentKey(b.name, sp.sum)
	id := src.SourceID
	if id == "" {
		im.copies[ck]++
		id = fmt.Sprintf("#%d", im.copies[ck])
	}
	it := &item{archive: archive, folder: src.Folder, sourceID: src.SourceID, box: b, sp: sp, key: itemKey(b.name, id, sp.sum)}
	done := func() { sp.close() }
	present := func() {
		done()
		im.rep.AddPresent()
		planCount(b, 0, true)
		im.progress(src.Folder, 1, sp.size)
	}
	if im.seen[it.key] {
		present() // the same item twice in the archives (a delta repeating it)
		return nil, nil
	}
	im.seen[it.key] = true
	state, known := im.j.Lookup(it.key)
	placed := im.j.Placed(it.key)
	if !known && !im.legacy[ck] {
		// An old journal's record stands for one copy: the first item
		// with that content takes it over.
		if st, ok := im.j.Lookup(ck); ok {
			im.legacy[ck] = true
			state, known, placed = st, true, im.j.Placed(ck)
			if st == journal.Done && !im.req.DryRun {
				if err := im.j.Write(journal.Record{Key: it.key, State: journal.Done, Where: b.name}); err != nil {
					done()
					return nil, err
				}
			}
		}
	}
	if known && state == journal.Done {
		if b.hadMail && !placed {
			// Its copy is not excluded by UID (see lookup): by content.
			im.claim(b, sp.sum)
		}
		present()
		return nil, nil
	}
	// Only a mailbox that held mail before this run can hold this item
	// from an earlier one.
	if b.hadMail {
		uid, found, err := im.lookup(ctx, b, sp, src.Received, false, known, false)
		if err != nil {
			done()
			return nil, err
		}
		if found {
			done()
			if !im.req.DryRun {
				if err := im.j.Write(journal.Record{Key: it.key, State: journal.Done, Where: b.name,
					Ref: fmt.Sprintf("%d:%d", b.index.uidValidity, uid)}); err != nil {
					return nil, err
				}
			}
			im.rep.AddPresent()
			planCount(b, 0, true)
			im.progress(src.Folder, 1, sp.size)
			return nil, nil
		}
	}
	if im.appendLimit > 0 && sp.size > im.appendLimit {
		done()
		fail(fmt.Sprintf("%d bytes, over the target's limit of %d bytes per message", sp.size, im.appendLimit))
		return nil, nil
	}
	if sp.nul && !im.binary {
		done()
		fail("holds NUL bytes, which IMAP can only carry with BINARY, and the target does not offer it")
		return nil, nil
	}
	flags, refused := cleanFlags(src.Flags, b.state.perm)
	im.noteRefused(refused)
	it.msg = appender.Message{Flags: flags, Date: src.Received, Size: sp.size, Body: sp.open, Binary: sp.nul}
	if im.req.DryRun {
		done()
		im.rep.AddImported(sp.size)
		planCount(b, sp.size, false)
		return nil, nil
	}
	if cap := im.prof.UploadCap; cap > 0 {
		im.mu.Lock()
		over := im.queued+sp.size > cap
		if !over {
			im.queued += sp.size
		}
		im.mu.Unlock()
		if over {
			done()
			fail(fmt.Sprintf("the provider's upload cap of %d bytes per day is reached; run the import again tomorrow to send the rest", cap))
			return nil, nil
		}
	}
	return it, nil
}

// reserve takes an item's share of the read-ahead budget. It never waits
// while holding a batch not yet handed on: that batch's own messages
// could be what fills the budget, and nobody else would free it.
func (im *job) reserve(ctx context.Context, it *item, flush func()) error {
	if im.mem.TryAcquire(it.sp.charge()) {
		return nil
	}
	flush()
	if err := im.mem.Acquire(ctx, it.sp.charge()); err != nil {
		it.sp.close()
		return err
	}
	return nil
}

// lookup checks the target for a message, under the control lock.
// With refresh, the index is brought up to date first; otherwise only when
// it has not been filled yet (before sending, the run's own appends do not
// matter), or when another mailbox was selected since: the content
// comparison fetches by UID from the selected mailbox, and the checks of
// different mailboxes take turns on the one control connection.
//
// Before sending it looks only at what the mailbox held before this run,
// less the copies the journal accounts for; after a dropped connection
// (during) only at what arrived during this run.
// Identical copies are counted that way: k items in the archives and j
// copies on the target send k - j.
func (im *job) lookup(ctx context.Context, b *box, sp *spool, date time.Time, refresh, strict, during bool) (uint32, bool, error) {
	im.ctl.mu.Lock()
	defer im.ctl.mu.Unlock()
	if err := im.settle(ctx, im.settleUntil, "the previous run's last commands"); err != nil {
		return 0, false, err
	}
	if refresh || !b.index.fresh || im.ctl.selected != b.name {
		if err := im.ctl.refreshIndex(b.name, &b.index); err != nil {
			return 0, false, err
		}
	}
	ix := &b.index
	if !ix.based {
		// The first check of a mailbox comes before anything is sent to
		// it (only mailboxes that held mail are checked before sending).
		ix.based = true
		if b.hadMail {
			ix.base = ix.lastUID
		}
		// Copies the journal places belong to their items, whether or
		// not those are in this run's archives.
		if err := im.loadPlaced(); err != nil {
			return 0, false, err
		}
		for _, p := range im.placed[b.name] {
			if p.validity == ix.uidValidity {
				ix.used[p.uid] = true
			}
		}
		delete(im.placed, b.name)
	}
	var claims *int32
	if !during && b.claims != nil {
		if n := b.claims[contentTag(sp.sum)]; n > 0 {
			claims = &n
			defer func() { b.claims[contentTag(sp.sum)] = n }()
		}
	}
	var unix int64
	if !date.IsZero() {
		unix = date.Unix()
	}
	return im.ctl.find(ix, sp, strict, during, unix, claims)
}

// placedUID is where the journal says an item landed.
type placedUID struct{ validity, uid uint32 }

// loadPlaced reads the journal's UIDs by mailbox, once; the caller holds
// the control lock.
func (im *job) loadPlaced() error {
	if im.placed != nil {
		return nil
	}
	im.placed = map[string][]placedUID{}
	return im.j.Scan(func(r journal.Record) {
		if r.State != journal.Done || r.Ref == "" {
			return
		}
		v, u, ok := strings.Cut(r.Ref, ":")
		validity, err1 := strconv.ParseUint(v, 10, 32)
		uid, err2 := strconv.ParseUint(u, 10, 32)
		if ok && err1 == nil && err2 == nil {
			im.placed[r.Where] = append(im.placed[r.Where], placedUID{uint32(validity), uint32(uid)})
		}
	})
}

// contentTag shortens a content hash for the per-mailbox counts.
func contentTag(sum [32]byte) uint64 { return binary.BigEndian.Uint64(sum[:8]) }

// claim records that a copy of sum in b belongs to an item the journal
// knows.
func (im *job) claim(b *box, sum [32]byte) {
	im.ctl.mu.Lock()
	defer im.ctl.mu.Unlock()
	if b.claims == nil {
		b.claims = map[uint64]int32{}
	}
	b.claims[contentTag(sum)]++
}

// fly counts b's items in a command sent (d = 1) or answered (d = -1).
func (im *job) fly(bt *batch, d int) {
	im.ctl.mu.Lock()
	defer im.ctl.mu.Unlock()
	b := bt.box
	if b.flying == nil {
		b.flying = map[[32]byte]int{}
	}
	for _, it := range bt.items {
		if b.flying[it.sp.sum] += d; b.flying[it.sp.sum] <= 0 {
			delete(b.flying, it.sp.sum)
		}
	}
}

// sameInFlight reports whether a message with the same bytes as one of
// the batch's is in a command of this run still unanswered: a copy found
// now could be that one's.
func (im *job) sameInFlight(bt *batch) bool {
	im.ctl.mu.Lock()
	defer im.ctl.mu.Unlock()
	for _, it := range bt.items {
		if bt.box.flying[it.sp.sum] > 0 {
			return true
		}
	}
	return false
}

// settle waits until t, when what was sent before has surely landed.
func (im *job) settle(ctx context.Context, t time.Time, what string) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	im.logf("imap: waiting %s for %s to land before looking on the target", d.Round(time.Millisecond), what)
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dispatch records the batch's intent durably, then queues it.
func (im *job) dispatch(b *batch) {
	recs := make([]journal.Record, len(b.items))
	for i, it := range b.items {
		recs[i] = journal.Record{Key: it.key, State: journal.Pending, Where: b.box.name}
	}
	if err := im.j.Write(recs...); err != nil {
		for _, it := range b.items {
			im.failItem(it, "could not record the intent in the journal: "+err.Error())
		}
		return
	}
	im.queue.push(b)
}

func (im *job) failItem(it *item, reason string) {
	im.rep.AddFailure(report.Failure{Archive: it.archive, Folder: it.folder, Item: it.sourceID, Reason: reason})
	im.release(it)
}

// notSent records an item the run stopped before sending: not attempted,
// and sent by the next run. One whose command was cut off by a dropped
// connection was attempted: it may be on the target, and the next run
// looks (its intent stays pending in the journal).
func (im *job) notSent(it *item, uncertain bool) {
	if uncertain {
		im.failItem(it, "the run stopped early after its connection dropped; it may be on the target, and the next run checks")
		return
	}
	im.rep.AddNotAttempted(report.Failure{Archive: it.archive, Folder: it.folder, Item: it.sourceID, Reason: "not sent: the run stopped first"})
	im.release(it)
}

func (im *job) release(it *item) {
	im.mem.Release(it.sp.charge())
	it.sp.close()
}

// drain empties the queue after a fatal error, recording what was not sent.
func (im *job) drain() {
	for {
		im.queue.mu.Lock()
		items := im.queue.items
		im.queue.items = nil
		im.queue.mu.Unlock()
		if len(items) == 0 {
			return
		}
		for _, b := range items {
			for _, it := range b.items {
				im.notSent(it, b.uncertain)
			}
			im.queue.resolve()
		}
	}
}

func (im *job) noteRefused(flags []string) {
	if len(flags) == 0 {
		return
	}
	im.mu.Lock()
	for _, f := range flags {
		im.refused[f]++
	}
	im.mu.Unlock()
}

func (im *job) logf(format string, args ...any) {
	if im.req.Logf != nil {
		im.req.Logf(format, args...)
	}
}

func (im *job) finishNotes() {
	im.mu.Lock()
	defer im.mu.Unlock()
	for f, n := range im.refused {
		im.rep.Note("flag %q kept off %d messages: not a valid IMAP keyword, or the target mailbox does not allow it (PERMANENTFLAGS)", f, n)
	}
	if im.unjournaled > 0 {
		im.rep.Note("journal: %d messages are on the target, but the journal could not record them (%v); the next run looks for them on the target instead of trusting the journal",
			im.unjournaled, im.journalErr)
	}
	if im.lim != nil {
		if s := im.lim.Stats(); s.Cuts > 0 {
			im.rep.Note("slowed down %d times for throttling, dropped connections or rising latency", s.Cuts)
		}
	}
}
