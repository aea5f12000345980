package imap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/retry"
)

// sinkError is the archive's failure: fatal to the export, never retried.
type sinkError struct{ err error }

func (e *sinkError) Error() string { return e.err.Error() }
func (e *sinkError) Unwrap() error { return e.err }

// status reads a folder's UIDVALIDITY, UIDNEXT and, with CONDSTORE,
// HIGHESTMODSEQ into its record, before its messages are read.
func (s *Source) status(c *conn, f *folder) error {
	condstore := c.cl.Caps().Has(imap.CapCondStore)
	st, err := c.cl.Status(f.name, &imap.StatusOptions{UIDValidity: true, UIDNext: true, HighestModSeq: condstore}).Wait()
	if err != nil {
		return c.fail(err)
	}
	f.rec.IMAP = &format.IMAPState{UIDValidity: st.UIDValidity, UIDNext: uint32(st.UIDNext), HighestModSeq: st.HighestModSeq}
	return nil
}

// exportFolder exports f's messages on c, one chunk of UIDs per retry
// loop. It returns an error only when the export must stop (the sink
// failed, ctx ended); a folder that cannot be read is reported.
func (s *Source) exportFolder(ctx context.Context, c *conn, sink *lockedSink, f *folder, opt export.Options) error {
	// step runs one retry loop of op on f, selected; it returns the error
	// that ends the export, or the one op left, for the caller to report.
	step := func(op func(context.Context) error) (stop, left error) {
		err := retry.Do(ctx, s.Retry, func(ctx context.Context, _ int) error {
			if err := s.ready(ctx, c, sink, f, opt); err != nil || f.failed {
				return err
			}
			return op(ctx)
		})
		var se *sinkError
		var de *dialError
		switch {
		case err == nil:
			return nil, nil
		case errors.As(err, &se):
			return se.err, nil
		case ctx.Err() != nil, errors.As(err, &de):
			return err, nil // the server is out of reach: no folder can go on
		}
		return nil, err
	}
	for opt.State && !f.failed && !f.stated {
		stop, err := step(func(context.Context) error { return s.state(c, sink, f) })
		if stop != nil {
			return stop
		}
		if err != nil {
			// An error naming the folder: an importer then takes no
			// deletion from it (FORMAT.md, "The state record").
			sink.AddError(format.Problem{Folder: f.rec.Path, Item: "(folder state)",
				Reason: "its messages' flags could not be listed for the delta's state record: " + err.Error()})
			f.stated = true
		}
	}
	for !f.failed && (f.uids == nil || f.pos < len(f.uids)) {
		stop, err := step(func(ctx context.Context) error { return s.chunk(ctx, c, sink, f, opt) })
		switch {
		case stop != nil:
			return stop
		case err == nil:
		case f.oneByOne && f.current != 0 && !f.done[f.current]:
			// Every try of this one message failed (a server that ends
			// the session on it): it alone is reported.
			sink.AddError(format.Problem{Folder: f.rec.Path, Item: uidItem(f.current), Reason: "the server failed each time it was fetched: " + err.Error()})
			f.done[f.current] = true
		default:
			s.giveUp(sink, f, err.Error())
		}
	}
	return nil
}

// state writes f's part of a delta's state record: one line for every
// message the folder holds, exported or not, from a FETCH of flags,
// INTERNALDATE, size and Message-ID (no bodies). A retry goes on after the highest
// UID written (servers answer a FETCH in ascending order), so no line is
// written twice.
func (s *Source) state(c *conn, sink *lockedSink, f *folder) error {
	if mb := c.cl.Mailbox(); mb != nil && mb.NumMessages == 0 {
		f.stated = true
		return nil
	}
	var set imap.UIDSet
	set.AddRange(f.stateMark+1, 0) // "mark+1:*"
	// The Message-ID (with the size) lets an import find a message moved
	// to another folder, where it has another UID.
	cmd := c.cl.Fetch(set, &imap.FetchOptions{UID: true, Flags: true, InternalDate: true, RFC822Size: true,
		BodySection: []*imap.FetchItemBodySection{msgIDField}})
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		uid, m, err := readMeta(msg)
		if err != nil {
			return c.fail(err)
		}
		if uid <= f.stateMark { // "n:*" names the last message even when it is below n
			continue
		}
		it := format.StateItem{Kind: format.KindMessage, Folder: f.rec.Path, SourceID: sourceID(f, uid),
			Flags: m.flags, Received: m.received, Size: m.size, MessageID: m.msgID}
		if err := sink.addState(it); err != nil {
			c.drop() // the FETCH is left unread
			return &sinkError{err}
		}
		f.stateMark = uid
	}
	if err := cmd.Close(); err != nil {
		return c.fail(err)
	}
	f.stated = true
	return nil
}

