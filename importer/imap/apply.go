package imap

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailhaul/mailhaul/compare"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/journal"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/report"
)

// A delta's state record (FORMAT.md, "The state record") lists every
// message the source held when the delta was exported. Once the archives'
// messages are on the target, the run brings the messages earlier runs
// placed to that state: flags and keywords (UID STORE), folders (UID
// MOVE), and, with --apply-deletions, deletions (STORE \Deleted, UID
// EXPUNGE of those UIDs alone), in batches of UID sets (see applier). It
// changes only what the journal says mailhaul placed, and only where the
// target still holds it as mailhaul left it (the flags it last set):
// anything else is a conflict, reported and left alone. Each change is
// journaled as its batch is answered, so a re-run finds nothing left to
// do.

// sourceState is the state record of the last archive read, kept in an
// unlinked file beside the journal (journal.SpoolDir; one line per
// message, however large the mailbox) until the archives' messages are on
// the target.
type sourceState struct {
	archive string
	f       *os.File
	// listed are the folders the delta's export listed (its summary's and
	// the state's); broken those it could not list completely (its
	// summary's errors), where a missing message is no evidence of a
	// deletion.
	listed, broken map[string]bool
	allBroken      bool // the summary's problem list was truncated
}

// unlisted says which folders the delta's export could not list
// completely ("" when none): no deletion is inferred anywhere then.
func (s *sourceState) unlisted() string {
	switch {
	case s.allBroken:
		return "the delta's export could not read everything (its summary names no folder, or is truncated)"
	case len(s.broken) > 0:
		return fmt.Sprintf("the delta's export could not list %s completely", strings.Join(quoteAll(slices.Sorted(maps.Keys(s.broken))), ", "))
	}
	return ""
}

func quoteAll(ss []string) []string {
	for i, s := range ss {
		ss[i] = strconv.Quote(s)
	}
	return ss
}

func (s *sourceState) close() {
	if s != nil && s.f != nil {
		s.f.Close()
	}
}

// keepState spools archive's state record, replacing an earlier
// archive's: only the latest state describes the source. sum is the
// archive's summary, read just before.
func (im *job) keepState(archive string, sum *format.Summary, items iter.Seq2[format.StateItem, error]) error {
	f, err := os.CreateTemp(im.spooler.dir, ".mailhaul-imap-state-*")
	if err != nil {
		return fmt.Errorf("imap: state record of %s: %w", archive, err)
	}
	os.Remove(f.Name()) // unlinked: nothing to clean up after a crash
	st := &sourceState{archive: archive, f: f, listed: map[string]bool{}, broken: map[string]bool{}}
	if sum != nil {
		for _, fc := range sum.Folders {
			st.listed[fc.Path] = true
		}
		for _, p := range sum.Errors {
			st.broken[p.Folder] = true
		}
		st.allBroken = sum.Truncated > 0 || st.broken[""]
	}
	bw := bufio.NewWriter(f)
	enc := json.NewEncoder(bw)
	for it, err := range items {
		if err != nil {
			st.close()
			return err
		}
		// Lines of folders outside the run's --folder are kept too: a
		// message moved out of a selected folder is matched to them, so
		// it is not taken for a deletion (applyState changes nothing
		// they hold).
		if it.Kind != format.KindMessage {
			continue
		}
		st.listed[it.Folder] = true
		if err := enc.Encode(it); err != nil {
			st.close()
			return fmt.Errorf("imap: state record of %s: %w", archive, err)
		}
	}
	if err := bw.Flush(); err != nil {
		st.close()
		return fmt.Errorf("imap: state record of %s: %w", archive, err)
	}
	im.state.close()
	im.state = st
	return nil
}

// eachState reads the spooled state record from its start.
func (s *sourceState) each(fn func(format.StateItem) error) error {
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	sc := bufio.NewScanner(s.f)
	sc.Buffer(make([]byte, 0, 64<<10), 2<<20)
	for sc.Scan() {
		var it format.StateItem
		if err := json.Unmarshal(sc.Bytes(), &it); err != nil {
			return err
		}
		if err := fn(it); err != nil {
			return err
		}
	}
	return sc.Err()
}

// placedMsg is a message the journal says an earlier run (or this one)
// placed: its latest record.
type placedMsg struct {
	rec           journal.Record
	validity, uid uint32
}

