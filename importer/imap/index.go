package imap

import (
	"crypto/sha256"
	"fmt"
	"io"
	"strconv"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailhaul/mailhaul/internal/imapconn"
)

// mailboxIndex answers "is this message already in the mailbox?" without
// a round trip per message: it holds a digest of each target message's
// Message-ID and size (or, for messages without one, just the size, to be
// confirmed by content hash). It is filled once and then only with UIDs
// above the last one seen, so checking again after a dropped connection
// costs one short FETCH.
type mailboxIndex struct {
	name        string // the mailbox: its UIDs mean something only there
	uidValidity uint32
	lastUID     uint32
	byID        map[[16]byte][]uint32 // digest(Message-ID, size) → UIDs
	noID        map[int64][]uint32    // size → UIDs of messages without Message-ID
	bySize      map[int64][]uint32    // size → all UIDs
	date        map[uint32]int64      // UID → internal date, Unix seconds
	used        map[uint32]bool       // UIDs matched to an item, or appended by this run
	// fresh is set by a refresh and cleared when something may have
	// arrived behind the index's back (a dropped connection).
	fresh bool
	// base is the last UID the mailbox held before this run sent it
	// anything (0 for a mailbox that was empty); based once it is known.
	base  uint32
	based bool
}

func idDigest(msgid string, size int64) [16]byte {
	h := sha256.Sum256([]byte(msgid + "\x00" + strconv.FormatInt(size, 10)))
	var d [16]byte
	copy(d[:], h[:])
	return d
}

// refreshIndex brings ix up to date with the mailbox; the caller holds
// t.mu.
func (t *control) refreshIndex(name string, ix *mailboxIndex) error {
	_, err := t.selectIndexed(name, ix)
	return err
}

// selectIndexed selects the mailbox, brings ix up to date with it and
// returns what the SELECT said; the caller holds t.mu.
func (t *control) selectIndexed(name string, ix *mailboxIndex) (mailboxState, error) {
	st, err := t.selectLocked(name)
	if err != nil {
		return st, err
	}
	if st.uidValidity != ix.uidValidity {
		// A new UIDVALIDITY: every UID known so far means nothing. What
		// the mailbox held before this run is unknown now, so it all
		// counts as earlier (a copy found is taken as there).
		*ix = mailboxIndex{uidValidity: st.uidValidity}
	}
	ix.name = name
	if ix.byID == nil {
		// UIDs this run appended (noted before the index was first
		// needed) stay marked as used.
		ix.byID, ix.noID, ix.bySize, ix.date = map[[16]byte][]uint32{}, map[int64][]uint32{}, map[int64][]uint32{}, map[uint32]int64{}
		if ix.used == nil {
			ix.used = map[uint32]bool{}
		}
	}
	ix.fresh = true
	if st.messages == 0 {
		return st, nil
	}
	var set imap.UIDSet
	set.AddRange(imap.UID(ix.lastUID+1), 0) // lastUID+1:*
	cmd := t.c.Fetch(set, &imap.FetchOptions{UID: true, RFC822Size: true, InternalDate: true,
		BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader,
			HeaderFields: []string{"Message-ID"}, Peek: true}}})
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		buf, err := msg.Collect()
		if err != nil {
			cmd.Close()
			return st, fmt.Errorf("imap: index %q: %w", name, err)
		}
		uid := uint32(buf.UID)
		if uid <= ix.lastUID {
			continue // "n:*" always returns the last message
		}
		ix.lastUID = uid
		var id string
		if len(buf.BodySection) > 0 {
			id = headerMessageID(buf.BodySection[0].Bytes)
		}
		ix.bySize[buf.RFC822Size] = append(ix.bySize[buf.RFC822Size], uid)
		ix.date[uid] = buf.InternalDate.Unix()
		if id == "" {
			ix.noID[buf.RFC822Size] = append(ix.noID[buf.RFC822Size], uid)
		} else {
			d := idDigest(id, buf.RFC822Size)
			ix.byID[d] = append(ix.byID[d], uid)
		}
	}
	if err := cmd.Close(); err != nil {
		return st, fmt.Errorf("imap: index %q: %w", name, err)
	}
	return st, nil
}

