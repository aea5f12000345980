package imap

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/imapconn"
)

// control is the one go-imap connection that inspects and shapes the
// target: folders, selection, presence checks. Its methods are serialised
// because a SELECT changes the connection's state for the next command.
type control struct {
	mu    sync.Mutex
	c     *imapclient.Client
	opt   *Options
	delim string
	// boxes are the target's mailboxes, by name as the server spells it.
	boxes   map[string]*imap.ListData
	special map[format.Role]string
	// subscribed are the mailboxes the target lists as subscribed, when
	// it can say (LIST-EXTENDED's RETURN (SUBSCRIBED)); nil when it
	// cannot, and every subscription is then asked for.
	subscribed map[string]bool
	// selected is the mailbox the connection has selected: a FETCH by UID
	// reads from it, whatever index the UID came from.
	selected string
	// selValidity is selected's UIDVALIDITY, as its SELECT said.
	selValidity uint32

	// conn closes when the run's context ends, which ends a go-imap
	// command waiting for its answer (go-imap's commands take no context).
	conn *imapconn.Conn
}

func dialControl(ctx context.Context, o *Options) (*control, error) {
	t := &control{opt: o}
	if err := t.connect(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// connect opens the control connection (again, after one dropped): a
// mailbox selected on the old one is selected on the new one only when a
// command needs it.
func (t *control) connect(ctx context.Context) error {
	conn, err := imapconn.Dial(ctx, t.opt.Account)
	if err != nil {
		return err
	}
	c := conn.Client(nil)
	if c.Caps().Has(imap.CapUTF8Accept) {
		if _, err := c.Enable(imap.CapUTF8Accept).Wait(); err != nil {
			c.Close()
			return fmt.Errorf("imap: ENABLE UTF8=ACCEPT: %w", conn.Cause(err))
		}
	}
	t.c, t.conn, t.selected = c, conn, ""
	return nil
}

// redial replaces a control connection that dropped.
func (t *control) redial(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.c.Close()
	return t.connect(ctx)
}

// cause is the reason a command failed: the cancellation, when it closed
// the connection under the command, else the command's own error.
func (t *control) cause(err error) error { return t.conn.Cause(err) }

// close logs out, waiting at most a few seconds for a server that no
// longer answers.
func (t *control) close() {
	done := make(chan struct{})
	go func() { defer close(done); t.c.Logout().Wait() }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	t.c.Close()
}

// discover lists the target's mailboxes, its delimiter and special-use
// folders.
func (t *control) discover() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	opts := &imap.ListOptions{}
	if t.c.Caps().Has(imap.CapSpecialUse) {
		opts.ReturnSpecialUse = true
	}
	// Which mailboxes are subscribed comes in the same answer, so a
	// delta subscribes only what is not (one command per folder saved).
	listExt := t.c.Caps().Has(imap.CapListExtended) || t.c.Caps().Has(imap.CapIMAP4rev2)
	opts.ReturnSubscribed = listExt
	list, err := t.c.List("", "*", opts).Collect()
	if err != nil {
		return fmt.Errorf("imap: LIST: %w", t.cause(err))
	}
	t.boxes = map[string]*imap.ListData{}
	t.special = map[format.Role]string{}
	t.subscribed = nil
	if listExt {
		t.subscribed = map[string]bool{}
	}
	for _, l := range list {
		t.boxes[l.Mailbox] = l
		if t.subscribed != nil && slices.Contains(l.Attrs, imap.MailboxAttrSubscribed) {
			t.subscribed[l.Mailbox] = true
		}
		if l.Delim != 0 {
			t.delim = string(l.Delim)
		}
		for _, a := range l.Attrs {
			if r, ok := roleOfAttr[a]; ok {
				if _, dup := t.special[r]; !dup {
					t.special[r] = l.Mailbox
				}
			}
		}
	}
	if t.delim == "" {
		// An empty server still says its delimiter for LIST "" "".
		if root, err := t.c.List("", "", nil).Collect(); err == nil && len(root) > 0 && root[0].Delim != 0 {
			t.delim = string(root[0].Delim)
		}
	}
	return nil
}

var roleOfAttr = map[imap.MailboxAttr]format.Role{
	imap.MailboxAttrSent: format.RoleSent, imap.MailboxAttrDrafts: format.RoleDrafts,
	imap.MailboxAttrTrash: format.RoleTrash, imap.MailboxAttrJunk: format.RoleJunk,
	imap.MailboxAttrArchive: format.RoleArchive,
}

// exists reports whether the mailbox is there (and selectable).
func (t *control) exists(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.selectableLocked(name)
}

// selectableLocked tells a mailbox from a name the target lists only as
// a placeholder: the parent of another mailbox (\NonExistent, as Dovecot
// lists "Pa" after "Pa/Ch" was created) or a level that holds no mail
// (\Noselect). A placeholder must be created before mail goes in.
func (t *control) selectableLocked(name string) bool {
	l, ok := t.boxes[name]
	if !ok && strings.EqualFold(name, "INBOX") {
		for n, ll := range t.boxes {
			if strings.EqualFold(n, "INBOX") {
				l, ok = ll, true
			}
		}
	}
	if !ok {
		return false
	}
	for _, a := range l.Attrs {
		if a == imap.MailboxAttrNoSelect || a == imap.MailboxAttrNonExistent {
			return false
		}
	}
	return true
}

// create makes a mailbox (parents first, as some servers need) and
// subscribes it if asked. A placeholder is created too (see
// selectableLocked); if the server says it exists already, the SELECT
// that follows tells whether it takes mail.
func (t *control) create(name string, subscribe bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.selectableLocked(name) {
		err := t.c.Create(name, nil).Wait()
		var ie *imap.Error
		if err != nil && !(errors.As(err, &ie) && ie.Code == imap.ResponseCodeAlreadyExists) {
			return fmt.Errorf("imap: create mailbox %q: %w", name, t.cause(err))
		}
		t.boxes[name] = &imap.ListData{Mailbox: name}
	}
	if subscribe && !t.subscribedLocked(name) {
		if err := t.c.Subscribe(name).Wait(); err != nil {
			return fmt.Errorf("imap: subscribe %q: %w", name, t.cause(err))
		}
		if t.subscribed != nil {
			t.subscribed[name] = true
		}
	}
	return nil
}

// subscribedLocked reports whether the target said name is subscribed
// (INBOX in any case, as the server spells it).
func (t *control) subscribedLocked(name string) bool {
	if t.subscribed[name] {
		return true
	}
	if strings.EqualFold(name, "INBOX") {
		for n := range t.subscribed {
			if strings.EqualFold(n, "INBOX") {
				return true
			}
		}
	}
	return false
}

// gone forgets a mailbox the server says is not there (TRYCREATE), so
// that create makes it again.
func (t *control) gone(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.boxes, name)
	delete(t.subscribed, name)
}