// placedIndex finds placed messages by what a state line gives: its
// sourceId, its folder-independent key, or its Message-ID and size.
type placedIndex struct {
	byKey map[journal.Key]*placedMsg
	// bySource holds every placed copy of a sourceId: a message stored
	// once with labels (Gmail) was placed in each label's folder.
	bySource map[string][]*placedMsg
	// byName holds the sourceId less its folder ("INBOX/u" → "u"): a
	// Maildir's state key, the unique name.
	byName map[string]*placedMsg
	byMsg  map[string]*placedMsg // Message-ID, NUL, size
	// byID holds the Message-IDs placed once (bare, see twice): an
	// mbox's state line has no size, and its sourceId, an offset, shifts
	// whenever a client rewrites the file.
	byID  map[string]*placedMsg
	twice map[string]bool     // Message-IDs placed more than once
	seen  map[*placedMsg]bool // matched to a state line
	kept  map[*placedMsg]bool // matched to a state line of its own folder, or moved to one
	// older counts messages placed according to records without what a
	// cutover needs (journals of earlier versions): left as they are.
	older int
}

func msgTag(id string, size int64) string { return bareID(id) + "\x00" + strconv.FormatInt(size, 10) }

// bareID is a Message-ID without its angle brackets: the journal keeps
// the header's value, the archive's state the msg-id alone.
func bareID(id string) string { return compare.BareID(id) }

// readPlaced indexes the journal's records that carry what a cutover
// needs (journal.Record.Source): older records are left alone.
func readPlaced(j *journal.Journal) (*placedIndex, error) {
	ix := &placedIndex{byKey: map[journal.Key]*placedMsg{}}
	older := map[journal.Key]bool{}
	err := j.Scan(func(r journal.Record) {
		if r.Source == "" || (r.State != journal.Done && r.State != journal.Gone) {
			if r.State == journal.Pending {
				return // an intent; its outcome follows
			}
			delete(ix.byKey, r.Key) // a later record without the fields
			older[r.Key] = true
			return
		}
		delete(older, r.Key)
		p := &placedMsg{rec: r}
		v, u, ok := strings.Cut(r.Ref, ":")
		validity, err1 := strconv.ParseUint(v, 10, 32)
		uid, err2 := strconv.ParseUint(u, 10, 32)
		if !ok || err1 != nil || err2 != nil {
			delete(ix.byKey, r.Key) // placed, but where is unknown
			return
		}
		p.validity, p.uid = uint32(validity), uint32(uid)
		ix.byKey[r.Key] = p
	})
	if err != nil {
		return nil, err
	}
	ix.older = len(older)
	ix.bySource, ix.byName, ix.byMsg, ix.byID = map[string][]*placedMsg{}, map[string]*placedMsg{}, map[string]*placedMsg{}, map[string]*placedMsg{}
	ix.twice = map[string]bool{}
	ix.seen, ix.kept = map[*placedMsg]bool{}, map[*placedMsg]bool{}
	for _, p := range ix.byKey {
		if p.rec.State != journal.Done {
			continue
		}
		ix.bySource[p.rec.Source] = append(ix.bySource[p.rec.Source], p)
		if name, ok := strings.CutPrefix(p.rec.Source, p.rec.Folder+"/"); ok {
			ix.byName[name] = p
		}
		if p.rec.MessageID != "" {
			ix.byMsg[msgTag(p.rec.MessageID, p.rec.Size)] = p
			if id := bareID(p.rec.MessageID); ix.byID[id] != nil || ix.twice[id] {
				ix.byID[id], ix.twice[id] = nil, true
			} else {
				ix.byID[id] = p
			}
		}
	}
	return ix, nil
}

// stayed returns the placed copy of s's sourceId in s's folder, if any,
// and marks every copy of it as matched: the source holds it, so none of
// them was deleted there (a labelled message's copies in other folders
// are not told apart from moves, and stay).
func (ix *placedIndex) stayed(s format.StateItem) *placedMsg {
	var here *placedMsg
	for _, p := range ix.copies(s) {
		ix.seen[p] = true
		if p.rec.Folder == s.Folder {
			here = p
		}
	}
	if here != nil {
		ix.kept[here] = true
	}
	return here
}

// copies are the placed copies of s's sourceId that can be s: a sourceId
// that is an offset (mbox) names another message once the file is
// rewritten, which its Message-ID tells.
func (ix *placedIndex) copies(s format.StateItem) []*placedMsg {
	ps := ix.bySource[s.SourceID]
	if s.MessageID == "" {
		return ps
	}
	return slices.DeleteFunc(slices.Clone(ps), func(p *placedMsg) bool {
		return p.rec.MessageID != "" && bareID(p.rec.MessageID) != bareID(s.MessageID)
	})
}

// strayCopy is the placed copy of s's sourceId that moved to s's folder,
// for a source whose sourceIds stay the same in another folder (Zimbra's
// item ids; an IMAP folder renamed, which keeps UIDs): none when a copy
// is there already, else one no state line holds in its own folder.
func (ix *placedIndex) strayCopy(s format.StateItem) *placedMsg {
	var stray *placedMsg
	for _, p := range ix.copies(s) {
		if p.rec.Folder == s.Folder {
			return nil
		}
		if stray == nil && !ix.kept[p] {
			stray = p
		}
	}
	if stray != nil {
		ix.kept[stray] = true
	}
	return stray
}

