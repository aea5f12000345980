package dav

// Radicale's whole-collection upload.
//
// Radicale takes a PUT of a whole .vcf to a collection URL as "make this
// the collection": it splits the body into cards and stores each at
// <UID>.vcf, in one request. Its per-card PUT costs more the fuller the
// collection is (every PUT scans every stored UID under one global lock),
// so for a large address book this turns minutes into seconds.
//
// Because that PUT replaces whatever the collection holds, it is used only
// where nothing can be lost:
//   - the server is Radicale (radicale.go), and --bulk is not "never";
//   - the address book was created by this run and is still empty, and the
//     PUT carries If-Match on the empty collection's ETag, so a card anyone
//     added meanwhile makes Radicale answer 412 instead of wiping it;
//   - the batch holds only cards Radicale will store exactly as it would
//     from a per-card PUT, at the href resourceName gives (see bulkable).
//
// Then the collection is listed: every card of the batch must be at its
// href, whose ETag goes into the journal as a per-card PUT's would. What
// is missing, what Radicale refused (the whole batch, with its answer) and
// every card left out of the batch go the per-card way, with
// If-None-Match, after the upload. Calendars never go this way: Radicale
// rebuilds each event's VCALENDAR, regenerating VTIMEZONEs and dropping
// calendar properties, which the per-object PUT keeps (README.md).

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/davclient"
	"github.com/mailhaul/mailhaul/internal/journal"
)

const (
	// A batch is uploaded when it reaches either bound (or at the end of
	// the run); later cards of that address book go one by one. The byte
	// bound stays well under Radicale's default max_content_length of
	// 100 MB; the card bound bounds the batch's index in memory.
	bulkMaxCards = 20000
	bulkMaxBytes = 32 << 20
	// Below this a whole-collection PUT saves nothing worth its checks.
	bulkMinCards = 8
)

// bulkBatch gathers the cards of one freshly created address book until
// its whole-collection PUT. The bodies wait in temporary files, so memory
// holds only their index.
type bulkBatch struct {
	col    *collection
	body   *os.File  // the PUT's body: the batch's cards back to back
	size   int64     // bytes in body
	cards  []spooled // in body
	rest   *os.File  // cards that go one by one once the PUT is done
	restSz int64
	later  []spooled // in rest
	uids   map[string]bool
	closed bool // uploaded or given up: new cards go one by one at once
}

// spooled is a job whose body waits in a batch file.
type spooled struct {
	jb  job // body nil
	off int64
	n   int
}

func newBulkBatch(col *collection, dir string) (*bulkBatch, error) {
	var files [2]*os.File
	for i, pattern := range []string{".mailhaul-dav-bulk-*.vcf", ".mailhaul-dav-later-*.vcf"} {
		f, err := os.CreateTemp(dir, pattern)
		if err != nil {
			if files[0] != nil {
				files[0].Close()
			}
			return nil, fmt.Errorf("dav: spool for a whole-collection upload: %w", err)
		}
		os.Remove(f.Name()) // unlinked: gone however the run ends
		files[i] = f
	}
	return &bulkBatch{col: col, body: files[0], rest: files[1], uids: map[string]bool{}}, nil
}

func (b *bulkBatch) remove() {
	for _, f := range []*os.File{b.body, b.rest} {
		if f != nil {
			f.Close()
		}
	}
	b.body, b.rest = nil, nil
}

// bulkable reports whether Radicale stores jb, when it comes in a
// whole-collection PUT, as it would from a per-card PUT to jb.href:
//   - a UID that resourceName uses as is, so that Radicale's href for it
//     (UID + ".vcf") is ours, and that no other card of the batch has;
//   - UTF-8 bytes: Radicale decodes the whole body with one charset, so
//     one Latin-1 card would turn every other card's accents into
//     mojibake;
//   - exactly one vCard, converted without notes (a card sent as 2.1 may
//     hold nested cards or lines Radicale splits differently).
func (b *bulkBatch) bulkable(jb job) bool {
	uid := jb.item.UID
	if uid == "" || !safeUID(uid) || strings.HasSuffix(strings.ToLower(uid), ".vcf") || b.uids[uid] {
		return false
	}
	if jb.asIs || !utf8.Valid(jb.body) {
		return false
	}
	up := bytes.ToUpper(jb.body)
	return bytes.HasPrefix(bytes.TrimSpace(up), []byte("BEGIN:VCARD")) && bytes.Count(up, []byte("BEGIN:VCARD")) == 1
}

