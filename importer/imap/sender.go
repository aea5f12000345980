package imap

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailhaul/mailhaul/importer/imap/appender"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/journal"
	"github.com/mailhaul/mailhaul/internal/ratelimit"
	"github.com/mailhaul/mailhaul/internal/retry"
)

// How a batch is sent. One function, send, owns a batch until it ends
// (done, failed with a reason, or not sent) and repeats its work through
// retry.Do, the project's one retry loop: each attempt checks the target
// first when the last one was cut off (verify), then takes a place in the
// AIMD window and the pacer and its line's connection (a new one when the
// old dropped or spent its error budget), sends the APPEND, waits for the
// answer and turns the outcome into a retry mark. A throttled answer is
// waited out however often it comes (the server's wait, else the window's
// backoff; the window shrinks each time); a dropped connection or a failed
// dial uses up one of sendTries; the check of a cut-off batch has
// sendTries of its own each time, which is the longer budget an uncertain
// batch gets. Each connection carries as many senders as it pipelines
// commands (serverCaps.depth), so goroutines stay bounded by connections
// times depth, like the commands in flight.

// stopGrace is how long a command in flight when the run is stopped may
// take to be answered: what the server confirms is journalled as done
// instead of left for the next run to look for.
const stopGrace = 2 * time.Second

// sendTries bounds the attempts of a batch that end in a dropped
// connection or a failed dial, and the tries of each check of the target
// after a drop (throttling waits as long as the server asks).
const sendTries = 6

// wconn is an append connection with its error count: a provider like
// Exchange drops a connection at its 10th NO/BAD, so it is retired before
// that and a fresh one opened.
type wconn struct {
	c        *appender.Conn
	errs     atomic.Int32
	inflight sync.WaitGroup // commands sent on it and not yet answered
}

// line is one append connection at a time, shared by the senders that
// pipeline their commands on it; its lock guards the swap of a
// connection, never a command.
type line struct {
	id  int
	mu  sync.Mutex
	cur *wconn
}

// startSenders starts caps.nconns lines of caps.depth senders each.
// im.senders counts them, and the retired connections while those still
// have commands in flight. A line begins (takes its place in the cap and
// then, at its first batch, dials) only when a batch waits that the lines
// begun cannot take at once: a delta with nothing to append opens no
// connection, a small one a single connection.
func (im *job) startSenders(ctx context.Context) {
	for i := 0; i < im.caps.nconns; i++ {
		ln := &line{id: i}
		im.senders.Add(1)
		go func() {
			defer im.senders.Done()
			// A line takes its place before its first batch, so that a
			// line waiting for one holds no batch: runs sharing the cap
			// cannot hold each other up (an idle line keeps its place
			// only until the work ends).
			depth := max(im.caps.depth, 1)
			if !im.queue.backlog(ctx, depth) {
				return
			}
			if im.takeConn(ctx, im.queue) != nil {
				im.queue.begun(depth)
				return
			}
			defer im.giveConn()
			var group sync.WaitGroup
			for range depth {
				group.Go(func() {
					for b := im.queue.first(ctx); b != nil; b = im.queue.pop(ctx) {
						im.send(ctx, ln, b)
					}
				})
			}
			group.Wait()
			if ln.cur != nil {
				im.hangUp(ln.cur)
			}
		}()
	}
}

// send owns one batch until every item in it has ended: done, failed
// with its reason, or given back as not sent. It resolves the batch once.
func (im *job) send(ctx context.Context, ln *line, b *batch) {
	defer im.queue.resolve()
	s := &sending{im: im, ln: ln, b: b}
	loop := retry.Loop{Attempts: sendTries, WaitOutThrottling: true,
		Backoff: retry.Policy{First: 250 * time.Millisecond, Max: im.opt.MaxBackoff}}
	err := retry.Do(ctx, loop, s.attempt)
	if b.uncertain && len(b.items) > 0 && ctx.Err() == nil && s.unchecked == nil {
		// The last send was cut off: look before failing anything.
		s.unchecked = im.check(ctx, b)
		s.lostEachTime = s.unchecked == nil
	}
	s.end(ctx, err)
}

// sending is one batch in send's hands.
type sending struct {
	im      *job
	ln      *line
	b       *batch
	tries   int
	created bool // a TRYCREATE refusal creates the mailbox once
	// unchecked is why the target could not be checked after a drop;
	// lostEachTime says it was, after the tries ran out on drops.
	unchecked    error
	lostEachTime bool
}