// moved finds the placed message a state line of another sourceId is,
// not matched yet: by its key, else by Message-ID and size.
func (ix *placedIndex) moved(s format.StateItem) *placedMsg {
	var p *placedMsg
	switch {
	case s.Key != "":
		p = ix.byName[s.Key]
	case s.MessageID != "" && s.Size > 0:
		p = ix.byMsg[msgTag(s.MessageID, s.Size)]
	case s.MessageID != "":
		p = ix.byID[bareID(s.MessageID)]
	}
	if p == nil || ix.seen[p] {
		return nil
	}
	return p
}

// applyState brings what earlier runs placed to the last archive's state
// record; see the comment at the top of this file.
func (im *job) applyState(ctx context.Context) error {
	st := im.state
	if st == nil {
		return nil
	}
	if last := im.req.Archives[len(im.req.Archives)-1]; st.archive != last {
		im.rep.Note("the last archive (%s) has no state record: flags, moves and deletions since the export of %s were not applied", last, st.archive)
		return nil
	}
	im.rep.StateApplied()
	ix, err := readPlaced(im.j)
	if err != nil {
		return err
	}
	if ix.older > 0 {
		im.rep.Note("%d messages were placed by an earlier mailhaul whose journal lacks what a cutover needs (sourceId, folder, flags): the state record changed none of them, and they may differ from the source", ix.older)
	}
	a := newApplier(im)
	gone := ix.goneFolders(st, im.req.Select)
	// First the messages still where they were, then the others: a copy
	// in another folder must not take a message that stayed.
	var later bool
	sel := im.req.Select.KeepFolder
	err = st.each(func(s format.StateItem) error {
		if p := ix.stayed(s); p != nil {
			if !sel(s.Folder) {
				return nil // outside the run: matched, left as it is
			}
			return a.flags(ctx, p, s)
		}
		later = true
		return nil
	})
	// blind counts the source's messages mailhaul did not place and
	// cannot match to what it did (no key, no Message-ID and size): any
	// of them may be a placed message moved, so nothing is deleted.
	blind := 0
	// outside counts placed messages the source moved out of the run's
	// folders (--folder): left where they are, and said so.
	outside := 0
	if err == nil && later {
		err = st.each(func(s format.StateItem) error {
			if len(ix.copies(s)) > 0 {
				p := ix.strayCopy(s)
				if p != nil && !sel(s.Folder) {
					if sel(p.rec.Folder) {
						outside++
					}
					return nil
				}
				if p != nil {
					return a.move(ctx, p, s)
				}
				return nil // stayed, or copies of a source holding it still
			}
			if p := ix.moved(s); p != nil {
				ix.seen[p] = true
				if !sel(s.Folder) {
					if sel(p.rec.Folder) {
						outside++ // not deleted, not moved
					}
					return nil
				}
				return a.move(ctx, p, s)
			}
			if s.Key == "" && (s.MessageID == "" || s.Size <= 0 && ix.byID[bareID(s.MessageID)] == nil) {
				blind++
			}
			return nil
		})
	}
	if err != nil {
		return err
	}
	if outside > 0 {
		im.rep.Note("%d messages mailhaul placed were moved at the source into folders this run does not take (--folder): they stay where they are on the target, neither moved nor deleted; a run of all folders moves them", outside)
	}
	for _, p := range ix.byKey {
		if p.rec.State != journal.Done || ix.seen[p] || !st.listed[p.rec.Folder] || !im.req.Select.KeepFolder(p.rec.Folder) {
			continue
		}
		if why := st.unlisted(); why != "" {
			// A message moved into a folder the export could not list
			// is missing from the state as a deleted one is.
			im.rep.AddWouldDelete(report.Failure{Archive: st.archive, Folder: p.rec.Folder, Item: p.rec.Source,
				Reason: "not in the source's state, but " + why + ": it may be there, so it is not deleted"})
			continue
		}
		if blind > 0 {
			im.rep.AddWouldDelete(report.Failure{Archive: st.archive, Folder: p.rec.Folder, Item: p.rec.Source,
				Reason: fmt.Sprintf("not in the source's state, but the state has %d messages mailhaul cannot match to those it placed (no key or Message-ID): it may have moved, so it is not deleted", blind)})
			continue
		}
		if err := a.delete(ctx, p); err != nil {
			return err
		}
	}
	if err := a.flush(ctx); err != nil {
		return err
	}
	im.noteGone(gone, ix)
	return ctx.Err()
}