func sourceID(f *folder, uid imap.UID) string { return fmt.Sprintf("%d:%d", f.uidValidity, uid) }

// giveUp reports every message of f not yet exported.
func (s *Source) giveUp(sink *lockedSink, f *folder, reason string) {
	f.failed = true
	if f.uids == nil {
		sink.AddError(format.Problem{Folder: f.rec.Path, Item: "(folder " + strconv.Quote(f.name) + ")", Reason: reason})
		return
	}
	for _, uid := range f.uids[f.pos:] {
		if !f.done[uid] {
			sink.AddError(format.Problem{Folder: f.rec.Path, Item: uidItem(uid), Reason: reason})
		}
	}
}

func uidItem(uid imap.UID) string { return "UID " + strconv.FormatUint(uint64(uid), 10) }

// ready dials and selects f (read-only) when c has not, checks that its
// UIDVALIDITY is the one its UIDs belong to, and lists them the first
// time.
func (s *Source) ready(ctx context.Context, c *conn, sink *lockedSink, f *folder, opt export.Options) error {
	if err := c.open(ctx); err != nil {
		return err
	}
	if c.selected == f {
		return nil
	}
	sel, err := c.cl.Select(f.name, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return c.fail(err)
	}
	c.selected = f
	switch {
	case f.uids != nil && sel.UIDValidity != f.uidValidity:
		// The UIDs listed and the ones stored name other messages now.
		s.giveUp(sink, f, fmt.Sprintf("the folder's UIDVALIDITY changed from %d to %d while the export ran, so its UIDs name other messages: not exported; export the folder again", f.uidValidity, sel.UIDValidity))
		return nil
	case f.uids != nil:
		return nil
	}
	f.uidValidity = sel.UIDValidity
	if f.rec.IMAP != nil && f.rec.IMAP.UIDValidity != sel.UIDValidity {
		sink.AddWarning(format.Problem{Folder: f.rec.Path, Item: "(folder)",
			Reason: fmt.Sprintf("UIDVALIDITY changed from %d to %d between listing and reading; the folder record holds the old one, a later delta must export the folder whole", f.rec.IMAP.UIDValidity, sel.UIDValidity)})
	}
	if sel.NumMessages == 0 {
		f.uids = []imap.UID{}
		return nil
	}
	crit := &imap.SearchCriteria{}
	if !opt.After.IsZero() {
		// SINCE takes a date (go-imap writes it in the time's own
		// zone) and the server compares it in its zone, from UTC-12 to
		// UTC+14: the day before in UTC is never after the server's date
		// of a message received at the cutoff, where the day before in
		// the cutoff's zone (+14) could be. The exact test on
		// INTERNALDATE follows.
		crit.Since = opt.After.UTC().AddDate(0, 0, -1)
	}
	var so *imap.SearchOptions
	if c.cl.Caps().Has(imap.CapESearch) {
		so = &imap.SearchOptions{ReturnAll: true}
	}
	data, err := c.cl.UIDSearch(crit, so).Wait()
	if err != nil {
		return c.fail(err)
	}
	set, _ := data.All.(imap.UIDSet)
	// Counted before it is expanded: a range in an ESEARCH answer can
	// name four billion UIDs. A folder holds no more UIDs than messages
	// (those announced since SELECT count, and a few more may arrive
	// while SEARCH runs).
	held := sel.NumMessages
	if mb := c.cl.Mailbox(); mb != nil {
		held = max(held, mb.NumMessages)
	}
	if n := uidCount(set); n > uint64(held)+1024 {
		s.giveUp(sink, f, fmt.Sprintf("the server's UID SEARCH answer names %d UIDs for a folder of %d messages: not exported", n, held))
		return nil
	}
	uids, ok := set.Nums()
	if !ok {
		s.giveUp(sink, f, "the server's UID SEARCH answer names no definite UIDs (\"*\"): not exported")
		return nil
	}
	if uids == nil {
		uids = []imap.UID{} // nil is "not listed yet"
	}
	slices.Sort(uids)
	f.uids = slices.Compact(uids)
	if n := int(sel.NumMessages) - len(f.uids); !opt.After.IsZero() && n > 0 {
		sink.AddSkipped(export.SkipBeforeCutoff, n) // left out by the server's SEARCH
	}
	return nil
}

// uidCount is how many UIDs set names, without expanding it.
func uidCount(set imap.UIDSet) uint64 {
	var n uint64
	for _, r := range set {
		n += uint64(max(r.Start, r.Stop)-min(r.Start, r.Stop)) + 1
	}
	return n
}