// mailboxState is what SELECT tells about a target mailbox.
type mailboxState struct {
	uidValidity uint32
	messages    uint32
	perm        permanentFlags
}

func (t *control) examine(name string) (mailboxState, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.selectLocked(name)
}

// examineIndexed is examine of a mailbox whose messages are about to be
// looked for: its index is filled by the same SELECT (see look).
func (t *control) examineIndexed(b *box) (mailboxState, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.selectIndexed(b.name, &b.index)
}

func (t *control) selectLocked(name string) (mailboxState, error) {
	// SELECT rather than EXAMINE: read-only selection reports no
	// permanent flags on some servers. Nothing here changes a message.
	t.selected = ""
	d, err := t.c.Select(name, nil).Wait()
	if err != nil {
		return mailboxState{}, fmt.Errorf("imap: select %q: %w", name, t.cause(err))
	}
	t.selected, t.selValidity = name, d.UIDValidity
	st := mailboxState{uidValidity: d.UIDValidity, messages: d.NumMessages}
	st.perm = permanentFlags{known: map[string]bool{}, unknown: d.PermanentFlags == nil}
	for _, f := range d.PermanentFlags {
		if f == imap.FlagWildcard {
			st.perm.any = true
		}
		st.perm.known[strings.ToLower(string(f))] = true
	}
	return st, nil
}

