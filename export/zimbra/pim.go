package zimbra

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/zimbra/convert"
	"github.com/mailhaul/mailhaul/export/zimbra/metadata"
	"github.com/mailhaul/mailhaul/export/zimbra/tgz"
	"github.com/mailhaul/mailhaul/format"
)

// pimKind is the archive kind of a Zimbra contact, appointment or task.
func pimKind(typ int) format.Kind {
	switch typ {
	case tgz.TypeContact:
		return format.KindContact
	case tgz.TypeTask:
		return format.KindTask
	}
	return format.KindEvent
}

// pimItem converts a contact, appointment or task into one archive item
// of its address book or calendar. One that cannot be converted is
// reported by file, id, folder and subject; what a converted one lost is
// in its Notes and a warning.
func (x *exporter) pimItem(it *tgz.Item, zp, key string) error {
	kind := pimKind(it.Type)
	f, err := x.kindFolder(zp, kind.FolderKind())
	if err != nil {
		return err
	}
	received := it.ModTime.UTC()
	if it.Meta != nil {
		received = it.Meta.Received()
	}
	if !x.opt.Keep(received) {
		x.sink.AddSkipped(export.SkipBeforeCutoff, 1)
		return nil
	}
	what := x.describe(it)
	var obj []byte
	var uid string
	var notes []string
	if it.Meta != nil {
		obj, uid, notes, err = x.convertMeta(it, format.Problem{Folder: f.path, Item: what})
	} else {
		obj, uid, err = checkEntry(it)
	}
	if err != nil {
		p := format.Problem{Folder: f.path, Item: what, Reason: "not converted: " + err.Error()}
		if te := (*tgz.Error)(nil); errors.As(err, &te) {
			p.Reason = "not converted: " + damage(te) // what names file and item already
		}
		if key != "" && errors.Is(err, tgz.ErrDamaged) {
			x.holdDamaged(key, p) // a sound copy in a later file may still be exported
		} else {
			x.sink.AddError(p)
		}
		return nil
	}
	if it.Meta == nil {
		key = noMetaKey(zp, sha256Sum(obj))
		if x.duplicate(key) {
			x.sink.AddSkipped(SkipDuplicate, 1)
			return nil
		}
		x.seen[key] = x.fileNo
	}
	if len(notes) > 0 {
		x.sink.AddWarning(format.Problem{Folder: f.path, Item: what, Reason: strings.Join(notes, "; ")})
	}
	fi := format.Item{Kind: kind, Folder: f.path, Received: received, UID: uid, SourceID: x.sourceID(it), Notes: notes}
	if err := export.AddItem(x.sink, fi, what, bytes.NewReader(obj)); err != nil {
		return err
	}
	if key != "" {
		x.landed(key)
	}
	return nil
}

func sha256Sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

// describe names an item in reports: file, type, id and subject (the
// File-As name of a contact), or the entry without a .meta.
func (x *exporter) describe(it *tgz.Item) string {
	if it.Meta == nil {
		return fmt.Sprintf("%s: %s %s", x.file, tgz.TypeName(it.Type), it.Entry)
	}
	subject := it.Meta.Subject
	if subject == "" {
		subject = it.Meta.Name
	}
	return fmt.Sprintf("%s: %s %d %q", x.file, tgz.TypeName(it.Type), it.Meta.ID, subject)
}