// chunk exports the next chunk of f's UIDs: all in one FETCH, or, once
// the server refused that, one by one, so that only the messages it
// refuses are reported.
func (s *Source) chunk(ctx context.Context, c *conn, sink *lockedSink, f *folder, opt export.Options) error {
	end := min(f.pos+s.Chunk, len(f.uids))
	if f.done == nil {
		f.done = map[imap.UID]bool{}
	}
	todo := func() []imap.UID {
		var out []imap.UID
		for _, u := range f.uids[f.pos:end] {
			if !f.done[u] {
				out = append(out, u)
			}
		}
		return out
	}
	if !f.oneByOne {
		err := s.fetch(ctx, c, sink, f, opt, todo())
		if err == nil {
			f.pos, f.done = end, nil
			return nil
		}
		var se *sinkError
		if k, _ := retry.Classify(err); k == retry.Throttled || errors.As(err, &se) || ctx.Err() != nil {
			return err // the chunk again, whole, after the pause
		}
		// A message may be what fails the FETCH (Dovecot answers NO,
		// or ends the session, on one it cannot read): the rest of the
		// chunk goes one message at a time, so only that one fails.
		f.oneByOne = true
		if !refusedForGood(err) {
			return err
		}
	}
	rest := todo()
	if len(rest) == 0 {
		f.pos, f.done, f.oneByOne, f.current = end, nil, false, 0
		return nil
	}
	u := rest[0]
	f.current = u
	err := s.fetch(ctx, c, sink, f, opt, []imap.UID{u})
	if refusedForGood(err) {
		sink.AddError(format.Problem{Folder: f.rec.Path, Item: uidItem(u), Reason: "the server refused to deliver it: " + err.Error()})
		f.done[u] = true
		return nil
	}
	return err
}

// refusedForGood is the server's NO or BAD that is not about load.
func refusedForGood(err error) bool {
	if err == nil || !imapconn.Refused(err) {
		return false
	}
	k, _ := retry.Classify(err)
	return k == retry.Permanent
}

// meta is what the first FETCH of a chunk says of a message.
type meta struct {
	flags    []string
	received time.Time
	msgID    string
	size     int64 // asked for by the state record only
	// Gmail's All Mail (gmail.go): the folder the message is stored
	// under and its other label folders; labelled once its labels came.
	folder   string
	labels   []string
	labelled bool
}

// msgIDField is the FETCH item of a message's Message-ID field alone.
var msgIDField = &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Message-ID"}, Peek: true}

// readMeta reads one message of a FETCH of its metadata (UID, FLAGS,
// INTERNALDATE, RFC822.SIZE, msgIDField), item by item. Not Collect:
// after a literal cut short, go-imap's Collect reads on while its decoder
// already does (a data race); here a short literal drops the connection
// and nothing reads it again.
func readMeta(msg *imapclient.FetchMessageData) (imap.UID, *meta, error) {
	var uid imap.UID
	m := &meta{}
	for item := msg.Next(); item != nil; item = msg.Next() {
		switch it := item.(type) {
		case imapclient.FetchItemDataUID:
			uid = it.UID
		case imapclient.FetchItemDataFlags:
			m.flags = flags(it.Flags)
		case imapclient.FetchItemDataInternalDate:
			m.received = it.Time
		case imapclient.FetchItemDataRFC822Size:
			m.size = it.Size
		case imapclient.FetchItemDataBodySection:
			var b capped
			if err := imapconn.CopyLiteral(&b, it.Literal); err != nil {
				return 0, nil, err
			}
			m.msgID = export.MessageID(b.buf)
		}
	}
	return uid, m, nil
}

