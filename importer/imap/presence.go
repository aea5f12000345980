package imap

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mailhaul/mailhaul/internal/journal"
)

// presence answers "is this item already on the target?" from the journal
// first, then from the target itself (its mailbox index, through the
// control connection), and only once what earlier commands sent has had
// time to land (settle).
type presence struct {
	j      *journal.Journal
	ctl    *control
	dryRun bool // record nothing
	logf   func(format string, args ...any)
	// settleUntil is when the previous run's last commands have surely
	// landed; no target check before it (see Options.Settle).
	settleUntil time.Time

	// Only the archive reader uses these.
	seen map[journal.Key]bool
	// copies numbers identical messages without a sourceId in a mailbox,
	// to tell them apart (see itemKey).
	copies map[journal.Key]int
	// legacy marks records of an old journal, keyed by mailbox and
	// content alone, that an item of this run has taken.
	legacy map[journal.Key]bool
	// ids indexes the journal's placed messages for sameItem (read on
	// first use).
	ids *placedIDs

	mu sync.Mutex
	// placed holds, by mailbox, the UIDs the journal says its items got,
	// read once when the first mailbox is checked (nil before).
	placed map[string][]placedUID
}

func newPresence(j *journal.Journal, dryRun bool, logf func(string, ...any)) *presence {
	return &presence{j: j, dryRun: dryRun, logf: logf,
		seen: map[journal.Key]bool{}, copies: map[journal.Key]int{}, legacy: map[journal.Key]bool{}}
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

// keys returns an item's key and its content key (see contentKey).
func (p *presence) keys(b *box, sourceID string, sp *spool) (key, ck journal.Key) {
	ck = contentKey(b.name, sp.sum)
	id := sourceID
	if id == "" {
		p.copies[ck]++
		id = fmt.Sprintf("#%d", p.copies[ck])
	}
	return itemKey(b.name, id, sp.sum), ck
}

// known reports whether the item of key (content key ck) is on the
// target already: repeated in the archives, done in the journal, or
// found on the target, which the journal then records with what found
// gives (the item's sourceId, folder and flags: without a journal, a copy
// found with the archive's flags is taken as mailhaul's, for a delta's
// state record to change).
func (p *presence) known(ctx context.Context, b *box, key, ck journal.Key, sp *spool, received time.Time, found journal.Record) (bool, error) {
	if p.seen[key] {
		return true, nil // the same item twice in the archives (a delta repeating it)
	}
	p.seen[key] = true
	state, known := p.j.Lookup(key)
	placed := p.j.Placed(key)
	if !known && !p.legacy[ck] {
		// An old journal's record stands for one copy: the first item
		// with that content takes it over.
		if st, ok := p.j.Lookup(ck); ok {
			p.legacy[ck] = true
			state, known, placed = st, true, p.j.Placed(ck)
			if st == journal.Done && !p.dryRun {
				if err := p.j.Write(journal.Record{Key: key, State: journal.Done, Where: b.name}); err != nil {
					return false, err
				}
			}
		}
	}
	if !known && !b.created {
		// Placed before under other bytes or an older sourceId
		// (sameitem.go): its copy is excluded from the target check
		// below, so it is known here or sent again.
		same, err := p.sameItem(found.Source, found.Folder, found.MessageID, found.Size)
		if err != nil || same {
			return same, err
		}
	}
	// The journal speaks of mailboxes as they were: one this run creates
	// (or a dry run would) was gone from the target, and nothing in it can
	// be there, whatever the journal says.
	if known && state == journal.Done && !b.created {
		if b.hadMail && !placed {
			// Its copy is not excluded by UID (see control.look): by
			// content.
			p.ctl.claim(b, sp.sum)
		}
		return true, nil
	}
	// Only a mailbox that held mail before this run can hold this item
	// from an earlier one.
	if !b.hadMail {
		return false, nil
	}
	ref, there, err := p.lookup(ctx, b, sp, received, false, known, false)
	if err != nil || !there {
		return false, err
	}
	if !p.dryRun {
		found.Key, found.State, found.Where, found.Ref = key, journal.Done, b.name, ref
		if err := p.j.Write(found); err != nil {
			return false, err
		}
	}
	return true, nil
}

// lookup checks the target for a message once the previous run's last
// commands have landed; see control.look.
func (p *presence) lookup(ctx context.Context, b *box, sp *spool, date time.Time, refresh, strict, during bool) (string, bool, error) {
	if err := p.settle(ctx, p.settleUntil, "the previous run's last commands"); err != nil {
		return "", false, err
	}
	return p.ctl.look(b, sp, date, refresh, strict, during, p.placedIn)
}

// placedUID is where the journal says an item landed.
type placedUID struct{ validity, uid uint32 }

// placedIn returns the UIDs the journal places in mailbox, once: the
// journal is read on the first call.
func (p *presence) placedIn(mailbox string) ([]placedUID, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.placed == nil {
		p.placed = map[string][]placedUID{}
		err := p.j.Scan(func(r journal.Record) {
			if r.State != journal.Done || r.Ref == "" {
				return
			}
			v, u, ok := strings.Cut(r.Ref, ":")
			validity, err1 := strconv.ParseUint(v, 10, 32)
			uid, err2 := strconv.ParseUint(u, 10, 32)
			if ok && err1 == nil && err2 == nil {
				p.placed[r.Where] = append(p.placed[r.Where], placedUID{uint32(validity), uint32(uid)})
			}
		})
		if err != nil {
			return nil, err
		}
	}
	uids := p.placed[mailbox]
	delete(p.placed, mailbox)
	return uids, nil
}

// settle waits until t, when what was sent before has surely landed.
func (p *presence) settle(ctx context.Context, t time.Time, what string) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	p.logf("imap: waiting %s for %s to land before looking on the target", d.Round(time.Millisecond), what)
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