// attempt is one try of retry.Do: check the target if the last send was
// cut off, send, and act on a refusal. A refusal's remedies (creating
// the mailbox, dropping a single message's keywords) are tried at once,
// each once; a batch of several refused messages is split.
func (s *sending) attempt(ctx context.Context, attempt int) error {
	im, b := s.im, s.b
	s.tries = attempt
	if b.uncertain {
		if err := im.check(ctx, b); err != nil {
			s.unchecked = err
			return retry.MarkPermanent(err) // it had its own tries
		}
		if len(b.items) == 0 {
			return nil
		}
	}
	for {
		resp, err := im.deliver(ctx, s.ln, b)
		if err != nil || resp.OK() {
			return err
		}
		if thr, wait := imapconn.Throttled(resp); thr {
			d := im.lim.Pause(wait, im.opt.MaxBackoff)
			if wait > 0 {
				d = wait // the server's own figure, honoured whatever its length
			}
			im.logf("imap: throttled (%s); pausing %s", resp, d.Round(time.Millisecond))
			return retry.MarkThrottled(resp.Err("APPEND"), d)
		}
		if resp.Code == "TRYCREATE" && !s.created {
			s.created = true
			im.ctl.gone(b.box.name)
			if im.ctl.create(b.box.name, false) == nil {
				continue
			}
		}
		if len(b.items) > 1 {
			// One bad message must not fail its neighbours: each goes
			// alone, as a batch of its own.
			singles := make([]*batch, len(b.items))
			for i, it := range b.items {
				singles[i] = &batch{box: b.box, items: []*item{it}, bytes: it.msg.Size}
			}
			im.queue.split(singles)
			b.items = nil
			return nil
		}
		if it := b.items[0]; !it.stripped && hasKeywords(it.msg.Flags) {
			it.stripped = true
			it.msg.Flags = systemOnly(it.msg.Flags)
			continue
		}
		return retry.MarkPermanent(&refusal{resp})
	}
}

// refusal is the target's final no to a single message.
type refusal struct{ resp *imapconn.Response }

func (r *refusal) Error() string { return "the target refused it: " + r.resp.String() }

// end records what is left of the batch once its loop is over: nothing
// when it was all sent or found; not sent when the run stopped; else
// failed with the last error.
func (s *sending) end(ctx context.Context, err error) {
	b := s.b
	if len(b.items) == 0 {
		return
	}
	if ctx.Err() != nil {
		s.im.giveBack(b)
		return
	}
	var r *refusal
	var reason string
	switch {
	case errors.As(err, &r):
		reason = r.Error()
	case b.uncertain:
		reason = fmt.Sprintf("its connection dropped: %v; it may be on the target: the next run checks before sending it", s.unchecked)
	case s.lostEachTime:
		reason = "gave up after " + s.attempts() + ": the connection was lost each time; the target was checked and does not have these messages"
	default:
		// The tries ran out, or a dial failed for good (a login or
		// certificate refused).
		reason = "gave up after " + s.attempts() + ": " + err.Error()
	}
	for _, it := range b.items {
		s.im.failItem(it, reason)
	}
}

func (s *sending) attempts() string {
	if s.tries == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", s.tries)
}