// fetch exports the messages uids of f: their metadata first (small),
// then their bodies, each literal streamed into the sink. Each message
// stored is marked done at once, so a retry goes on after it.
func (s *Source) fetch(ctx context.Context, c *conn, sink *lockedSink, f *folder, opt export.Options, uids []imap.UID) error {
	if len(uids) == 0 {
		return nil
	}
	set := imap.UIDSetNum(uids...)
	metas := map[imap.UID]*meta{}
	cmd := c.cl.Fetch(set, &imap.FetchOptions{UID: true, Flags: true, InternalDate: true,
		BodySection: []*imap.FetchItemBodySection{msgIDField}})
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		uid, m, err := readMeta(msg)
		if err != nil {
			return c.fail(err)
		}
		// Without INTERNALDATE there is no received time to store or to
		// test the cutoff on: settled as missing, below.
		if uid != 0 && !m.received.IsZero() {
			metas[uid] = m
		}
	}
	if err := cmd.Close(); err != nil {
		return c.fail(err)
	}
	if g := s.gmail; g != nil && f == g.all && len(metas) > 0 {
		if err := g.labels(ctx, metas, uids); err != nil {
			return err
		}
	}
	var want imap.UIDSet
	for _, u := range uids {
		switch m := metas[u]; {
		case m == nil: // settled below, with those the second FETCH leaves out
		case !opt.Keep(m.received):
			sink.AddSkipped(export.SkipBeforeCutoff, 1)
			f.done[u] = true
		default:
			want.AddNum(u)
		}
	}
	if len(want) == 0 {
		return s.missing(c, sink, f, uids)
	}
	cmd = c.cl.Fetch(want, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		var uid imap.UID
		for item := msg.Next(); item != nil; item = msg.Next() {
			switch it := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = it.UID
			case imapclient.FetchItemDataBodySection:
				m := metas[uid]
				if m == nil || f.done[uid] || it.Literal == nil {
					if err := imapconn.CopyLiteral(io.Discard, it.Literal); err != nil { // not asked for
						return c.fail(err)
					}
					continue
				}
				if err := s.store(ctx, sink, f, uid, m, it.Literal); err != nil {
					var se *sinkError
					if errors.As(err, &se) || ctx.Err() != nil {
						c.drop() // the FETCH is left unread
						return err
					}
					return c.fail(err)
				}
				f.done[uid] = true
			}
		}
	}
	if err := cmd.Close(); err != nil {
		return c.fail(err)
	}
	return s.missing(c, sink, f, uids)
}

// missing settles the messages of uids a FETCH answered OK without:
// expunged meanwhile if a UID SEARCH no longer finds them, else reported
// (a server may, against RFC 9051, send a FETCH's UID after the body,
// which go-imap cannot match): never counted as gone while they are there.
func (s *Source) missing(c *conn, sink *lockedSink, f *folder, uids []imap.UID) error {
	var set imap.UIDSet
	for _, u := range uids {
		if !f.done[u] {
			set.AddNum(u)
		}
	}
	if len(set) == 0 {
		return nil
	}
	data, err := c.cl.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{set}}, nil).Wait()
	if err != nil {
		return c.fail(err)
	}
	there, _ := data.All.(imap.UIDSet)
	for _, u := range uids {
		switch {
		case f.done[u]:
		case there.Contains(u):
			sink.AddError(format.Problem{Folder: f.rec.Path, Item: uidItem(u), Reason: "the server answered its FETCH without it, or without its INTERNALDATE"})
		default:
			sink.AddSkipped(export.SkipExpunged, 1)
		}
		f.done[u] = true
	}
	return nil
}

// store streams one message's literal into the sink. A read that fails
// (the connection dropped) stores nothing and is returned for a retry;
// the sink's own failure is a sinkError.
func (s *Source) store(ctx context.Context, sink *lockedSink, f *folder, uid imap.UID, m *meta, body io.Reader) error {
	rr := imapconn.NewLiteral(body)
	// Paced by the literal's bytes, which are read, rather than by the
	// RFC822.SIZE the server claims.
	if err := s.Pacer.Wait(ctx, 1, max(rr.Want, 0)); err != nil {
		return err
	}
	it := format.Item{Kind: format.KindMessage, Folder: f.rec.Path, Flags: m.flags, Received: m.received,
		MessageID: m.msgID, SourceID: sourceID(f, uid)}
	if s.gmail != nil && f == s.gmail.all {
		if m.labelled {
			it.Folder, it.Labels = m.folder, m.labels
		} else {
			it.Notes = append(it.Notes, "Gmail gave no labels for it: stored under All Mail")
		}
	}
	sink.mu.Lock()
	err := sink.Sink.AddItem(it, rr)
	sink.mu.Unlock()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, format.ErrItemBody) && rr.Err != nil:
		return fmt.Errorf("reading UID %d of %s: %w", uid, f.name, rr.Err)
	}
	return &sinkError{err}
}

// capped keeps the first 64 KiB written to it (a header field) and
// discards the rest.
type capped struct{ buf []byte }

func (c *capped) Write(p []byte) (int, error) {
	c.buf = append(c.buf, p[:min(len(p), max(0, 64<<10-len(c.buf)))]...)
	return len(p), nil
}

// flags keeps a message's flags, less \Recent (the server's own);
// keywords are made valid atoms.
func flags(in []imap.Flag) []string {
	var out []string
	for _, fl := range in {
		s := string(fl)
		switch {
		case strings.EqualFold(s, `\Recent`):
		case strings.HasPrefix(s, `\`):
			out = append(out, s)
		default:
			out = append(out, export.KeywordAtom(s))
		}
	}
	return out
}
