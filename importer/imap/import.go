package imap

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/journal"
	"github.com/mailhaul/mailhaul/internal/ratelimit"
	"github.com/mailhaul/mailhaul/progress"
	"github.com/mailhaul/mailhaul/report"
)

// job is one run: it reads the archives into batches and hands them to
// the senders (sender.go), with its parts each doing one thing: the
// control connection, the mailboxes, presence, and the tally.
type job struct {
	opt   *Options
	req   importer.Request
	prof  Profile
	rep   *report.Report
	j     *journal.Journal
	ctl   *control
	boxes *mailboxes
	pres  *presence
	caps  serverCaps

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
	// is stopped may still be answered (see await).
	connCtx context.Context
	// senders counts the senders and the connections they retired while
	// those still have commands in flight.
	senders sync.WaitGroup
	tally   tally
	// state is the last archive's state record, applied once the
	// archives' messages are on the target (apply.go).
	state *sourceState
}

// serverCaps is what the append connections offer, from the first one,
// and how the run sends accordingly.
type serverCaps struct {
	multi       bool
	binary      bool
	appendLimit int64
	batchMsgs   int
	batchBytes  int64
	nconns      int
	depth       int
}

// tally keeps the run's counters that are not the report's.
type tally struct {
	mu        sync.Mutex
	queued    int64 // bytes handed to connections (upload cap)
	doneMsgs  int
	doneBytes int64
	refused   map[string]int // flag → messages it was kept off
	// unjournaled counts messages on the target whose outcome the journal
	// could not record; journalErr is the first reason.
	unjournaled int
	journalErr  error
}

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
	im := &job{opt: o, req: req, prof: prof, rep: rep, queue: newBatchQueue(), spooler: newSpooler(""),
		lim: o.Limits.Window, pacer: o.Limits.Pacer, conns: o.Limits.Conns, mem: semaphore.NewWeighted(memBudget)}
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
	im.spooler.dir = journal.SpoolDir(jpath, req.StateDir, req.Archives)
	defer im.j.Close()
	defer func() { im.state.close() }()
	im.pres = newPresence(im.j, req.DryRun, im.logf)
	if im.j.HasPending() {
		// The last run ended with commands in flight, which the server
		// may still be storing: look on the target only after they settle,
		// and before telling which mailboxes held mail.
		im.pres.settleUntil = lastWrite.Add(o.Settle)
		if err := im.pres.settle(ctx, im.pres.settleUntil, "the previous run's last commands"); err != nil {
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
	im.pres.ctl = im.ctl
	im.boxes = newMailboxes(im.ctl, rep, newFolderMapper(im.ctl.delim, prof, o.FolderMap, im.ctl.special), req.DryRun)

	connCtx, cancelConns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelConns()
	context.AfterFunc(ctx, func() { time.AfterFunc(stopGrace, cancelConns) })
	im.connCtx = connCtx
	// The control connection (the same account on the same server) tells
	// what the append connections are offered and has proved the login:
	// those are opened only for work (startSenders).
	im.learnCaps(im.ctl.conn)
	if req.DryRun {
		err = im.readArchives(ctx, archives)
		if err == nil {
			err = im.applyState(ctx)
		}
		im.finishNotes()
		rep.Finish()
		return rep, im.boxes.planValue(), err
	}
	im.lim.Widen(im.caps.nconns * im.caps.depth)
	im.startSenders(ctx)
	readErr := im.readArchives(ctx, archives)
	if readErr == nil {
		rep.MarkAllRead()
	}
	if o.readDone != nil {
		o.readDone()
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
	if readErr == nil {
		// Once the archives' messages are on the target (and journaled):
		// the state speaks of them too.
		readErr = im.applyState(ctx)
	}
	if readErr != nil {
		// Batches still queued once the senders (and every command they sent)
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

// progress counts messages handled (imported, or found already there) and
// reports the running totals, one call at a time. The totals to reach are
// left to the caller (0: not known here): reading them from the archives'
// summaries means decompressing the archives a second time, which a
// quiet run must not pay for, and the command's display already does it.
func (t *tally) progress(req importer.Request, folder string, items int, bytes int64) {
	if req.Progress == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.doneMsgs += items
	t.doneBytes += bytes
	req.Progress(progress.Event{Stage: "import", User: req.User, Folder: folder,
		Items: int64(t.doneMsgs), Bytes: t.doneBytes})
}

// queue counts size bytes against the provider's daily upload cap, and
// reports false, counting nothing, when they would go over it.
func (t *tally) queue(size, cap int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.queued+size > cap {
		return false
	}
	t.queued += size
	return true
}

// journalFailed counts n messages on the target that the journal could
// not record, keeping the first reason.
func (t *tally) journalFailed(n int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.unjournaled == 0 {
		t.journalErr = err
	}
	t.unjournaled += n
}

// capable is a connection that says what the server offers after login.
type capable interface {
	Has(name string) bool
	AppendLimit() int64
}

func (im *job) learnCaps(c capable) {
	cs := &im.caps
	cs.multi = c.Has("MULTIAPPEND")
	cs.binary = c.Has("BINARY")
	cs.appendLimit = c.AppendLimit()
	if m := im.prof.MaxMessageSize; m > 0 && (cs.appendLimit == 0 || m < cs.appendLimit) {
		cs.appendLimit = m
	}
	cs.nconns = im.opt.Connections
	cs.batchMsgs, cs.batchBytes, cs.depth = 1, 0, 16
	if cs.multi {
		// A few large commands per connection: one mailbox transaction
		// each, and two in flight so the wire never idles.
		cs.batchMsgs, cs.batchBytes, cs.depth = im.opt.BatchMessages, im.opt.BatchBytes, 2
	}
	if !c.Has("LITERAL+") {
		im.logf("imap: %s does not offer LITERAL+; large messages wait for the server's go-ahead", im.opt.Account.Addr)
	}
}

func (t *tally) noteRefused(flags []string) {
	if len(flags) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.refused == nil {
		t.refused = map[string]int{}
	}
	for _, f := range flags {
		t.refused[f]++
	}
}

func (im *job) logf(format string, args ...any) {
	if im.req.Logf != nil {
		im.req.Logf(format, args...)
	}
}

func (im *job) finishNotes() {
	im.tally.notes(im.rep.Note)
	if im.lim != nil {
		if s := im.lim.Stats(); s.Cuts > 0 {
			im.rep.Note("slowed down %d times for throttling, dropped connections or rising latency", s.Cuts)
		}
	}
}

// notes hands what the tally learnt about flags and the journal to note,
// under the tally's own lock.
func (t *tally) notes(note func(format string, args ...any)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for f, n := range t.refused {
		note("flag %q kept off %d messages: not a valid IMAP keyword, or the target mailbox does not allow it (PERMANENTFLAGS)", f, n)
	}
	if t.unjournaled > 0 {
		note("journal: %d messages are on the target, but the journal could not record them (%v); the next run looks for them on the target instead of trusting the journal",
			t.unjournaled, t.journalErr)
	}
}