// add spools jb into the batch: into the PUT's body when bulkable, else
// to wait for the PUT.
func (b *bulkBatch) add(jb job) error {
	body := jb.body
	if !bytes.HasSuffix(body, []byte("\n")) {
		body = append(body[:len(body):len(body)], '\r', '\n')
	}
	inBatch := b.bulkable(jb)
	jb.body = nil
	if inBatch {
		if _, err := b.body.Write(body); err != nil {
			return fmt.Errorf("dav: spool %s: %w", itemName(jb.item), err)
		}
		b.cards = append(b.cards, spooled{jb: jb, off: b.size, n: len(body)})
		b.size += int64(len(body))
		b.uids[jb.item.UID] = true
		return nil
	}
	if _, err := b.rest.Write(body); err != nil {
		return fmt.Errorf("dav: spool %s: %w", itemName(jb.item), err)
	}
	b.later = append(b.later, spooled{jb: jb, off: b.restSz, n: len(body)})
	b.restSz += int64(len(body))
	return nil
}

func (b *bulkBatch) full(next int) bool {
	return len(b.cards)+len(b.later) >= bulkMaxCards || b.size+int64(next) > bulkMaxBytes
}

// bulkCandidate reports whether objects for col gather in a batch.
func (im *session) bulkCandidate(ctx context.Context, col *collection) bool {
	return col.Created && col.Kind == format.FolderContacts && !im.req.DryRun &&
		im.opt.Bulk != BulkNever && im.isRadicale(ctx)
}

// spool takes jb into its address book's batch when that book is filled
// by a whole-collection PUT; false means jb goes one by one as usual.
// Only the archive reader calls it, so batches need no lock.
func (im *session) spool(ctx context.Context, jb job, jobs chan<- job) (bool, error) {
	b, seen := im.bulk[jb.col]
	if !seen {
		if !im.bulkCandidate(ctx, jb.col) {
			im.bulk[jb.col] = nil
			return false, nil
		}
		var err error
		if b, err = newBulkBatch(jb.col, im.spoolDir); err != nil {
			im.rep.Note("%v; cards are sent one by one", err)
			im.bulk[jb.col] = nil
			return false, nil
		}
		im.bulk[jb.col] = b
	}
	if b == nil || b.closed {
		return false, nil
	}
	if b.full(len(jb.body)) {
		return false, im.flush(ctx, b, jobs)
	}
	if err := b.add(jb); err != nil {
		im.rep.Note("%v; the address book's cards are sent one by one", err)
		return false, im.flush(ctx, b, jobs)
	}
	return true, nil
}

// flushAll uploads every batch still open; the run calls it once the
// archives are read, while the workers still take jobs.
func (im *session) flushAll(ctx context.Context, jobs chan<- job) error {
	for _, b := range im.bulk {
		if b != nil && !b.closed {
			if err := im.flush(ctx, b, jobs); err != nil {
				return err
			}
		}
	}
	return nil
}

// dropBatches removes the spool files of a run that stops early; nothing
// in them is journalled as done, so the next run sends them, and this one
// reports them as not attempted.
func (im *session) dropBatches() {
	for _, b := range im.bulk {
		if b != nil && !b.closed {
			for _, s := range append(b.cards, b.later...) {
				im.notAttempted(s.jb)
			}
		}
		if b != nil {
			b.closed = true
			b.remove()
		}
	}
}

// flush uploads the batch, then hands the workers whatever must still go
// one by one. The reader waits meanwhile, so no card of this address
// book is sent before the whole-collection PUT has been settled.
func (im *session) flush(ctx context.Context, b *bulkBatch, jobs chan<- job) error {
	b.closed = true
	defer b.remove()
	left := b.cards
	if len(b.cards) >= bulkMinCards {
		left = im.bulkPut(ctx, b)
	}
	for _, list := range []struct {
		f     *os.File
		items []spooled
	}{{b.body, left}, {b.rest, b.later}} {
		for _, s := range list.items {
			if ctx.Err() != nil {
				im.notAttempted(s.jb)
				continue
			}
			body := make([]byte, s.n)
			if _, err := list.f.ReadAt(body, s.off); err != nil {
				im.failed(s.jb, fmt.Sprintf("read back from the spool file %s: %v", list.f.Name(), err))
				im.progress()
				continue
			}
			jb := s.jb
			jb.body = body
			select {
			case jobs <- jb:
			case <-ctx.Done():
				im.notAttempted(jb)
			}
		}
	}
	return ctx.Err()
}

