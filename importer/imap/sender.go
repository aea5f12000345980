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
)

// stopGrace is how long a command in flight when the run is stopped may
// take to be answered: what the server confirms is journalled as done
// instead of left for the next run to look for.
const stopGrace = 2 * time.Second

// maxAttempts bounds how often a batch is sent again after errors that
// are not throttling (throttling waits as long as the server asks).
const maxAttempts = 6

// wconn is an append connection with its error count: a provider like
// Exchange drops a connection at its 10th NO/BAD, so the worker retires
// it before that and opens a fresh one.
type wconn struct {
	c        *appender.Conn
	errs     atomic.Int32
	inflight sync.WaitGroup
	slots    chan struct{} // bounds commands in flight on this connection
}

// worker owns one connection at a time and sends batches on it,
// pipelined: a collector goroutine per command waits for its answer.
func (im *job) worker(ctx context.Context, id int, cur *wconn) {
	// A retired connection's commands finish in the background, but
	// within im.senders: their outcomes (journal lines, retries) must land
	// before run stops the workers and drains the queue.
	retire := func(w *wconn) {
		im.senders.Add(1)
		go func() { defer im.senders.Done(); w.inflight.Wait(); im.hangUp(w) }()
	}
	defer func() {
		if cur != nil {
			cur.inflight.Wait()
			im.hangUp(cur)
		}
	}()
	for {
		b := im.queue.pop(ctx)
		if b == nil {
			return
		}
		if b.uncertain {
			if b = im.verify(ctx, b); b == nil {
				continue
			}
			if b.attempts >= maxAttempts {
				im.again(b, "the connection was lost each time; the target was checked and does not have these messages")
				continue
			}
		}
		if err := im.lim.Acquire(ctx); err != nil {
			im.giveBack(b)
			return
		}
		if err := im.pacer.Wait(ctx, len(b.items), b.bytes); err != nil {
			im.lim.Release(ratelimit.Failed, 0)
			im.giveBack(b)
			return
		}
		if cur != nil && (cur.c.Err() != nil || int(cur.errs.Load()) >= im.opt.ErrorBudget) {
			if cur.c.Err() == nil {
				im.logf("imap: connection %d: %d errors, reconnecting before the server's limit", id, cur.errs.Load())
			}
			retire(cur)
			cur = nil
		}
		if cur == nil {
			c, err := im.dial(ctx)
			if err != nil {
				im.logf("imap: connection %d: %v", id, err)
				im.lim.Release(ratelimit.Lost, 0)
				im.lim.Pause(0, im.opt.MaxBackoff)
				b.attempts++
				im.again(b, "could not connect: "+err.Error())
				continue
			}
			cur = c
		}
		select {
		case cur.slots <- struct{}{}:
		case <-ctx.Done():
			im.lim.Release(ratelimit.Failed, 0)
			im.giveBack(b)
			return
		}
		msgs := make([]appender.Message, len(b.items))
		for i, it := range b.items {
			msgs[i] = it.msg
		}
		w := cur
		w.inflight.Add(1)
		im.ctl.fly(b, 1)
		p, err := w.c.Append(b.box.name, msgs)
		if err != nil {
			<-w.slots
			w.inflight.Done()
			im.ctl.fly(b, -1)
			if ctx.Err() != nil {
				im.stoppedInFlight(b) // the connection closed by our own stop
				return
			}
			im.lost(b, err)
			continue
		}
		go func() {
			defer w.inflight.Done()
			defer func() { <-w.slots }()
			im.collect(ctx, w, b, p)
		}()
	}
}

// dial opens an append connection within the connection cap.
func (im *job) dial(ctx context.Context) (*wconn, error) {
	if im.conns != nil {
		if err := im.conns.Acquire(ctx, 1); err != nil {
			return nil, err
		}
	}
	c, err := appender.Dial(im.connCtx, im.opt.Account)
	if err != nil {
		if im.conns != nil {
			im.conns.Release(1)
		}
		return nil, err
	}
	return &wconn{c: c, slots: make(chan struct{}, max(im.caps.depth, 1))}, nil
}

// hangUp logs a connection out and gives its place in the cap back.
func (im *job) hangUp(w *wconn) {
	w.c.Logout()
	if im.conns != nil {
		im.conns.Release(1)
	}
}

// collect waits for one command's answer and acts on it.
func (im *job) collect(ctx context.Context, w *wconn, b *batch, p *appender.Pending) {
	// A server that stops answering must not hang the run: allow a
	// generous time per byte, then give the connection up.
	limit := im.opt.Timeout + time.Duration(b.bytes/(50<<10))*time.Second
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-p.Done():
	case <-t.C:
		w.c.Close()
	case <-ctx.Done():
		// Our own stop: the server may be answering right now; a short
		// wait turns "may be on the target" into "done" for what it stored.
		g := time.NewTimer(stopGrace)
		select {
		case <-p.Done():
		case <-g.C:
			w.c.Close()
		}
		g.Stop()
	}
	resp, err := p.Result()
	latency := time.Since(p.Sent)
	defer im.ctl.fly(b, -1) // after appended marked the UIDs it was given
	switch {
	case err != nil && ctx.Err() != nil:
		im.stoppedInFlight(b)
	case err != nil:
		im.lost(b, err)
	case resp.OK():
		im.lim.Release(ratelimit.Success, latency)
		im.appended(b, resp)
	default:
		w.errs.Add(1)
		im.refusedBatch(b, resp)
	}
}