// deliver sends b once on ln's connection and waits for the answer. An OK
// answer is recorded (b is left empty); a NO or BAD is returned for the
// caller to act on. A connection lost before the answer leaves b
// uncertain and returns a transient error; a command in flight when the
// run stopped records its items as such (b is left empty).
func (im *job) deliver(ctx context.Context, ln *line, b *batch) (*imapconn.Response, error) {
	if err := im.lim.Acquire(ctx); err != nil {
		return nil, err
	}
	if err := im.pacer.Wait(ctx, len(b.items), b.bytes); err != nil {
		im.lim.Release(ratelimit.Failed, 0)
		return nil, err
	}
	w, err := im.lineConn(ctx, ln)
	if err != nil {
		if ctx.Err() != nil {
			im.lim.Release(ratelimit.Failed, 0)
			return nil, err
		}
		im.logf("imap: connection %d: %v", ln.id, err)
		im.lim.Release(ratelimit.Lost, 0)
		im.lim.Pause(0, im.opt.MaxBackoff)
		return nil, imapconn.Classify(fmt.Errorf("could not connect: %w", err))
	}
	defer w.inflight.Done()
	msgs := make([]appender.Message, len(b.items))
	for i, it := range b.items {
		msgs[i] = it.msg
	}
	// The items in flight, kept apart: an answer's outcome empties b.
	flying := &batch{box: b.box, items: b.items}
	im.ctl.fly(flying, 1)
	defer im.ctl.fly(flying, -1) // after appended marked the UIDs it was given
	var resp *imapconn.Response
	// The watch covers the sending too: a server that stops reading
	// blocks Append's write, which no answer timer would end.
	stopWatch := im.watch(ctx, w, b)
	p, err := w.c.Append(b.box.name, msgs)
	if err == nil {
		<-p.Done()
		resp, err = p.Result()
	}
	stopWatch()
	switch {
	case err != nil && ctx.Err() != nil:
		// The connection closed by our own stop: no drop, no slowdown.
		im.lim.Release(ratelimit.Failed, 0)
		for _, it := range b.items {
			im.failItem(it, inFlightReason)
		}
		b.items = nil
		return nil, err
	case err != nil:
		im.lim.Release(ratelimit.Lost, 0)
		im.logf("imap: connection lost with %d messages for %q in flight: %v", len(b.items), b.box.name, err)
		b.uncertain, b.lostAt = true, time.Now()
		return nil, retry.MarkTransient(fmt.Errorf("connection lost: %w", err))
	case resp.OK():
		im.lim.Release(ratelimit.Success, time.Since(p.Sent))
		im.appended(b, resp)
		return resp, nil
	}
	w.errs.Add(1)
	if thr, _ := imapconn.Throttled(resp); thr {
		im.lim.Release(ratelimit.Throttled, 0)
	} else {
		im.lim.Release(ratelimit.Failed, 0)
	}
	return resp, nil
}

const inFlightReason = "in flight when the run stopped: may be on the target; the next run checks"

// minRate is the slowest a command's bytes may go before the connection
// is given up: a limit of Options.Timeout plus a second per minRate bytes.
var minRate int64 = 50 << 10

// watch guards one command, from its first byte sent to its answer: a
// server that stops reading or answering must not hang the run, so past a
// generous time per byte the connection is closed (the command then
// fails as a lost connection). On our own stop the server may be
// answering right now: a short grace turns "may be on the target" into
// "done" for what it stored. The returned func ends the watch.
func (im *job) watch(ctx context.Context, w *wconn, b *batch) (stop func()) {
	limit := im.opt.Timeout + time.Duration(b.bytes/minRate)*time.Second
	done := make(chan struct{})
	go func() {
		t := time.NewTimer(limit)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			w.c.Close()
		case <-ctx.Done():
			g := time.NewTimer(stopGrace)
			defer g.Stop()
			select {
			case <-done:
			case <-g.C:
				w.c.Close()
			}
		}
	}()
	return func() { close(done) }
}

// lineConn returns ln's connection with a command counted in flight on
// it (the caller calls inflight.Done), opening a new one when there is
// none, it dropped, or it spent its error budget. A connection replaced
// with commands in flight is hung up once they are answered.
func (im *job) lineConn(ctx context.Context, ln *line) (*wconn, error) {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	if w := ln.cur; w != nil {
		if w.c.Err() == nil && int(w.errs.Load()) < im.opt.ErrorBudget {
			w.inflight.Add(1)
			return w, nil
		}
		if w.c.Err() == nil {
			im.logf("imap: connection %d: %d errors, reconnecting before the server's limit", ln.id, w.errs.Load())
		}
		ln.cur = nil
		// Its commands' outcomes (journal lines) must land before run
		// stops the senders and drains the queue.
		im.senders.Add(1)
		go func() { defer im.senders.Done(); w.inflight.Wait(); im.hangUp(w) }()
	}
	w, err := im.dial(ctx)
	if err != nil {
		return nil, err
	}
	ln.cur = w
	w.inflight.Add(1)
	return w, nil
}

// dial opens an append connection, in the place its line holds in the
// connection cap.
func (im *job) dial(ctx context.Context) (*wconn, error) {
	c, err := appender.Dial(im.connCtx, im.opt.Account)
	if err != nil {
		return nil, err
	}
	return &wconn{c: c}, nil
}

// takeConn takes a line's place in the connection cap (Limits.Conns),
// which the line keeps across reconnects until giveConn. With q, the wait
// ends with an error once q's work is over: the line is not needed.
func (im *job) takeConn(ctx context.Context, q *batchQueue) error {
	if im.conns == nil {
		return nil
	}
	if q != nil {
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() { q.wait(wctx); cancel() }()
		ctx = wctx
	}
	return im.conns.Acquire(ctx, 1)
}

func (im *job) giveConn() {
	if im.conns != nil {
		im.conns.Release(1)
	}
}