// bulkPut makes the whole-collection PUT and checks what landed; it
// returns the cards still to send one by one.
func (im *session) bulkPut(ctx context.Context, b *bulkBatch) []spooled {
	col := b.col
	where := davclient.Redact(col.URL)
	giveUp := func(why string, args ...any) []spooled {
		im.rep.Note("%s: whole-collection upload of %d cards not used (%s); they are sent one by one",
			where, len(b.cards), fmt.Sprintf(why, args...))
		return b.cards
	}
	self, members, err := im.c.ListETags(ctx, col.URL)
	switch {
	case err != nil:
		return giveUp("listing it first failed: %v", err)
	case len(members) > 0:
		return giveUp("it is no longer empty: %d resources appeared since it was created", len(members))
	case strongETag(self) == "" || strongETag(self) != self:
		return giveUp("the server gave the collection no strong ETag to make the upload conditional on")
	}
	// The upload replaces the collection's properties: until they are
	// back, the journal calls it pending, so a run stopped in between
	// has the next one restore them (collections.go).
	if err := im.cols.setPending(col, false); err != nil {
		return giveUp("journal: %v", err)
	}
	if im.j != nil {
		recs := make([]journal.Record, len(b.cards))
		for i, s := range b.cards {
			recs[i] = journal.Record{Key: s.jb.key, State: journal.Pending, Where: col.URL.String(), Ref: s.jb.href.String()}
		}
		if err := im.j.Write(recs...); err != nil {
			return giveUp("journal: %v", err)
		}
	}
	hdr := http.Header{"Content-Type": {contentType(format.KindContact)}, "If-Match": {self}}
	a, err := im.c.SendSection(ctx, http.MethodPut, col.URL.String(), hdr, io.NewSectionReader(b.body, 0, b.size))
	if err == nil && a.Status/100 != 2 {
		// Radicale checked the precondition or the cards and changed
		// nothing: a 412 means the collection changed, a 400 that one
		// card is malformed (the per-card path names it).
		if err := im.cols.setPending(col, true); err != nil {
			im.rep.Note("%s: %v", where, err)
		}
		return giveUp("the server refused it: %s", a.ServerSays())
	}
	if err != nil && ctx.Err() != nil {
		return b.cards
	}
	// After a transport error the upload may or may not have landed: the
	// decoration is put back either way (the same values if it did not),
	// and the listing below decides, card by card.
	if im.cols.redecorate(ctx, col) {
		if err := im.cols.setPending(col, true); err != nil {
			im.rep.Note("%s: %v", where, err)
		}
	}
	_, members, lerr := im.c.ListETags(ctx, col.URL)
	if lerr != nil {
		return giveUp("listing it after the upload failed: %v", lerr)
	}
	var left []spooled
	for _, s := range b.cards {
		name := path.Base(s.jb.href.Path)
		etag, ok := members[name]
		if !ok {
			left = append(left, s)
			continue
		}
		delete(members, name)
		jb := s.jb
		jb.body = make([]byte, s.n)
		if _, err := b.body.ReadAt(jb.body, s.off); err != nil {
			// It is stored; only the read-back check is missed.
			im.noteOnce("spool", "%s: a card could not be read back from the spool file to check it: %v", where, err)
			im.record(s.jb, s.jb.href, etag, true, int64(s.n))
		} else {
			im.stored(jb, jb.href, etag)
		}
		im.progress()
	}
	im.rep.Note("%s: %d of %d cards were stored by one whole-collection PUT (Radicale) and found at their hrefs afterwards; %d go one by one",
		where, len(b.cards)-len(left), len(b.cards), len(left)+len(b.later))
	if len(members) > 0 {
		im.rep.Note("%s: %d resources after the whole-collection upload match no card sent (first: %s)", where, len(members), firstKey(members))
	}
	return left
}

func firstKey(m map[string]string) string {
	first := ""
	for k := range m {
		if first == "" || k < first {
			first = k
		}
	}
	return first
}
