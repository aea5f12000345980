package imap

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/journal"
	"github.com/mailhaul/mailhaul/report"
)

// A delta's state record (FORMAT.md, "The state record") lists every
// message the source held when the delta was exported. Once the archives'
// messages are on the target, the run brings the messages earlier runs
// placed to that state: flags and keywords (UID STORE), folders (UID
// MOVE), and, with --apply-deletions, deletions (STORE \Deleted, UID
// EXPUNGE of that UID alone). It changes only what the journal says
// mailhaul placed, and only where the target still holds it as mailhaul
// left it (the flags it last set): anything else is a conflict, reported
// and left alone. Each change is journaled as it is made, so a re-run
// finds nothing left to do.

// sourceState is the state record of the last archive read, kept in an
// unlinked temporary file (one line per message, however large the
// mailbox) until the archives' messages are on the target.
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

func (s *sourceState) close() {
	if s != nil && s.f != nil {
		s.f.Close()
	}
}

// keepState spools archive's state record, replacing an earlier
// archive's: only the latest state describes the source. sum is the
// archive's summary, read just before.
func (im *job) keepState(archive string, sum *format.Summary, items iter.Seq2[format.StateItem, error]) error {
	f, err := os.CreateTemp("", "mailhaul-imap-state-*")
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
		if it.Kind != format.KindMessage || !im.req.Select.KeepFolder(it.Folder) {
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
	seen   map[*placedMsg]bool   // matched to a state line
	kept   map[*placedMsg]bool   // matched to a state line of its own folder, or moved to one
	// older counts messages placed according to records without what a
	// cutover needs (journals of earlier versions): left as they are.
	older int
}

func msgTag(id string, size int64) string { return id + "\x00" + strconv.FormatInt(size, 10) }

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
	ix.bySource, ix.byName, ix.byMsg = map[string][]*placedMsg{}, map[string]*placedMsg{}, map[string]*placedMsg{}
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
	for _, p := range ix.bySource[s.SourceID] {
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

// strayCopy is the placed copy of s's sourceId that moved to s's folder,
// for a source whose sourceIds stay the same in another folder (Zimbra's
// item ids): none when a copy is there already, else one no state line
// holds in its own folder.
func (ix *placedIndex) strayCopy(s format.StateItem) *placedMsg {
	var stray *placedMsg
	for _, p := range ix.bySource[s.SourceID] {
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
	// First the messages still where they were, then the others: a copy
	// in another folder must not take a message that stayed.
	var later bool
	err = st.each(func(s format.StateItem) error {
		if p := ix.stayed(s); p != nil {
			return im.applyFlags(ctx, p, s)
		}
		later = true
		return nil
	})
	// blind counts the source's messages mailhaul did not place and
	// cannot match to what it did (no key, no Message-ID and size): any
	// of them may be a placed message moved, so nothing is deleted.
	blind := 0
	if err == nil && later {
		err = st.each(func(s format.StateItem) error {
			if len(ix.bySource[s.SourceID]) > 0 {
				if p := ix.strayCopy(s); p != nil {
					return im.applyMove(ctx, p, s)
				}
				return nil // stayed, or copies of a source holding it still
			}
			if p := ix.moved(s); p != nil {
				ix.seen[p] = true
				return im.applyMove(ctx, p, s)
			}
			if s.Key == "" && (s.MessageID == "" || s.Size <= 0) {
				blind++
			}
			return nil
		})
	}
	if err != nil {
		return err
	}
	for _, p := range ix.byKey {
		if p.rec.State != journal.Done || ix.seen[p] || !st.listed[p.rec.Folder] || !im.req.Select.KeepFolder(p.rec.Folder) {
			continue
		}
		if st.allBroken || st.broken[p.rec.Folder] {
			continue // the export could not list it all: no evidence
		}
		if blind > 0 {
			im.rep.AddWouldDelete(report.Failure{Archive: st.archive, Folder: p.rec.Folder, Item: p.rec.Source,
				Reason: fmt.Sprintf("not in the source's state, but the state has %d messages mailhaul cannot match to those it placed (no key or Message-ID): it may have moved, so it is not deleted", blind)})
			continue
		}
		if err := im.applyDelete(ctx, p); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// sameFlags compares two flag lists as sets, case-insensitively, without
// \Recent (which no client sets).
func sameFlags(a, b []string) bool {
	norm := func(fs []string) []string {
		var out []string
		for _, f := range fs {
			if f = strings.ToLower(f); f != `\recent` && !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(norm(a), norm(b))
}

// conflict reports p left alone for reason.
func (im *job) conflict(p *placedMsg, folder, reason string) {
	im.rep.AddConflict(report.Failure{Archive: im.state.archive, Folder: folder, Item: p.rec.Source, Reason: reason})
}

// asLeft checks that the target still holds p as mailhaul left it (or
// already as want, when want is set): ok false means a conflict, reported.
// A failure of the connection is returned.
func (im *job) asLeft(p *placedMsg, folder string, want []string) (cur []string, ok bool, err error) {
	cur, err = im.ctl.flagsAt(p.rec.Where, p.validity, p.uid)
	if errors.Is(err, errGone) {
		im.conflict(p, folder, err.Error())
		return nil, false, nil
	}
	if err != nil {
		if imapconn.Refused(err) {
			im.conflict(p, folder, err.Error())
			return nil, false, nil
		}
		return nil, false, err
	}
	if !sameFlags(cur, p.rec.Flags) && (want == nil || !sameFlags(cur, want)) {
		im.conflict(p, folder, fmt.Sprintf("its flags changed on the target since mailhaul set them (now %s, mailhaul set %s): left as the user has it",
			fmtFlags(cur), fmtFlags(p.rec.Flags)))
		return nil, false, nil
	}
	return cur, true, nil
}

func fmtFlags(fs []string) string {
	if len(fs) == 0 {
		return "none"
	}
	return strings.Join(fs, " ")
}

// wantFlags are the state line's flags the target mailbox keeps.
func (im *job) wantFlags(mailbox string, flags []string) []string {
	perm := permanentFlags{unknown: true}
	if b := im.boxes.byName[mailbox]; b != nil {
		perm = b.state.perm
	}
	ok, _ := cleanFlags(flags, perm)
	if ok == nil {
		ok = []string{}
	}
	return ok
}

// record journals p's new state; a dry run only notes it here.
func (im *job) record(p *placedMsg, r journal.Record) error {
	if im.req.DryRun {
		p.rec = r
		return nil
	}
	if err := im.j.Write(r); err != nil {
		return fmt.Errorf("imap: journal a change of %s: %w", p.rec.Source, err)
	}
	p.rec = r
	return nil
}

// applyFlags brings a message that stayed in its folder to the source's
// flags.
func (im *job) applyFlags(ctx context.Context, p *placedMsg, s format.StateItem) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	want := im.wantFlags(p.rec.Where, s.Flags)
	if sameFlags(want, p.rec.Flags) {
		return nil
	}
	cur, ok, err := im.asLeft(p, s.Folder, want)
	if !ok || err != nil {
		return err
	}
	if !sameFlags(cur, want) && !im.req.DryRun {
		if err := im.ctl.setFlags(p.rec.Where, p.validity, p.uid, want); err != nil {
			if imapconn.Refused(err) {
				im.rep.AddFailure(report.Failure{Archive: im.state.archive, Folder: s.Folder, Item: s.SourceID, Reason: "flags not updated: " + err.Error()})
				return nil
			}
			return err
		}
	}
	r := p.rec
	r.Flags = want
	if err := im.record(p, r); err != nil {
		return err
	}
	im.rep.AddUpdated()
	return nil
}

// applyMove moves a message to the folder the source now has it in, and
// brings it to the source's flags there.
func (im *job) applyMove(ctx context.Context, p *placedMsg, s format.StateItem) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b, err := im.boxes.folder(im.state.archive, format.Folder{Kind: format.FolderMail, Path: s.Folder})
	if err != nil {
		return err
	}
	fail := func(reason string) {
		im.rep.AddFailure(report.Failure{Archive: im.state.archive, Folder: s.Folder, Item: s.SourceID,
			Reason: fmt.Sprintf("not moved from %q: %s", p.rec.Folder, reason)})
	}
	if b.refused != "" {
		fail(b.refused)
		return nil
	}
	if b.name == p.rec.Where {
		// Two source folders mapped to one mailbox: nothing to move.
		r := p.rec
		r.Source, r.Folder = s.SourceID, s.Folder
		if err := im.record(p, r); err != nil {
			return err
		}
		return im.applyFlags(ctx, p, s)
	}
	if done, err := im.movedBefore(ctx, p, b, s); done || err != nil {
		return err
	}
	if _, ok, err := im.asLeft(p, p.rec.Folder, nil); !ok || err != nil {
		return err
	}
	if im.req.DryRun {
		im.rep.AddMoved()
		if !sameFlags(p.rec.Flags, im.wantFlags(b.name, s.Flags)) {
			im.rep.AddUpdated()
		}
		return nil
	}
	validity, uid, err := im.ctl.move(p.rec.Where, p.validity, p.uid, b.name)
	if err != nil {
		if imapconn.Refused(err) || !retryable(err) {
			fail(err.Error())
			return nil
		}
		return err
	}
	if err := im.recordMove(p, b, s, validity, uid); err != nil {
		return err
	}
	return im.applyFlags(ctx, p, s)
}

// recordMove journals p's new place and counts the move.
func (im *job) recordMove(p *placedMsg, b *box, s format.StateItem, validity, uid uint32) error {
	r := p.rec
	r.Where, r.Ref, r.Source, r.Folder = b.name, fmt.Sprintf("%d:%d", validity, uid), s.SourceID, s.Folder
	if err := im.record(p, r); err != nil {
		return err
	}
	p.validity, p.uid = validity, uid
	im.rep.AddMoved()
	return nil
}

// movedBefore finishes a move an earlier run made but could not journal
// (it was stopped between the MOVE and the journal's line): the message
// is gone from its place and the one with its Message-ID and size is in
// the destination, with the flags mailhaul set (or the source's).
func (im *job) movedBefore(ctx context.Context, p *placedMsg, b *box, s format.StateItem) (bool, error) {
	_, err := im.ctl.flagsAt(p.rec.Where, p.validity, p.uid)
	if !errors.Is(err, errGone) || p.rec.MessageID == "" {
		return false, nil // there (or not to be told): the ordinary path
	}
	validity, uid, found, err := im.ctl.findOne(b.name, p.rec.MessageID, p.rec.Size)
	if err != nil || !found {
		return false, err
	}
	cur, err := im.ctl.flagsAt(b.name, validity, uid)
	if err != nil || !(sameFlags(cur, p.rec.Flags) || sameFlags(cur, im.wantFlags(b.name, s.Flags))) {
		return false, nil
	}
	if err := im.recordMove(p, b, s, validity, uid); err != nil {
		return true, err
	}
	return true, im.applyFlags(ctx, p, s)
}

// retryable tells a failure of the connection (the run stops, and the
// next one finishes) from one of this message.
func retryable(err error) bool {
	return report.ConnectionFailed(err) || errors.Is(err, context.Canceled)
}

// applyDelete deletes a message the source no longer holds, with
// --apply-deletions; without, it lists it.
func (im *job) applyDelete(ctx context.Context, p *placedMsg) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !im.req.ApplyDeletions {
		im.rep.AddWouldDelete(report.Failure{Archive: im.state.archive, Folder: p.rec.Folder, Item: p.rec.Source,
			Reason: fmt.Sprintf("deleted at the source; still in %q on the target", p.rec.Where)})
		return nil
	}
	if _, err := im.ctl.flagsAt(p.rec.Where, p.validity, p.uid); errors.Is(err, errGone) {
		// Gone from where mailhaul placed it, as from the source (an
		// earlier run deleted it and was stopped before its journal line,
		// or the user did): nothing to do, and nothing to count.
		r := p.rec
		r.State = journal.Gone
		return im.record(p, r)
	}
	if _, ok, err := im.asLeft(p, p.rec.Folder, nil); !ok || err != nil {
		return err
	}
	if im.req.DryRun {
		im.rep.AddDeleted()
		return nil
	}
	if err := im.ctl.remove(p.rec.Where, p.validity, p.uid); err != nil {
		if imapconn.Refused(err) || !retryable(err) {
			im.rep.AddFailure(report.Failure{Archive: im.state.archive, Folder: p.rec.Folder, Item: p.rec.Source, Reason: "not deleted: " + err.Error()})
			return nil
		}
		return err
	}
	r := p.rec
	r.State = journal.Gone
	if err := im.record(p, r); err != nil {
		return err
	}
	im.rep.AddDeleted()
	return nil
}