// goneFolders are the target mailboxes of folders mailhaul placed
// messages from that the source's state no longer lists (renamed or
// deleted there): mailbox → source folder.
func (ix *placedIndex) goneFolders(st *sourceState, sel importer.Select) map[string]string {
	gone := map[string]string{}
	for _, p := range ix.byKey {
		if p.rec.State == journal.Done && !st.listed[p.rec.Folder] && sel.KeepFolder(p.rec.Folder) {
			gone[p.rec.Where] = p.rec.Folder
		}
	}
	return gone
}

// noteGone says what became of each gone folder's mailbox: mailhaul
// never deletes a mailbox (the user may keep mail there on the new
// server), and infers no deletion from a folder missing at the source.
func (im *job) noteGone(gone map[string]string, ix *placedIndex) {
	left := map[string]int{}
	for _, p := range ix.byKey {
		if _, ok := gone[p.rec.Where]; ok && p.rec.State == journal.Done {
			left[p.rec.Where]++
		}
	}
	for _, mb := range slices.Sorted(maps.Keys(gone)) {
		if n := left[mb]; n > 0 {
			im.rep.Note("folder %q is no longer at the source (renamed or deleted there): %d messages mailhaul placed in %q are not elsewhere in the source's state and stay there", gone[mb], n, mb)
			continue
		}
		im.rep.Note("folder %q is no longer at the source (renamed or deleted there): its messages were moved where the source has them; the mailbox %q stays on the target, without them (mailhaul deletes no mailbox)", gone[mb], mb)
	}
}

// sameFlags compares two flag lists as sets, case-insensitively, without
// \Recent (which no client sets).
func sameFlags(a, b []string) bool { return compare.SameFlags(a, b) }

// conflict reports p left alone for reason.
func (im *job) conflict(p *placedMsg, folder, reason string) {
	im.rep.AddConflict(report.Failure{Archive: im.state.archive, Folder: folder, Item: p.rec.Source, Reason: reason})
}

func fmtFlags(fs []string) string {
	if len(fs) == 0 {
		return "none"
	}
	return strings.Join(fs, " ")
}

// wantFlags are the state line's flags the target mailbox keeps (which
// its SELECT tells, the first time it is asked).
func (im *job) wantFlags(mailbox string, flags []string) ([]string, error) {
	perm := permanentFlags{unknown: true}
	if b := im.boxes.byName[mailbox]; b != nil {
		if err := im.boxes.open(b, im.state.archive, b.source, false); err != nil {
			return nil, err
		}
		if b.opened {
			perm = b.state.perm
		}
	}
	ok, _ := cleanFlags(flags, perm)
	if ok == nil {
		ok = []string{}
	}
	return ok, nil
}

// record journals messages' new states at once (a batch's); a dry run
// only notes them here.
func (im *job) record(done ...placedRec) error {
	if !im.req.DryRun {
		recs := make([]journal.Record, len(done))
		for i, d := range done {
			recs[i] = d.r
		}
		if err := im.j.Write(recs...); err != nil {
			return fmt.Errorf("imap: journal a change of %s: %w", done[0].p.rec.Source, err)
		}
	}
	for _, d := range done {
		d.p.rec = d.r
	}
	return nil
}

// placedRec is a placed message's record to be, and its state line.
type placedRec struct {
	p *placedMsg
	r journal.Record
	s format.StateItem
}

// The changes are sent in batches: one UID STORE per mailbox and change
// of flags (+FLAGS of the flags added, -FLAGS of those removed, or FLAGS
// when a message gains some and loses others: a \Flagged flipped on
// messages of many flag sets is one command), one UID MOVE per source and
// destination, one STORE \Deleted and UID EXPUNGE per mailbox, each of at
// most batchMax UIDs. A batch is sent through retry.Do: each attempt first
// learns the current flags of the batch's messages, which tells those to
// change from those the user changed (conflicts) and, after a connection
// cut under the last attempt (or a run stopped), those already changed,
// which are journaled without a command; the connection is opened anew
// after a drop. One UID FETCH learns them for every batch of the mailbox
// still to send (see applier.current), except for a FLAGS batch, which
// looks again right before it (another session's change since would be
// overwritten, not reported as a conflict). What a batch changed is journaled
// when its command is answered.

// batchMax bounds the UIDs of one command: a short command line, and a
// bounded check when one is cut off.
const batchMax = 500

type changeOp int

const (
	opFlags changeOp = iota
	opMove
	opDelete
)

// change is one message's change in a batch: p with the state line s
// (none for a deletion) and, for flags, the flags it is to have.
type change struct {
	p    *placedMsg
	s    format.StateItem
	want []string
}

