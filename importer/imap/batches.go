package imap

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/importer/imap/appender"
	"github.com/mailhaul/mailhaul/internal/journal"
	"github.com/mailhaul/mailhaul/report"
)

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
}

// batch is what one APPEND command carries: messages for one mailbox.
type batch struct {
	box       *box
	items     []*item
	bytes     int64
	uncertain bool      // a connection dropped while it was in flight
	lostAt    time.Time // when, to let the server finish storing it
}

// memBudget bounds message bytes held in memory across all batches, read
// ahead or in flight (and, through spillCharge, the spill files). It
// leaves room under the command's 64 MiB soft memory limit for the
// garbage collector to work without thrashing; with MULTIAPPEND batches
// of typical mail (50 messages, a few MB) it still keeps every connection
// busy.
const memBudget = 32 << 20

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
	var summary *format.Summary // the archive's, which its state record follows
	err := importer.Walk(ctx, archives, importer.Visitor{
		Folder: func(archive string, f format.Folder, notes []string) error {
			if f.Kind != format.FolderMail || !sel.KeepFolder(f.Path) {
				return nil
			}
			for _, n := range notes {
				im.rep.Note("%s", n)
			}
			_, err := im.boxes.folder(archive, f)
			return err
		},
		Item: func(archive string, e *format.Entry) error {
			if e.Item.Kind != format.KindMessage {
				im.rep.AddSkipped(fmt.Sprintf("%s, not mail (import it with import dav)", e.Item.Kind))
				return nil
			}
			return im.placed(e, func(e *format.Entry) error {
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
				if cur != nil && (cur.box != it.box || len(cur.items) >= im.caps.batchMsgs ||
					cur.bytes+it.msg.Size > im.caps.batchBytes) {
					flush()
				}
				if cur == nil {
					cur = &batch{box: it.box}
				}
				cur.items = append(cur.items, it)
				cur.bytes += it.msg.Size
				return nil
			})
		},
		Summary: func(archive string, s *format.Summary) error {
			if n := len(s.Errors) + s.Truncated; n > 0 {
				im.rep.Note("archive %s: its export could not read %d items; they are not in the archive (see its export report)", archive, n)
			}
			summary = s
			return nil
		},
		State: func(archive string, items iter.Seq2[format.StateItem, error]) error {
			return im.keepState(archive, summary, items)
		},
	})
	return err
}

// prepare reads one message and decides its fate: already there, refused
// up front, or to be sent (returned).
func (im *job) prepare(ctx context.Context, archive string, e *format.Entry) (*item, error) {
	src := e.Item
	b, err := im.boxes.folder(archive, format.Folder{Kind: format.FolderMail, Path: src.Folder, Role: src.Role})
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
	key, ck := im.pres.keys(b, src.SourceID, sp)
	it := &item{archive: archive, folder: src.Folder, sourceID: src.SourceID, box: b, sp: sp, key: key}
	done := func() { sp.close() }
	if st, ok := im.j.Lookup(key); ok && st == journal.Gone {
		done()
		im.rep.AddSkipped("expunged at the source: deleted on the target by an earlier cutover, not brought back")
		return nil, nil
	}
	if st, ok := im.j.Lookup(key); !ok || st != journal.Done || !im.j.Placed(key) || b.created {
		// Only an item to look for or to send needs its mailbox's SELECT:
		// a delta's full archive, read again, selects nothing.
		if err := im.boxes.open(b, archive, src.Folder, true); err != nil {
			done()
			return nil, err
		}
		if b.refused != "" {
			done()
			fail(b.refused)
			return nil, nil
		}
	}
	flags, refused := cleanFlags(src.Flags, b.state.perm)
	present, err := im.pres.known(ctx, b, key, ck, sp, src.Received,
		journal.Record{Source: src.SourceID, Folder: src.Folder, Flags: flags, MessageID: sp.msgID, Size: sp.size})
	if err != nil {
		done()
		return nil, err
	}
	if present {
		done()
		im.rep.AddPresent()
		planCount(b, 0, true)
		im.tally.progress(im.req, src.Folder, 1, sp.size)
		return nil, nil
	}
	if im.caps.appendLimit > 0 && sp.size > im.caps.appendLimit {
		done()
		fail(fmt.Sprintf("%d bytes, over the target's limit of %d bytes per message", sp.size, im.caps.appendLimit))
		return nil, nil
	}
	if sp.nul && !im.caps.binary {
		done()
		fail("holds NUL bytes, which IMAP can only carry with BINARY, and the target does not offer it")
		return nil, nil
	}
	im.tally.noteRefused(refused)
	it.msg = appender.Message{Flags: flags, Date: src.Received, Size: sp.size, Body: sp.open, Binary: sp.nul}
	if im.req.DryRun {
		done()
		im.rep.AddImported(sp.size)
		planCount(b, sp.size, false)
		return nil, nil
	}
	if cap := im.prof.UploadCap; cap > 0 {
		if !im.tally.queue(sp.size, cap) {
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
		items := im.queue.takeAll()
		if len(items) == 0 {
			return
		}
		for _, b := range items {
			im.giveBack(b)
			im.queue.resolve()
		}
	}
}