// find looks for a message on the target; the caller holds t.mu and has
// refreshed ix. It returns the UID it matched, marking it used so that a
// second identical source message is not matched to the same copy. With
// strict, a Message-ID and size match is confirmed by content too: after a
// dropped connection, a different message with the same Message-ID may
// be on its way on another connection, and a wrong match would lose one.
//
// With during, it looks only at UIDs above ix.base (what this run sent),
// else only at those up to it (what was there before). The first *claims
// matches (when claims is set) are copies that belong to other items:
// they are marked used and skipped, and *claims counts them off.
//
// Identical copies differ in their received dates, which the target keeps
// as internal dates: a copy with the item's date (Unix seconds, 0 when it
// has none) is taken first. A copy this run sent (during) must have it;
// one from before may not (another tool may have dated it otherwise).
func (t *control) find(ix *mailboxIndex, sp *spool, strict, during bool, date int64, claims *int32) (uint32, bool, error) {
	if t.selected != ix.name {
		// A content comparison would read another mailbox's message.
		return 0, false, fmt.Errorf("imap: internal error: checking %q while %q is selected", ix.name, t.selected)
	}
	usable := func(uid uint32) bool {
		return !ix.used[uid] && (uid > ix.base) == during
	}
	// order puts the copies with the item's date first, and leaves the
	// others out when this run sent them.
	order := func(uids []uint32) []uint32 {
		if date == 0 {
			return uids
		}
		var same, other []uint32
		for _, u := range uids {
			if ix.date[u] == date {
				same = append(same, u)
			} else if !during {
				other = append(other, u)
			}
		}
		return append(same, other...)
	}
	// take marks a matching copy used; it is this item's unless claimed.
	take := func(uid uint32) bool {
		ix.used[uid] = true
		if claims != nil && *claims > 0 {
			*claims--
			return false
		}
		return true
	}
	// Candidates for a content comparison: messages the server sees
	// without Message-ID, or, when this message has none by our reading,
	// any of its size (servers and we may disagree on odd headers).
	cands := ix.noID[sp.size]
	if id := sp.msgID; id != "" {
		if strict {
			cands = append(append([]uint32{}, ix.byID[idDigest(id, sp.size)]...), cands...)
		} else {
			for _, uid := range order(ix.byID[idDigest(id, sp.size)]) {
				if usable(uid) && take(uid) {
					return uid, true, nil
				}
			}
		}
	} else {
		cands = ix.bySize[sp.size]
	}
	if sp.nul {
		// A server may store a BINARY upload re-encoded, so its size
		// differs; compare content with every message of a similar size.
		cands = nil
		for n, uids := range ix.bySize {
			if n >= sp.size*3/4 && n <= sp.size*3/2+64 {
				cands = append(cands, uids...)
			}
		}
	}
	want := sp.sum
	if sp.nul {
		w, err := nulAsHigh(sp)
		if err != nil {
			return 0, false, err
		}
		want = w
	}
	for _, uid := range order(cands) {
		if !usable(uid) {
			continue
		}
		sum, err := t.contentHash(uid)
		if err != nil {
			return 0, false, err
		}
		if sum == want && take(uid) {
			return uid, true, nil
		}
	}
	return 0, false, nil
}

// nulAsHigh hashes a message with its NUL bytes as 0x80: what a server
// (Dovecot does) returns for BODY[] of a message stored with BINARY, whose
// BINARY[] would instead be decoded and useless for comparing.
func nulAsHigh(sp *spool) ([32]byte, error) {
	var sum [32]byte
	r, err := sp.open()
	if err != nil {
		return sum, err
	}
	h := sha256.New()
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		for i, c := range buf[:n] {
			if c == 0 {
				buf[i] = 0x80
			}
		}
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return sum, err
		}
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// contentHash streams one message's bytes through SHA-256. A body that
// fails or ends short closes the connection before anything else touches
// the FETCH (see imapconn.Literal); the next command's failure has the
// caller dial again.
func (t *control) contentHash(uid uint32) ([32]byte, error) {
	var sum [32]byte
	opts := &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}
	cmd := t.c.Fetch(imap.UIDSetNum(imap.UID(uid)), opts)
	msg := cmd.Next()
	if msg == nil {
		return sum, cmd.Close()
	}
	for {
		item := msg.Next()
		if item == nil {
			break
		}
		var lit imap.LiteralReader
		switch body := item.(type) {
		case imapclient.FetchItemDataBodySection:
			lit = body.Literal
		case imapclient.FetchItemDataBinarySection:
			lit = body.Literal
		}
		if lit != nil {
			h := sha256.New()
			if err := imapconn.CopyLiteral(h, lit); err != nil {
				t.c.Close()
				return sum, fmt.Errorf("imap: read UID %d: %w", uid, t.cause(err))
			}
			copy(sum[:], h.Sum(nil))
		}
	}
	return sum, cmd.Close()
}