// changeBatch is what one command changes: messages of one mailbox (and
// UIDVALIDITY) given the same flags, moved to the same mailbox, or
// deleted.
type changeBatch struct {
	op       changeOp
	mailbox  string
	validity uint32
	store    imap.StoreFlagsOp // opFlags: add, remove or set flags
	flags    []string          // opFlags: the flags added, removed or set
	dest     *box              // opMove
	items    []change
	// sent are the messages of a command cut off before its answer: one
	// of them gone on the next attempt is one this run deleted.
	sent map[*placedMsg]bool
}

// applier gathers the changes into batches and sends them.
type applier struct {
	im   *job
	open map[string]*changeBatch
	keys []string // open's keys, oldest first
	// then are flag changes found by a batch's attempt (the flags of
	// moved messages), queued once it ended.
	then []change
	// known are messages' flags learnt ahead of their batch's attempt
	// (current), by mailbox and UIDVALIDITY: each used once, and all
	// forgotten when a connection drops.
	known map[string]map[uint32]knownFlags
}

// knownFlags is what a FETCH said of one UID: its flags, or not there.
type knownFlags struct {
	flags []string
	there bool
}

// fetchAhead bounds the UIDs one FETCH learns for the batches to come.
const fetchAhead = 4 * batchMax

func boxKey(mailbox string, validity uint32) string {
	return fmt.Sprintf("%d\x00%s", validity, mailbox)
}

// current returns the flags of the messages at uids in b's mailbox, a UID
// not there missing from the map: from what an earlier FETCH learnt, or
// else one FETCH of them and of the other UIDs of the mailbox's batches
// still open, whose flags it keeps for their attempts.
func (a *applier) current(b *changeBatch, uids []uint32) (map[uint32][]string, error) {
	key := boxKey(b.mailbox, b.validity)
	known := a.known[key]
	out := make(map[uint32][]string, len(uids))
	// A FLAGS batch replaces the flags whole: what another session set
	// since the FETCH ahead would be lost, so it looks now. +FLAGS and
	// -FLAGS keep whatever else the messages have.
	hit := !(b.op == opFlags && b.store == imap.StoreFlagsSet)
	for _, u := range uids {
		k, ok := known[u]
		if !ok || !hit {
			hit = false
			break
		}
		if k.there {
			out[u] = k.flags
		}
	}
	if hit {
		for _, u := range uids {
			delete(known, u)
		}
		return out, nil
	}
	ask := slices.Clone(uids)
	mine := map[uint32]bool{}
	for _, u := range uids {
		mine[u] = true
	}
	for _, k := range a.keys {
		o := a.open[k]
		if o == nil || o == b || o.mailbox != b.mailbox || o.validity != b.validity {
			continue
		}
		for _, c := range o.items {
			if len(ask) >= fetchAhead {
				break
			}
			if !mine[c.p.uid] {
				ask = append(ask, c.p.uid)
			}
		}
	}
	cur, err := a.im.ctl.flagsOf(b.mailbox, b.validity, ask)
	if err != nil {
		return nil, err
	}
	for _, u := range uids {
		delete(known, u) // older than this FETCH
	}
	for _, u := range ask[len(uids):] {
		f, there := cur[u]
		a.remember(key, u, knownFlags{flags: f, there: there})
	}
	for _, u := range uids {
		if f, ok := cur[u]; ok {
			out[u] = f
		}
	}
	return out, nil
}

// remember keeps what is known of uid's flags for the attempt that needs
// them.
func (a *applier) remember(key string, uid uint32, k knownFlags) {
	if a.known == nil {
		a.known = map[string]map[uint32]knownFlags{}
	}
	if a.known[key] == nil {
		a.known[key] = map[uint32]knownFlags{}
	}
	a.known[key][uid] = k
}

func newApplier(im *job) *applier { return &applier{im: im, open: map[string]*changeBatch{}} }

// add puts c in the batch of b's kind, sending the batch once full.
func (a *applier) add(ctx context.Context, b *changeBatch, c change) error {
	key := fmt.Sprintf("%d\x00%s\x00%d\x00%d\x00%s", b.op, b.mailbox, b.validity, b.store, strings.Join(b.flags, " "))
	if b.dest != nil {
		key += "\x00" + b.dest.name
	}
	open := a.open[key]
	if open == nil {
		open = b
		a.open[key] = b
		a.keys = append(a.keys, key)
	}
	open.items = append(open.items, c)
	if len(open.items) < batchMax {
		return nil
	}
	delete(a.open, key)
	return a.send(ctx, open)
}