// appended records a confirmed batch.
func (im *job) appended(b *batch, resp *imapconn.Response) {
	au, ok := resp.AppendUID()
	if ok && len(au.UIDs) != len(b.items) {
		ok = false
	}
	recs := make([]journal.Record, len(b.items))
	for i, it := range b.items {
		recs[i] = journal.Record{Key: it.key, State: journal.Done, Where: b.box.name}
		if ok {
			recs[i].Ref = fmt.Sprintf("%d:%d", au.UIDValidity, au.UIDs[i])
		}
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
	im.queue.resolve()
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

// refusedBatch handles a NO or BAD answer: throttling waits and retries,
// a refused batch is split to find the message at fault, a refused
// message is retried without keywords once, then reported.
func (im *job) refusedBatch(b *batch, resp *imapconn.Response) {
	if thr, wait := imapconn.Throttled(resp); thr {
		im.lim.Release(ratelimit.Throttled, 0)
		d := im.lim.Pause(wait, im.opt.MaxBackoff)
		if wait > 0 {
			d = wait // the server's own figure, honoured whatever its length
		}
		im.logf("imap: throttled (%s); pausing %s", resp, d.Round(time.Millisecond))
		im.queue.retry(b)
		return
	}
	im.lim.Release(ratelimit.Failed, 0)
	if resp.Code == "TRYCREATE" && b.attempts == 0 {
		b.attempts++
		if err := im.ctl.create(b.box.name, false); err == nil {
			im.queue.retry(b)
			return
		}
	}
	if len(b.items) > 1 {
		singles := make([]*batch, len(b.items))
		for i, it := range b.items {
			singles[i] = &batch{box: b.box, items: []*item{it}, bytes: it.msg.Size}
		}
		im.queue.retry(singles...)
		return
	}
	it := b.items[0]
	if !it.stripped && hasKeywords(it.msg.Flags) {
		it.stripped = true
		it.msg.Flags = systemOnly(it.msg.Flags)
		im.queue.retry(b)
		return
	}
	im.failItem(it, "the target refused it: "+resp.String())
	im.queue.resolve()
}

// lost handles a command whose connection ended before its answer: the
// messages may or may not be on the target, so the batch is checked
// before it is sent again.
func (im *job) lost(b *batch, err error) {
	im.lim.Release(ratelimit.Lost, 0)
	im.logf("imap: connection lost with %d messages for %q in flight: %v", len(b.items), b.box.name, err)
	b.uncertain, b.lostAt = true, time.Now()
	b.attempts++
	im.again(b, "connection lost: "+err.Error())
}

// stoppedInFlight records a batch whose answer the run stopped before it
// came: no dropped connection (the run closed it) and nothing to slow
// down for. Its messages were sent, so they are not "not attempted": the
// target may have them, their intents stay pending in the journal, and
// the next run looks for them before sending.
func (im *job) stoppedInFlight(b *batch) {
	im.lim.Release(ratelimit.Failed, 0) // frees the slot; no cut
	for _, it := range b.items {
		im.failItem(it, inFlightReason)
	}
	im.queue.resolve()
}

const inFlightReason = "in flight when the run stopped: may be on the target; the next run checks"

// again retries a batch, or fails it after too many attempts.
//
// A batch whose connection dropped is checked on the target before it is
// failed, so that a failure never names a message that is there; only if
// the check itself keeps failing is it failed as uncertain.
func (im *job) again(b *batch, reason string) {
	if b.attempts >= maxAttempts && (!b.uncertain || b.attempts >= 2*maxAttempts) {
		if b.uncertain {
			reason += "; it may be on the target: the next run checks before sending it"
		}
		for _, it := range b.items {
			im.failItem(it, fmt.Sprintf("gave up after %d attempts: %s", b.attempts, reason))
		}
		im.queue.resolve()
		return
	}
	im.queue.retry(b)
}

// giveBack returns a batch when the run is being cancelled.
func (im *job) giveBack(b *batch) {
	for _, it := range b.items {
		im.notSent(it, b.uncertain)
	}
	im.queue.resolve()
}

// verify removes from an uncertain batch the messages that did arrive.
func (im *job) verify(ctx context.Context, b *batch) *batch {
	var rest []*item
	if err := im.pres.settle(ctx, b.lostAt.Add(im.opt.Settle), "a command of a dropped connection"); err != nil {
		im.giveBack(b)
		return nil
	}
	if im.ctl.sameInFlight(b) {
		// A copy of one of these messages found now could be another
		// item's, still unanswered: check once it is.
		select {
		case <-time.After(50 * time.Millisecond):
			im.queue.retry(b)
		case <-ctx.Done():
			im.giveBack(b)
		}
		return nil
	}
	for i, it := range b.items {
		ref, found, err := im.pres.lookup(ctx, b.box, it.sp, it.msg.Date, i == 0, true, true)
		if err != nil {
			if errors.Is(err, context.Canceled) || ctx.Err() != nil {
				// Those found are settled; the rest were sent and stay
				// uncertain (the next run checks), each counted once.
				im.giveBack(&batch{items: append(rest, b.items[i:]...), uncertain: true})
				return nil
			}
			im.logf("imap: checking %q for messages that may have arrived: %v", b.box.name, err)
			im.lim.Pause(0, im.opt.MaxBackoff)
			b.attempts++
			im.again(b, "could not check the target: "+err.Error())
			return nil
		}
		if !found {
			rest = append(rest, it)
			continue
		}
		im.recordDone(journal.Record{Key: it.key, State: journal.Done, Where: b.box.name,
			Ref: ref})
		im.rep.AddImported(it.msg.Size)
		im.release(it)
	}
	if len(rest) == 0 {
		im.queue.resolve()
		return nil
	}
	b.items, b.uncertain = rest, false
	b.bytes = 0
	for _, it := range rest {
		b.bytes += it.msg.Size
	}
	return b
}