// convertMeta converts a meta=1 item from its metadata and its blob; what
// it could convert of an item only partly readable is kept, and the loss
// reported as who's error. The
// blob is read to its end whatever the converter took of it, so that the
// reader's blob_digest check (at the end of the data) always runs, and a
// damaged blob fails the item even when the converter did not notice.
func (x *exporter) convertMeta(it *tgz.Item, who format.Problem) (obj []byte, uid string, notes []string, err error) {
	m := it.Meta
	var blob io.Reader
	var body *failRecorder
	if it.Body != nil {
		body = &failRecorder{r: it.Body}
		blob = body
	}
	md := metadata.Map{}
	if m.Metadata != "" {
		if md, err = metadata.Decode(m.Metadata); err != nil {
			err = fmt.Errorf("metadata: %w", err)
		}
	}
	switch {
	case err != nil:
	case it.Type == tgz.TypeContact:
		obj, uid, notes, err = convert.Contact(md, blob, x.contactOptions(m, who))
	default:
		obj, uid, notes, err = convert.Calendar(md, blob)
		if tags := m.Tags(); len(tags) > 0 {
			// Zimbra's tags are its own, not the invite's CATEGORIES.
			notes = append(notes, fmt.Sprintf("Zimbra tags %q not carried: an iCalendar object has no place for them", tags))
		}
	}
	if body != nil {
		io.Copy(io.Discard, body) // the digest is checked at the end; body keeps the error
		if body.err != nil {
			return nil, "", nil, fmt.Errorf("blob: %w", body.err)
		}
	}
	var incomplete *convert.Incomplete
	partial := errors.As(err, &incomplete) && obj != nil
	if err != nil && !partial {
		return nil, "", notes, err
	}
	// convert names the UID it wrote: its output, which may carry more
	// attachment bytes than a .vcf or .ics entry is allowed, is not
	// parsed again.
	if uid == "" {
		return nil, "", notes, fmt.Errorf("%s without UID", tgz.TypeName(it.Type))
	}
	if it.Type == tgz.TypeContact {
		x.contactExported(m.ID, uid)
	}
	if partial {
		// Kept without the invites that are lost, which are reported.
		who.Reason = "exported without part of it: " + err.Error()
		x.sink.AddError(who)
	}
	return obj, uid, notes, nil
}

// checkEntry checks a meta=0 .vcf, .ics or .task entry, which is already
// standard, and keeps its bytes (the check reads at most its bound, so
// what it read is the whole entry when it succeeds).
func checkEntry(it *tgz.Item) (obj []byte, uid string, err error) {
	if it.Body == nil {
		return nil, "", errors.New("no data entry")
	}
	var buf bytes.Buffer
	tee := io.TeeReader(it.Body, &buf)
	if it.Type == tgz.TypeContact {
		uid, err = convert.CheckContact(tee)
		if err == nil && uid == "" {
			err = errors.New("vCard without UID")
		}
	} else {
		uid, err = convert.CheckCalendar(tee)
	}
	return buf.Bytes(), uid, err
}

// contactOptions are the facts of a contact outside its metadata, with
// a resolver of its group members.
func (x *exporter) contactOptions(m *tgz.Meta, group format.Problem) convert.ContactOptions {
	opt := convert.ContactOptions{ItemID: int64(m.ID), AccountID: x.src.AccountID, Tags: m.Tags()}
	if m.ChangeDate > 0 {
		opt.Modified = time.Unix(m.ChangeDate, 0).UTC()
	}
	opt.MemberUID = func(ref string) (string, bool) { return x.memberUID(ref, group) }
	return opt
}

// memberUID resolves a group's member reference (a contact id, or
// "<accountId>:<id>") to the UID of that contact, exported in one pass:
// a contact already exported answers with its UID; any other reference
// gets Zimbra's UID rule (convert.ContactUID), which is right unless the
// contact has a UID of its own. A member of this account not exported yet
// is remembered, and contactExported warns about the group if that
// contact's UID then turns out different.
func (x *exporter) memberUID(ref string, group format.Problem) (string, bool) {
	id := ref
	if acct, rest, ok := strings.Cut(ref, ":"); ok {
		if acct != x.src.AccountID || x.src.AccountID == "" {
			return "", false // another account's contact: its reference is its UID
		}
		id = rest
	}
	n, err := strconv.Atoi(id)
	if err != nil {
		return "", false
	}
	if uid, ok := x.contactUIDs[n]; ok {
		return uid, true
	}
	if _, seen := x.seen[fmt.Sprint("zimbra:", n)]; !seen {
		x.pendingMembers[n] = append(x.pendingMembers[n], group)
	}
	return "", false
}

// contactExported records a contact's UID for the groups after it, when
// it is not the one Zimbra's rule gives (only those need remembering),
// and warns about the groups before it that named it by that rule.
func (x *exporter) contactExported(id int, uid string) {
	rule := convert.ContactUID(x.src.AccountID, int64(id))
	if uid != rule {
		x.contactUIDs[id] = uid
		for _, g := range x.pendingMembers[id] {
			g.Reason = fmt.Sprintf("group member %d has its own UID %q, exported after the group, which names it %q: the member may not resolve on the target", id, uid, rule)
			x.sink.AddWarning(g)
		}
	}
	delete(x.pendingMembers, id)
}