// flush sends every batch still open, and those their outcomes open.
func (a *applier) flush(ctx context.Context) error {
	for len(a.keys) > 0 {
		key := a.keys[0]
		a.keys = a.keys[1:]
		b := a.open[key]
		if b == nil {
			continue // sent when it filled
		}
		delete(a.open, key)
		if err := a.send(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// send sends one batch under the project's retry loop; a connection cut
// makes the next attempt reconnect first.
func (a *applier) send(ctx context.Context, b *changeBatch) error {
	im := a.im
	var lostAt time.Time // the last drop, when reconnecting is due
	err := retry.Do(ctx, im.commandLoop(), func(ctx context.Context, _ int) error {
		if !lostAt.IsZero() {
			// The old session may still be carrying out the command cut
			// off: look only once it has landed.
			if err := im.pres.settle(ctx, lostAt.Add(im.opt.Settle), "a change of a dropped connection"); err != nil {
				return err
			}
			if err := im.ctl.redial(ctx); err != nil {
				im.logf("imap: reconnecting: %v", err)
				return imapconn.Classify(err)
			}
			lostAt = time.Time{}
		}
		err := a.attempt(ctx, b)
		if k, _ := retry.Classify(err); k == retry.Transient {
			im.logf("imap: %d changes in %q cut off: %v", len(b.items), b.mailbox, err)
			lostAt = time.Now()
			a.known = nil // the cut-off command may have changed them: ask again
		}
		return err
	})
	if err != nil {
		return err
	}
	if im.opt.changeSent != nil {
		im.opt.changeSent()
	}
	then := a.then
	a.then = nil
	for _, c := range then {
		if err := a.flags(ctx, c.p, c.s); err != nil {
			return err
		}
	}
	return nil
}

// attempt checks the batch's messages on the target, sends the command
// for those as mailhaul left them, and journals the outcome; what is
// settled leaves the batch. A failure of the connection is returned
// marked for retry.Do with the rest still in the batch.
func (a *applier) attempt(ctx context.Context, b *changeBatch) error {
	im := a.im
	if err := ctx.Err(); err != nil {
		return err
	}
	uids := make([]uint32, len(b.items))
	for i, c := range b.items {
		uids[i] = c.p.uid
	}
	cur, err := a.current(b, uids)
	switch {
	case errors.Is(err, errGone):
		cur = nil // the mailbox was made anew: none of them is there
	case imapconn.Refused(err):
		for _, c := range b.items {
			im.conflict(c.p, a.folder(b, c), err.Error())
		}
		b.items = nil
		return nil
	case err != nil:
		return imapconn.Classify(err)
	}
	var ready, moved []change
	var done []placedRec
	for _, c := range b.items {
		f, there := cur[c.p.uid]
		switch {
		case !there:
			m, err := a.gone(b, c)
			if err != nil {
				return err
			}
			if m {
				moved = append(moved, c)
			}
		case b.op == opFlags && sameFlags(f, c.want):
			// Set by an attempt cut off before its answer, or a run
			// stopped before its journal line.
			done = append(done, a.outcome(b, c, 0))
		case sameFlags(f, c.p.rec.Flags) || (b.op == opDelete && sameFlags(f, append(slices.Clip(c.p.rec.Flags), `\Deleted`))):
			// (A deletion cut off between its STORE and its EXPUNGE left
			// \Deleted set.)
			ready = append(ready, c)
		default:
			im.conflict(c.p, a.folder(b, c), fmt.Sprintf("its flags changed on the target since mailhaul set them (now %s, mailhaul set %s): left as the user has it",
				fmtFlags(f), fmtFlags(c.p.rec.Flags)))
		}
	}
	if len(moved) > 0 {
		b.items = append(ready, moved...)
		if err := a.movedBefore(b, moved); err != nil {
			return err
		}
	}
	b.items = ready
	if err := a.settle(b, done); err != nil {
		return err
	}
	if len(ready) == 0 {
		return nil
	}
	if im.req.DryRun {
		var dry []placedRec
		for _, c := range ready {
			switch b.op {
			case opMove:
				im.rep.AddMoved()
				want, err := im.wantFlags(b.dest.name, c.s.Flags)
				if err != nil {
					return imapconn.Classify(err)
				}
				if !sameFlags(c.p.rec.Flags, want) {
					im.rep.AddUpdated()
				}
			case opDelete:
				im.rep.AddDeleted()
			default:
				dry = append(dry, a.outcome(b, c, 0))
			}
		}
		b.items = nil
		return a.settle(b, dry)
	}
	uids = uids[:0]
	for _, c := range ready {
		uids = append(uids, c.p.uid)
	}
	var newUIDs map[uint32]uint32
	var validity uint32
	switch b.op {
	case opFlags:
		err = im.ctl.setFlags(b.mailbox, b.validity, uids, b.store, b.flags)
	case opMove:
		validity, newUIDs, err = im.ctl.move(b.mailbox, b.validity, uids, b.dest.name)
	case opDelete:
		err = im.ctl.remove(b.mailbox, b.validity, uids)
	}
	switch {
	case err == nil:
	case imapconn.Refused(err) && len(ready) > 1:
		// One message the target refuses must not fail its neighbours:
		// each goes alone.
		b.items = nil
		for _, c := range ready {
			one := *b
			one.items = []change{c}
			if err := a.send(ctx, &one); err != nil {
				return err
			}
		}
		return nil
	case imapconn.Refused(err) || errors.Is(err, errNoUIDPlus) || errors.Is(err, errGone):
		for _, c := range ready {
			a.fail(b, c, err.Error())
		}
		b.items = nil
		return nil
	default:
		if b.sent == nil {
			b.sent = map[*placedMsg]bool{}
		}
		for _, c := range ready {
			b.sent[c.p] = true
		}
		return imapconn.Classify(err)
	}
	done = done[:0]
	for _, c := range ready {
		if b.op != opMove {
			done = append(done, a.outcome(b, c, 0))
			continue
		}
		uid, ok := newUIDs[c.p.uid]
		if !ok || validity == 0 {
			a.fail(b, c, "the target did not say its new UID")
			continue
		}
		c.p.validity = validity
		done = append(done, a.outcome(b, c, uid))
		// The move keeps the flags just seen: its flags in the
		// destination need no FETCH of their own.
		a.remember(boxKey(b.dest.name, validity), uid, knownFlags{flags: cur[c.p.uid], there: true})
	}
	b.items = nil
	return a.settle(b, done)
}

// outcome is c's journal record once b is done (uid: its place after a
// move, in the validity already set).
func (a *applier) outcome(b *changeBatch, c change, uid uint32) placedRec {
	r := c.p.rec
	switch b.op {
	case opFlags:
		r.Flags = c.want
	case opMove:
		r.Where, r.Ref, r.Source, r.Folder = b.dest.name, fmt.Sprintf("%d:%d", c.p.validity, uid), c.s.SourceID, c.s.Folder
	case opDelete:
		r.State = journal.Gone
	}
	return placedRec{p: c.p, r: r, s: c.s}
}

// settle journals what b changed and counts it; a moved message's flags
// are brought to the source's next.
func (a *applier) settle(b *changeBatch, done []placedRec) error {
	if len(done) == 0 {
		return nil
	}
	if err := a.im.record(done...); err != nil {
		return err
	}
	for _, d := range done {
		switch b.op {
		case opFlags:
			a.im.rep.AddUpdated()
		case opMove:
			d.p.uid = refUID(d.r.Ref)
			a.im.rep.AddMoved()
			a.then = append(a.then, change{p: d.p, s: d.s})
		case opDelete:
			a.im.rep.AddDeleted()
		}
	}
	return nil
}

func refUID(ref string) uint32 {
	_, u, _ := strings.Cut(ref, ":")
	n, _ := strconv.ParseUint(u, 10, 32)
	return uint32(n)
}

// folder is the source folder a change of c is reported under.
func (a *applier) folder(b *changeBatch, c change) string {
	if b.op == opFlags && c.s.Folder != "" {
		return c.s.Folder
	}
	return c.p.rec.Folder
}

// fail reports c not made for reason.
func (a *applier) fail(b *changeBatch, c change, reason string) {
	f := report.Failure{Archive: a.im.state.archive, Folder: c.s.Folder, Item: c.s.SourceID}
	switch b.op {
	case opFlags:
		f.Reason = "flags not updated: " + reason
	case opMove:
		f.Reason = fmt.Sprintf("not moved from %q: %s", c.p.rec.Folder, reason)
	case opDelete:
		f.Folder, f.Item, f.Reason = c.p.rec.Folder, c.p.rec.Source, "not deleted: "+reason
	}
	a.im.rep.AddFailure(f)
}

// gone settles c, whose message is no longer where mailhaul placed it: a
// deletion is done (this run's cut-off command, or an earlier run's not
// journaled, or the user deleted it: then nothing is counted); a move is
// left for movedBefore; anything else is a conflict.
func (a *applier) gone(b *changeBatch, c change) (moved bool, err error) {
	switch b.op {
	case opDelete:
		r := c.p.rec
		r.State = journal.Gone
		if b.sent[c.p] {
			return false, a.settle(b, []placedRec{{p: c.p, r: r}})
		}
		return false, a.im.record(placedRec{p: c.p, r: r})
	case opMove:
		if c.p.rec.MessageID != "" {
			return true, nil
		}
	}
	a.im.conflict(c.p, a.folder(b, c), errGone.Error())
	return false, nil
}

// movedBefore finishes the moves of b made but not journaled (the
// connection was cut before the answer, or a run stopped before the
// journal's line): the one message with the Message-ID and size in the
// destination, with the flags mailhaul set (or the source's), is the
// one moved. One FETCH of what is new in the destination finds them all.
func (a *applier) movedBefore(b *changeBatch, gone []change) error {
	im := a.im
	digests := make([][16]byte, len(gone))
	for i, c := range gone {
		digests[i] = idDigest(c.p.rec.MessageID, c.p.rec.Size)
	}
	validity, found, err := im.ctl.findEach(b.dest, digests)
	if err != nil {
		return imapconn.Classify(err)
	}
	var uids []uint32
	for _, u := range found {
		uids = append(uids, u)
	}
	cur, err := im.ctl.flagsOf(b.dest.name, validity, uids)
	if err != nil && !errors.Is(err, errGone) {
		return imapconn.Classify(err)
	}
	var done []placedRec
	for i, c := range gone {
		uid, ok := found[digests[i]]
		f, there := cur[uid]
		want, err := im.wantFlags(b.dest.name, c.s.Flags)
		if err != nil {
			return imapconn.Classify(err)
		}
		if !ok || !there || !(sameFlags(f, c.p.rec.Flags) || sameFlags(f, want)) {
			im.conflict(c.p, a.folder(b, c), errGone.Error())
			continue
		}
		c.p.validity = validity
		done = append(done, a.outcome(b, c, uid))
	}
	return a.settle(b, done)
}

// flags brings a message that stayed in its folder (or was moved) to the
// source's flags.
func (a *applier) flags(ctx context.Context, p *placedMsg, s format.StateItem) error {
	if sameFlags(s.Flags, p.rec.Flags) {
		return nil // as mailhaul set them, which the mailbox kept
	}
	want, err := a.im.wantFlags(p.rec.Where, s.Flags)
	if err != nil {
		return err
	}
	if sameFlags(want, p.rec.Flags) {
		return nil
	}
	b := &changeBatch{op: opFlags, mailbox: p.rec.Where, validity: p.validity}
	switch add, del := flagChange(p.rec.Flags, want); {
	case len(del) == 0:
		b.store, b.flags = imap.StoreFlagsAdd, add
	case len(add) == 0:
		b.store, b.flags = imap.StoreFlagsDel, del
	default:
		b.store, b.flags = imap.StoreFlagsSet, sortedFlags(want)
	}
	return a.add(ctx, b, change{p: p, s: s, want: want})
}

// flagChange is what turns the flags from into to: those to add and
// those to remove (case-insensitively, \Recent aside), sorted.
func flagChange(from, to []string) (add, del []string) {
	in := func(fs []string, f string) bool {
		return slices.ContainsFunc(fs, func(g string) bool { return strings.EqualFold(f, g) })
	}
	for _, f := range to {
		if !strings.EqualFold(f, `\Recent`) && !in(from, f) && !in(add, f) {
			add = append(add, f)
		}
	}
	for _, f := range from {
		if !strings.EqualFold(f, `\Recent`) && !in(to, f) && !in(del, f) {
			del = append(del, f)
		}
	}
	return sortedFlags(add), sortedFlags(del)
}

// sortedFlags is fs in one order, so that the same change is one batch.
func sortedFlags(fs []string) []string {
	fs = slices.Clone(fs)
	slices.SortFunc(fs, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	return fs
}

// move moves a message to the folder the source now has it in; its flags
// follow once it is there.
func (a *applier) move(ctx context.Context, p *placedMsg, s format.StateItem) error {
	im := a.im
	b, err := im.boxes.folder(im.state.archive, format.Folder{Kind: format.FolderMail, Path: s.Folder})
	if err != nil {
		return err
	}
	if b.refused != "" {
		a.fail(&changeBatch{op: opMove}, change{p: p, s: s}, b.refused)
		return nil
	}
	if b.name == p.rec.Where {
		// Two source folders mapped to one mailbox: nothing to move.
		r := p.rec
		r.Source, r.Folder = s.SourceID, s.Folder
		if err := im.record(placedRec{p: p, r: r}); err != nil {
			return err
		}
		return a.flags(ctx, p, s)
	}
	return a.add(ctx, &changeBatch{op: opMove, mailbox: p.rec.Where, validity: p.validity, dest: b}, change{p: p, s: s})
}

// delete deletes a message the source no longer holds, with
// --apply-deletions; without, it lists it.
func (a *applier) delete(ctx context.Context, p *placedMsg) error {
	im := a.im
	if !im.req.ApplyDeletions {
		im.rep.AddWouldDelete(report.Failure{Archive: im.state.archive, Folder: p.rec.Folder, Item: p.rec.Source,
			Reason: fmt.Sprintf("deleted at the source; still in %q on the target", p.rec.Where)})
		return nil
	}
	return a.add(ctx, &changeBatch{op: opDelete, mailbox: p.rec.Where, validity: p.validity}, change{p: p})
}