// hangUp logs a connection out.
func (im *job) hangUp(w *wconn) { w.c.Logout() }

// appended records a confirmed batch and empties it.
func (im *job) appended(b *batch, resp *imapconn.Response) {
	au, ok := resp.AppendUID()
	if ok && len(au.UIDs) != len(b.items) {
		ok = false
	}
	recs := make([]journal.Record, len(b.items))
	for i, it := range b.items {
		ref := ""
		if ok {
			ref = fmt.Sprintf("%d:%d", au.UIDValidity, au.UIDs[i])
		}
		recs[i] = it.placed(b.box.name, ref)
	}
	im.recordDone(recs...)
	if ok {
		im.ctl.appended(b.box, au)
	}
	im.tally.progress(im.req, b.items[0].folder, len(b.items), b.bytes)
	for _, it := range b.items {
		if it.stripped {
			im.rep.Note("%s in %s: sent without its keywords, which the target refused", it.sourceID, it.folder)
		}
		im.rep.AddImported(it.msg.Size)
		im.release(it)
	}
	b.items = nil
}

// placed is the journal's record of an item this run put at ref in
// mailbox: with what a later delta's state record needs to find it and to
// tell whether the user changed it since (the flags sent).
func (it *item) placed(mailbox, ref string) journal.Record {
	return journal.Record{Key: it.key, State: journal.Done, Where: mailbox, Ref: ref,
		Source: it.sourceID, Folder: it.folder, Flags: it.msg.Flags, MessageID: it.sp.msgID, Size: it.sp.size}
}

// recordDone journals messages the target has. If the journal cannot
// take them, they are still on the target and count as such, but the
// report says so: their intents stay pending, and the next run must look
// for them on the target (where a user may have moved them meanwhile)
// instead of trusting the journal.
func (im *job) recordDone(recs ...journal.Record) {
	if err := im.j.Write(recs...); err != nil {
		im.tally.journalFailed(len(recs), err)
	}
}

// giveBack records the items of a batch the run stopped before it ended:
// not sent, or, after a dropped connection, possibly on the target.
func (im *job) giveBack(b *batch) {
	for _, it := range b.items {
		im.notSent(it, b.uncertain)
	}
	b.items = nil
}

// check looks on the target for the messages of a batch cut off by a
// dropped connection, with sendTries of its own; see verify.
func (im *job) check(ctx context.Context, b *batch) error {
	return retry.Do(ctx, im.commandLoop(), func(ctx context.Context, _ int) error { return im.verify(ctx, b) })
}

// commandLoop is the retry loop of a command on the target other than an
// APPEND (a check, a cutover's changes): sendTries, throttling included.
func (im *job) commandLoop() retry.Loop {
	return retry.Loop{Attempts: sendTries, Backoff: retry.Policy{First: 250 * time.Millisecond, Max: im.opt.MaxBackoff}}
}

// verify removes from an uncertain batch the messages that did arrive,
// recording them done, and leaves the rest in it, certain not to be on
// the target. An error leaves it uncertain with what was not found yet:
// ctx's end, or a failed look (transient).
func (im *job) verify(ctx context.Context, b *batch) error {
	if err := im.pres.settle(ctx, b.lostAt.Add(im.opt.Settle), "a command of a dropped connection"); err != nil {
		return err
	}
	// A copy of one of these messages found now could be another item's,
	// still unanswered: look once it is.
	for im.ctl.sameInFlight(b) {
		if err := retry.Sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	var rest []*item
	for i, it := range b.items {
		ref, found, err := im.pres.lookup(ctx, b.box, it.sp, it.msg.Date, i == 0, true, true)
		if err != nil {
			// Those found are settled; the rest stay to be checked.
			b.keep(append(rest, b.items[i:]...))
			if errors.Is(err, context.Canceled) || ctx.Err() != nil {
				return err
			}
			im.logf("imap: checking %q for messages that may have arrived: %v", b.box.name, err)
			return retry.MarkTransient(fmt.Errorf("could not check the target: %w", err))
		}
		if !found {
			rest = append(rest, it)
			continue
		}
		im.recordDone(it.placed(b.box.name, ref))
		im.rep.AddImported(it.msg.Size)
		im.release(it)
	}
	b.keep(rest)
	b.uncertain = false
	return nil
}

// keep leaves items in b.
func (b *batch) keep(items []*item) {
	b.items, b.bytes = items, 0
	for _, it := range items {
		b.bytes += it.msg.Size
	}
}