// look checks the target for a message, under the connection's lock.
// With refresh, b's index is brought up to date first; otherwise only when
// it has not been filled yet (before sending, the run's own appends do not
// matter), or when another mailbox was selected since: the content
// comparison fetches by UID from the selected mailbox, and the checks of
// different mailboxes take turns on the one connection. placed gives, on
// the mailbox's first check, the UIDs the journal says its items got.
//
// Before sending it looks only at what the mailbox held before this run,
// less the copies the journal accounts for; after a dropped connection
// (during) only at what arrived during this run. Identical copies are
// counted that way: k items in the archives and j copies on the target
// send k - j. It returns the copy's place as the journal keeps it,
// "UIDVALIDITY:UID".
func (t *control) look(b *box, sp *spool, date time.Time, refresh, strict, during bool, placed func(mailbox string) ([]placedUID, error)) (string, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if refresh || !b.index.fresh || t.selected != b.name {
		if err := t.refreshIndex(b.name, &b.index); err != nil {
			return "", false, err
		}
	}
	ix := &b.index
	if !ix.based {
		// The first check of a mailbox comes before anything is sent to
		// it (only mailboxes that held mail are checked before sending).
		ix.based = true
		if b.hadMail {
			ix.base = ix.lastUID
		}
		// Copies the journal places belong to their items, whether or
		// not those are in this run's archives.
		uids, err := placed(b.name)
		if err != nil {
			return "", false, err
		}
		for _, p := range uids {
			if p.validity == ix.uidValidity {
				ix.used[p.uid] = true
			}
		}
	}
	var claims *int32
	if !during && b.claims != nil {
		if n := b.claims[contentTag(sp.sum)]; n > 0 {
			claims = &n
			defer func() { b.claims[contentTag(sp.sum)] = n }()
		}
	}
	var unix int64
	if !date.IsZero() {
		unix = date.Unix()
	}
	uid, found, err := t.find(ix, sp, strict, during, unix, claims)
	if !found || err != nil {
		return "", false, err
	}
	return fmt.Sprintf("%d:%d", ix.uidValidity, uid), true, nil
}

// contentTag shortens a content hash for the per-mailbox counts.
func contentTag(sum [32]byte) uint64 { return binary.BigEndian.Uint64(sum[:8]) }

// claim records that a copy of sum in b belongs to an item the journal
// knows. A box's counts and index are guarded by the control lock, as
// look reads them.
func (t *control) claim(b *box, sum [32]byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if b.claims == nil {
		b.claims = map[uint64]int32{}
	}
	b.claims[contentTag(sum)]++
}

// fly counts a batch's items in a command sent (d = 1) or answered
// (d = -1).
func (t *control) fly(bt *batch, d int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := bt.box
	if b.flying == nil {
		b.flying = map[[32]byte]int{}
	}
	for _, it := range bt.items {
		if b.flying[it.sp.sum] += d; b.flying[it.sp.sum] <= 0 {
			delete(b.flying, it.sp.sum)
		}
	}
}

// sameInFlight reports whether a message with the same bytes as one of
// the batch's is in a command of this run still unanswered: a copy found
// now could be that one's.
func (t *control) sameInFlight(bt *batch) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, it := range bt.items {
		if bt.box.flying[it.sp.sum] > 0 {
			return true
		}
	}
	return false
}

// appended marks the UIDs a batch got in b's index as this run's: never
// evidence for another item.
func (t *control) appended(b *box, au imapconn.AppendUID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ix := &b.index; ix.uidValidity == au.UIDValidity || ix.uidValidity == 0 {
		if ix.used == nil {
			ix.uidValidity, ix.used = au.UIDValidity, map[uint32]bool{}
		}
		for _, u := range au.UIDs {
			ix.used[u] = true
		}
	}
}

// errGone says the message is no longer at the UID mailhaul placed it at
// (the user moved or deleted it on the target, or the mailbox was made
// anew).
var errGone = errors.New("no longer where mailhaul placed it on the target (moved or deleted there, or the mailbox was made anew)")

// flagsAt returns the flags of the message at uid in mailbox, errGone when
// the mailbox's UIDVALIDITY is not validity or the UID is not there.
func (t *control) flagsAt(mailbox string, validity, uid uint32) ([]string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fl, err := t.flagsOfLocked(mailbox, validity, []uint32{uid})
	if err != nil {
		return nil, err
	}
	if f, ok := fl[uid]; ok {
		return f, nil
	}
	return nil, errGone
}

// flagsOf returns the flags of the messages at uids in mailbox (one UID
// FETCH FLAGS); a UID not there is missing from the map. errGone when the
// mailbox's UIDVALIDITY is not validity: none of them is there.
func (t *control) flagsOf(mailbox string, validity uint32, uids []uint32) (map[uint32][]string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.flagsOfLocked(mailbox, validity, uids)
}

func (t *control) flagsOfLocked(mailbox string, validity uint32, uids []uint32) (map[uint32][]string, error) {
	if err := t.selectAt(mailbox, validity); err != nil {
		return nil, err
	}
	msgs, err := t.c.Fetch(uidSet(uids), &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil {
		return nil, fmt.Errorf("imap: fetch flags of %d messages in %q: %w", len(uids), mailbox, t.cause(err))
	}
	out := make(map[uint32][]string, len(msgs))
	for _, m := range msgs {
		fl := make([]string, len(m.Flags))
		for i, f := range m.Flags {
			fl[i] = string(f)
		}
		out[uint32(m.UID)] = fl
	}
	return out, nil
}

// selectAt selects mailbox unless it is selected (changes come mailbox by
// mailbox as the state lists them: one SELECT for a run of them); errGone
// when its UIDVALIDITY is not validity.
func (t *control) selectAt(mailbox string, validity uint32) error {
	if t.selected != mailbox {
		if _, err := t.selectLocked(mailbox); err != nil {
			return err
		}
	}
	if t.selValidity != validity {
		return errGone
	}
	return nil
}

func uidSet(uids []uint32) imap.UIDSet {
	var set imap.UIDSet
	for _, u := range uids {
		set.AddNum(imap.UID(u))
	}
	return set
}

// setFlags adds, removes or sets (op) flags on the messages at uids in
// mailbox: one UID STORE of .SILENT.
func (t *control) setFlags(mailbox string, validity uint32, uids []uint32, op imap.StoreFlagsOp, flags []string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.selectAt(mailbox, validity); err != nil {
		return err
	}
	fl := make([]imap.Flag, len(flags))
	for i, f := range flags {
		fl[i] = imap.Flag(f)
	}
	err := t.c.Store(uidSet(uids), &imap.StoreFlags{Op: op, Silent: true, Flags: fl}, nil).Close()
	if err != nil {
		return fmt.Errorf("imap: store flags of %d messages in %q: %w", len(uids), mailbox, t.cause(err))
	}
	return nil
}

// errNoUIDPlus: without UIDPLUS a moved message could not be found again,
// and a plain EXPUNGE would remove other messages marked deleted.
var errNoUIDPlus = errors.New("the target does not offer UIDPLUS (needed to find a moved message again, and to expunge only what mailhaul deletes)")

func (t *control) uidPlus() bool {
	return t.c.Caps().Has(imap.CapUIDPlus) || t.c.Caps().Has(imap.CapIMAP4rev2)
}

// move moves the messages at uids in mailbox to dest with one UID MOVE
// (go-imap's COPY, STORE \Deleted and UID EXPUNGE of the set where MOVE is
// missing) and returns the new UIDVALIDITY and each one's new UID as the
// target says it (COPYUID); a UID missing from the map was not said.
func (t *control) move(mailbox string, validity uint32, uids []uint32, dest string) (uint32, map[uint32]uint32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.uidPlus() {
		return 0, nil, errNoUIDPlus
	}
	if err := t.selectAt(mailbox, validity); err != nil {
		return 0, nil, err
	}
	d, err := t.c.Move(uidSet(uids), dest).Wait()
	if err != nil {
		return 0, nil, fmt.Errorf("imap: move %d messages from %q to %q: %w", len(uids), mailbox, dest, t.cause(err))
	}
	var from, to []imap.UID
	if set, ok := d.SourceUIDs.(imap.UIDSet); ok {
		from, _ = set.Nums()
	}
	if set, ok := d.DestUIDs.(imap.UIDSet); ok {
		to, _ = set.Nums()
	}
	out := map[uint32]uint32{}
	if d.UIDValidity != 0 && len(from) == len(to) {
		for i := range from {
			out[uint32(from[i])] = uint32(to[i]) // COPYUID pairs them in order
		}
	}
	return d.UIDValidity, out, nil
}

// remove deletes the messages at uids in mailbox: STORE \Deleted and UID
// EXPUNGE of that set. Without UIDPLUS it refuses, because a plain
// EXPUNGE would also remove what the user marked \Deleted.
func (t *control) remove(mailbox string, validity uint32, uids []uint32) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.uidPlus() {
		return errNoUIDPlus
	}
	if err := t.selectAt(mailbox, validity); err != nil {
		return err
	}
	set := uidSet(uids)
	if err := t.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		return fmt.Errorf("imap: mark %d messages in %q deleted: %w", len(uids), mailbox, t.cause(err))
	}
	if err := t.c.UIDExpunge(set).Close(); err != nil {
		return fmt.Errorf("imap: expunge %d messages in %q: %w", len(uids), mailbox, t.cause(err))
	}
	return nil
}

// findEach looks in b for the one message of each Message-ID and size
// digest (idDigest) asked, with b's index brought up to date first (one
// FETCH of what it has not seen), and returns their UIDs: a digest of no
// message or of several is left out.
func (t *control) findEach(b *box, digests [][16]byte) (validity uint32, uids map[[16]byte]uint32, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.refreshIndex(b.name, &b.index); err != nil {
		return 0, nil, err
	}
	uids = map[[16]byte]uint32{}
	for _, d := range digests {
		if found := b.index.byID[d]; len(found) == 1 {
			uids[d] = found[0]
		}
	}
	return b.index.uidValidity, uids, nil
}
