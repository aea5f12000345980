// Package zimbra exports a Zimbra mailbox from the tgz files Zimbra's REST
// export wrote (zmmailbox -z -m USER getRestURL "//?fmt=tgz", with meta=1
// or meta=0, from ZCS 5 to 10): one file, or several of one user (the root
// export plus /Trash and /Junk, which a plain export leaves out) merged
// into one archive, each item once (an item with meta by its Zimbra id, a
// meta=0 item, which has no id, by its folder and content; two items of
// one file are never taken for one: Zimbra writes each item once, and
// meta=0 names repeat); or from a live Zimbra (Live, RunLive in live.go),
// whose REST exports stream through the same reader as the files,
// straight from the HTTP body (or zmmailbox's output) into the archive.
//
// What it takes from each item (export/zimbra/tgz reads the files):
//
//   - Folders: from the folder .meta entries, every one (empty ones too),
//     under their meta "Path"; items whose folder has no .meta (a queried
//     export) get theirs from their own "Path", and in a meta=0 export from
//     their directory with Zimbra's "!N" split (every 500 items) undone.
//     Zimbra's "/Inbox" is the archive's INBOX. Roles come from the system
//     folder ids (Inbox 2, Trash 3, Junk 4, Sent 5, Drafts 6), or from
//     those folders' fixed names where no .meta says the id; a top-level
//     user folder named like an archive folder gets the archive role.
//     Contacts (7), Emailed Contacts (13), Calendar (10) and Tasks (15) are
//     address books and calendars; Briefcase (16) and Chats (14) are not
//     migrated. Other folders' views (address book, calendar, tasks,
//     mail) and every folder's colour come from their Zimbra metadata
//     (ParseFolderInfo); a folder without one is a mail folder.
//   - Messages: the blob byte for byte, checked against blob_digest while
//     it streams; the received time from the meta "date" (Zimbra's
//     delivery time, not the Date: header); \Seen unless the meta "unread"
//     count says unread (the tar mode only in a meta=0 export, where
//     nothing else says it); \Answered, \Flagged, \Draft, \Deleted,
//     $Forwarded and $MDNSent from "FlagStr" (else the "flags" bits); tags
//     ("TagNames", '\' and ':' escaped) as IMAP keywords; sourceId
//     "zimbra:<id>".
//   - Contacts (vCard 3.0), appointments and tasks (iCalendar), one
//     archive item each in their address book or calendar, converted by
//     export/zimbra/convert: with meta=1 from the metadata and the blob
//     (a contact's photo and attachments, an appointment's invites),
//     the blob read whole through the blob_digest check; with meta=0 the
//     .vcf, .ics and .task entries as they are, once checked. A group's
//     members are named by their contacts' UIDs (pim.go says how, in one
//     pass). What the conversion could not carry is in the item's Notes
//     and a warning; an item that cannot be converted is reported by
//     file, id, folder and subject.
//   - Documents, notes, chats, wiki pages, search folders, mountpoints and
//     comments are counted as not migrated; conversations and tags are not
//     items (tags travel as keywords).
//
// A damaged blob shows only at its end, while the sink reads it: the
// body's last read then fails instead of ending, so the sink writes
// nothing of the item (format.Writer reads an item whole before writing
// it, as export.Sink's contract for a failed body read promises) and
// export.AddItem records it as an error; a copy of the same item in a
// later file can still be exported.
//
// Damage is reported by entry name and the rest exported: a blob that
// does not match its digest or that Zimbra marked with a .err entry, a
// .meta without its blob, a data entry without its .meta, and a file cut
// short (everything after the cut is missing; the other files are still
// read). A live stream cut short, even one that ended cleanly, is not
// damage but a broken transfer (StreamError): the user's export starts
// again, and fails when the tries run out.
package zimbra

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/zimbra/metadata"
	"github.com/mailhaul/mailhaul/export/zimbra/tgz"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/ctxio"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/internal/safetar"
)

// FolderInfo is what a folder's Zimbra metadata says of it.
type FolderInfo struct {
	View  int    // the default view, as an item type byte (tgz.TypeMessage for mail...); 0 unknown
	Color string // "#rrggbb", or ""
}

// folderColors are Zimbra's colour indexes 1 to 9 (common/mailbox/Color.java);
// 0 is the default colour, which says nothing.
var folderColors = []string{"", "#5b9bf2", "#43eded", "#6acb9e", "#ba86e5", "#f66666", "#f8fa33", "#fe98d3", "#bebebe", "#fdbc55"}

// colorRGB marks a colour value that holds an RGB value, not an index.
const colorRGB = 0x01000000

// ParseFolderInfo decodes a folder's Zimbra metadata: its view "vt" (an
// item type byte) and colour "c" (an index into Zimbra's ten colours, or
// an RGB value with colorRGB set).
func ParseFolderInfo(md string) (FolderInfo, error) {
	m, err := metadata.Decode(md)
	if err != nil {
		return FolderInfo{}, err
	}
	var info FolderInfo
	if _, ok := m["vt"]; ok {
		v, ok := m.Int("vt")
		if !ok || v < 0 || v > tgz.TypeLink {
			return FolderInfo{}, fmt.Errorf("view %v is not an item type", m["vt"])
		}
		info.View = int(v)
	}
	if c, ok := m.Int("c"); ok {
		switch {
		case c&colorRGB != 0:
			info.Color = fmt.Sprintf("#%06x", c&0xFFFFFF)
		case c >= 0 && c < int64(len(folderColors)):
			info.Color = folderColors[c]
		}
	}
	return info, nil
}

// Source exports the Zimbra tgz files of one user.
type Source struct {
	Files []string
	// Streams are read after Files, the same way (a live export).
	Streams []Stream
	// AccountID is the account's zimbraId, when known (a live export
	// has it from GetAccountRequest; a tgz does not carry it). It is part
	// of the UID of a contact without one of its own, as in Zimbra's
	// own vCard export.
	AccountID string
}

var _ export.Source = (*Source)(nil)

// Skipped reasons, one per kind of item that is not migrated.
const (
	SkipDuplicate    = "in more than one Zimbra export file (exported once)"
	skipNotMigrated  = "Zimbra %s: not migrated"
	skipConversation = "Zimbra conversation: not an item (its messages are exported)"
	skipTag          = "Zimbra tag: carried as IMAP keywords on its items"
	skipInternal     = "Zimbra internal folder (Tags, Conversations...): not a user folder"
)

// Zimbra's system folder ids (mailbox/Mailbox.java).
const (
	idUserRoot     = 1
	idInbox        = 2
	idTrash        = 3
	idJunk         = 4
	idSent         = 5
	idDrafts       = 6
	idContacts     = 7
	idCalendar     = 10
	idRoot         = 11
	idNotebook     = 12
	idAutoContacts = 13
	idChats        = 14
	idTasks        = 15
	idBriefcase    = 16
)

// systemRoles are the roles of Zimbra's system mail folders, by id and by
// their fixed (never localised) names.
var systemRoles = map[int]format.Role{idInbox: format.RoleInbox, idTrash: format.RoleTrash,
	idJunk: format.RoleJunk, idSent: format.RoleSent, idDrafts: format.RoleDrafts}

var systemNames = map[string]int{"Inbox": idInbox, "Trash": idTrash, "Junk": idJunk, "Sent": idSent,
	"Drafts": idDrafts, "Contacts": idContacts, "Emailed Contacts": idAutoContacts,
	"Calendar": idCalendar, "Tasks": idTasks, "Briefcase": idBriefcase, "Chats": idChats}

// exporter is one run of Export.
type exporter struct {
	ctx     context.Context
	sink    export.Sink
	opt     export.Options
	src     *Source
	file    string
	folders map[string]*folder // by Zimbra path ("/Inbox/Sub"); a folder made beside one of another kind by path + "\x00" + kind
	namer   format.FolderNamer
	seen    seenItems                    // item keys already exported or reported, by the file that had them
	entries map[string]int               // meta=0: the file's data entry names, with how often each came
	damaged map[string]format.Problem    // damaged copies by item key, reported at the end unless a sound copy came
	dmgKeys []string                     // the keys of damaged, in order
	byID    map[int]string               // Zimbra folder paths by id, from folder .meta entries
	observe func(*tgz.Reader, *tgz.Item) // Inspect's look at every item

	contactUIDs    map[int]string           // contacts' own UIDs, where not Zimbra's rule, by id
	pendingMembers map[int][]format.Problem // groups naming a contact not exported yet, by its id
}

// folder is a Zimbra folder as the archive has it.
type folder struct {
	kind format.FolderKind // "" when not migrated
	path string            // the archive path
}

func newExporter(ctx context.Context, sink export.Sink, opt export.Options, s *Source) *exporter {
	return &exporter{ctx: ctx, sink: sink, opt: opt, src: s,
		folders: map[string]*folder{}, damaged: map[string]format.Problem{}, byID: map[int]string{},
		contactUIDs: map[int]string{}, pendingMembers: map[int][]format.Problem{}}
}

// Stream is one Zimbra export read as it arrives (a live server's REST
// answer, zmmailbox's output): Open starts it, and nil with no error is
// an export that matched nothing (HTTP 204).
type Stream struct {
	Name string // for reports: "/Trash?fmt=tgz"
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// Export reads every file, then every stream, in order, through the same
// reader: a file and a stream of the same export give the same archive.
// It fails only when a file cannot be opened or is not a Zimbra export
// at all, a stream broke (retry.IsRetryable: the archive would lack what
// followed the break, so the caller starts the user's export again), the
// sink fails, or ctx is cancelled; damage inside a file is reported and
// the rest exported.
func (s *Source) Export(ctx context.Context, sink export.Sink, opt export.Options) error {
	if opt.State && len(s.Files) > 0 {
		sink.AddWarning(format.Problem{Item: "state record", Reason: fmt.Sprintf(noStateReason, "a tgz file holds what its export selected, not the whole mailbox")})
	}
	return newExporter(ctx, sink, opt, s).exportAll()
}

func (x *exporter) exportAll() error {
	defer x.reportDamaged()
	for _, f := range x.src.Files {
		if err := x.exportFile(f); err != nil {
			return err
		}
	}
	for _, st := range x.src.Streams {
		rc, err := st.Open(x.ctx)
		if err != nil {
			return fmt.Errorf("zimbra: %s: %w", st.Name, err)
		}
		if rc == nil {
			continue // matched nothing
		}
		err = x.exportStream(st.Name, st.Name, rc, true)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (x *exporter) exportFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("zimbra: %w", err)
	}
	defer f.Close()
	return x.exportStream(name, filepath.Base(name), f, false)
}

// brokenStream is the error a stream itself failed with, when it is
// one a fresh try may cure (a live transfer that died): the reader then
// sees a cut archive, which in a file is damage to report, but from a
// live server is a failed transfer to repeat.
type brokenStream struct {
	r   io.Reader
	err error
}

func (b *brokenStream) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF && b.err == nil && retry.IsRetryable(err) {
		b.err = err
	}
	return n, err
}

// exportStream reads one Zimbra export, named name in errors and short
// in problems. live is a stream from a server (or zmmailbox): one that
// ends before its tar end, even cleanly, is a broken transfer
// (StreamError), not a damaged file. Zimbra sends no length, the close
// marks the end, and a proxy in front of a mailboxd that died closes
// its own reply normally, so only the archive's own end tells.
func (x *exporter) exportStream(name, short string, in io.Reader, live bool) error {
	x.file = short
	x.seen.nextFile()
	x.entries = map[string]int{}
	src := &brokenStream{r: in}
	r, err := tgz.NewReader(ctxio.NewReader(x.ctx, src), name, nil)
	if src.err != nil {
		return &StreamError{Err: fmt.Errorf("zimbra: %s: %w", name, src.err)}
	}
	if err != nil {
		if x.ctx.Err() != nil {
			return x.ctx.Err()
		}
		if live && errors.Is(err, safetar.ErrTruncated) {
			return cutStream(name, err)
		}
		return fmt.Errorf("zimbra: %s is not a Zimbra export: %w", name, err)
	}
	defer r.Close()
	for n := 0; ; n++ {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		it, err := r.Next()
		if src.err != nil {
			// The body of the item before, or this entry, met the break.
			return &StreamError{Err: fmt.Errorf("zimbra: %s: %w", name, src.err)}
		}
		if err == io.EOF {
			return nil
		}
		var te *tgz.Error
		if errors.Is(err, tgz.ErrDamaged) && errors.As(err, &te) {
			x.sink.AddError(format.Problem{Item: x.file + ": " + te.Entry, Reason: damage(te)})
			continue
		}
		if err != nil {
			if x.ctx.Err() != nil {
				return x.ctx.Err()
			}
			if live && !r.Ended() {
				return cutStream(name, err)
			}
			if n == 0 {
				return fmt.Errorf("zimbra: %s is not a Zimbra export, or is cut before its first item: %w", name, err)
			}
			switch {
			case r.Ended() && errors.Is(err, safetar.ErrTruncated):
				// Nothing is missing but the trailer that checks it.
				x.sink.AddWarning(format.Problem{Item: x.file, Reason: "the file is cut after the end of its tar stream: every item was read, " +
					"but the compressed stream's own checksum is missing (items with a blob_digest were checked against it): " + err.Error()})
			case r.Ended():
				x.sink.AddError(format.Problem{Item: x.file, Reason: "every item was read, but the file's compressed stream fails its own check, " +
					"so some data read may be damaged (items with a blob_digest were checked against it): " + err.Error()})
			default:
				x.sink.AddError(format.Problem{Item: x.file, Reason: "the export ends early, the items after the last one read are missing: " + err.Error()})
			}
			return nil
		}
		if n == 0 && it.Meta == nil && it.Type == 0 {
			// Neither a .meta nor a Zimbra type: another tool's tar.
			return fmt.Errorf("zimbra: %s is not a Zimbra export: its first entry %q has no .meta and no Zimbra item type", name, it.Entry)
		}
		if n == 0 && !r.HasMeta() {
			x.sink.AddWarning(format.Problem{Item: x.file, Reason: "a meta=0 export: it holds no folder records (empty folders are missing), " +
				"no flags or tags, and no read state beyond the entry mode (Zimbra writes it only on .meta entries), so messages are exported as read; export with meta=1 to keep them"})
		}
		if x.observe != nil {
			x.observe(r, it)
		}
		if err := x.item(it); err != nil {
			return err
		}
	}
}

// cutStream is a live stream that ended before its archive did.
func cutStream(name string, err error) error {
	return &StreamError{Err: fmt.Errorf("zimbra: %s: the stream ended before the archive did (the server or zmmailbox stopped mid-way): %w", name, err)}
}

// item exports or reports one item.
func (x *exporter) item(it *tgz.Item) error {
	m := it.Meta
	switch it.Type {
	case tgz.TypeFolder:
		if m != nil {
			return x.folderByMeta(m)
		}
		return nil
	case tgz.TypeTag:
		x.sink.AddSkipped(skipTag, 1)
		return nil
	case tgz.TypeConversation, tgz.TypeVirtualConv:
		x.sink.AddSkipped(skipConversation, 1)
		return nil
	case tgz.TypeMessage, tgz.TypeContact, tgz.TypeAppointment, tgz.TypeTask:
	default:
		x.sink.AddSkipped(fmt.Sprintf(skipNotMigrated, tgz.TypeName(it.Type)), 1)
		return nil
	}
	zp := x.zimbraPath(it)
	key := ""
	if m != nil {
		key = x.sourceID(it)
		if x.duplicate(key) {
			x.sink.AddSkipped(SkipDuplicate, 1)
			return nil
		}
		x.seen.mark(key)
	} else {
		x.entries[it.Entry]++
	}
	if it.Type != tgz.TypeMessage {
		return x.pimItem(it, zp, key)
	}
	f, err := x.kindFolder(zp, format.FolderMail)
	if err != nil {
		return err
	}
	received := it.ModTime.UTC()
	if m != nil {
		received = m.Received()
	}
	if !x.opt.Keep(received) {
		x.sink.AddSkipped(export.SkipBeforeCutoff, 1)
		return nil
	}
	if it.Body == nil {
		x.sink.AddError(format.Problem{Folder: f.path, Item: x.file + ": " + it.Entry, Reason: "message without data"})
		return nil
	}
	flags, notes := messageFlags(it)
	fi := format.Item{Kind: format.KindMessage, Folder: f.path, Flags: flags, Received: received,
		SourceID: x.sourceID(it), Notes: notes}
	if m == nil {
		// Known by its content only at its end: the copy of another file
		// fails its last read, so the sink writes nothing of it, and
		// counts as a duplicate, not an error.
		body := &noMetaCopy{x: x, zp: zp, r: it.Body, h: sha256.New()}
		return export.AddItem(duplicateSink{x.sink, body}, fi, x.file+": "+it.Entry, body)
	}
	body := &failRecorder{r: it.Body}
	hold := &holdSink{Sink: x.sink}
	if err := export.AddItem(hold, fi, x.file+": "+it.Entry, body); err != nil {
		return err
	}
	if hold.problem != nil {
		if te := (*tgz.Error)(nil); errors.As(body.err, &te) {
			hold.problem.Reason = "read: " + damage(te) // the item names file and entry already
		}
		x.holdDamaged(key, *hold.problem)
		return nil
	}
	x.landed(key)
	return nil
}

// damage is what a tgz error says, without the file and entry the
// problem names.
func damage(te *tgz.Error) string {
	return strings.TrimPrefix(te.Err.Error(), tgz.ErrDamaged.Error()+": ")
}

// holdDamaged keeps the problem of an item's damaged copy: a sound copy
// in a later file may still be exported, and then it is a warning.
func (x *exporter) holdDamaged(key string, p format.Problem) {
	x.seen.forget(key)
	if _, ok := x.damaged[key]; !ok {
		x.dmgKeys = append(x.dmgKeys, key)
	}
	x.damaged[key] = p
}

// landed notes that the item of key was exported: a damaged copy read
// before is now a warning.
func (x *exporter) landed(key string) {
	p, ok := x.damaged[key]
	if !ok {
		return
	}
	delete(x.damaged, key)
	p.Reason = fmt.Sprintf("a damaged copy, not exported (%s); the sound copy in %s was exported", p.Reason, x.file)
	x.sink.AddWarning(p)
}

// reportDamaged reports the damaged copies no sound copy replaced.
func (x *exporter) reportDamaged() {
	for _, k := range x.dmgKeys {
		if p, ok := x.damaged[k]; ok {
			x.sink.AddError(p)
		}
	}
	x.damaged, x.dmgKeys = map[string]format.Problem{}, nil
}

// holdSink keeps the problem export.AddItem reports for an item whose
// body failed, for the caller to decide on.
type holdSink struct {
	export.Sink
	problem *format.Problem
}

func (s *holdSink) AddError(p format.Problem) { s.problem = &p }

// duplicate reports whether the item of key came in an earlier file.
// Zimbra writes each item once in a file, so two items of one file are
// never one: meta=0 names repeat (ZCS 5 names a message by its subject
// alone; the File-As of two contacts in "Contacts" and "Contacts!1" may
// be the same) and so can contents.
func (x *exporter) duplicate(key string) bool {
	return x.seen.inEarlierFile(key)
}

// noMetaKey is the key of a meta=0 item, which has no id: its folder and
// its content's SHA-256.
func noMetaKey(zp string, sum []byte) string {
	return fmt.Sprintf("zimbra0:%s\x00%x", zp, sum)
}

// errDuplicate ends the body of a meta=0 copy of an item an earlier file
// had.
var errDuplicate = errors.New("the same item in an earlier file")

// noMetaCopy is the body of a meta=0 message: at its end, the copy of an
// item an earlier file had fails with errDuplicate, any other is
// remembered under its key.
type noMetaCopy struct {
	x   *exporter
	zp  string
	r   io.Reader
	h   hash.Hash
	dup bool
}

func (c *noMetaCopy) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	if err == io.EOF {
		key := noMetaKey(c.zp, c.h.Sum(nil))
		if c.x.duplicate(key) {
			c.dup = true
			return n, errDuplicate
		}
		c.x.seen.mark(key)
	}
	return n, err
}

// duplicateSink counts the failed read of a duplicate copy as a skip.
type duplicateSink struct {
	export.Sink
	body *noMetaCopy
}

func (s duplicateSink) AddError(p format.Problem) {
	if s.body.dup {
		s.Sink.AddSkipped(SkipDuplicate, 1)
		return
	}
	s.Sink.AddError(p)
}

// failRecorder keeps the first error of its reader.
type failRecorder struct {
	r   io.Reader
	err error
}

func (f *failRecorder) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err != nil && err != io.EOF && f.err == nil {
		f.err = err
	}
	return n, err
}

// sourceID is "zimbra:<id>", or in a meta=0 export "zimbra:/" and the
// entry name (which carries the id from ZCS 8 on), with "#N" for the Nth
// entry of that name in the file (ZCS 5 names messages by subject alone),
// so that no two items of a file share one.
func (x *exporter) sourceID(it *tgz.Item) string {
	if it.Meta != nil {
		return fmt.Sprint("zimbra:", it.Meta.ID)
	}
	id := "zimbra:/" + it.Entry
	if n := x.entries[it.Entry]; n > 1 {
		id += fmt.Sprint("#", n)
	}
	return id
}

// splitDir is the "!N" suffix Zimbra adds to a directory every 500 items.
var splitDir = regexp.MustCompile(`![0-9]+$`)

// zimbraPath is the Zimbra path of the item's folder: from the meta Path
// ("/Inbox/" or "/Briefcase/name"), else its folder's .meta by folder_id,
// else the entry's directory with the "!N" split undone.
func (x *exporter) zimbraPath(it *tgz.Item) string {
	if it.Meta != nil && strings.HasPrefix(it.Meta.Path, "/") {
		p := it.Meta.Path[:strings.LastIndexByte(it.Meta.Path, '/')]
		if p == "" {
			return "/"
		}
		return p
	}
	if it.Meta != nil && x.byID[it.Meta.FolderID] != "" {
		return x.byID[it.Meta.FolderID]
	}
	dir := path.Dir(it.Entry)
	if dir == "." {
		return "/"
	}
	return "/" + splitDir.ReplaceAllString(dir, "")
}

// kindFolder is the folder of kind for an item, added to the sink on
// first use: the folder its .meta described, or one made from its path (a
// queried export has no folder entries; a message may sit in a folder
// that is not mail, say Briefcase, and a contact in a mail folder).
func (x *exporter) kindFolder(zp string, kind format.FolderKind) (*folder, error) {
	if f := x.folders[zp]; f != nil && f.kind == kind {
		return f, nil
	}
	other := zp + "\x00" + string(kind) // beside a folder of another kind
	if f := x.folders[other]; f != nil {
		return f, nil
	}
	key := zp
	id := 0
	if !strings.Contains(zp[1:], "/") {
		id = systemNames[zp[1:]]
	}
	if x.folders[zp] != nil || id != 0 && kindOf(id, 0) != kind {
		key, id = other, 0
	}
	role := format.RoleNone
	if kind == format.FolderMail {
		role = roleOf(id, zp)
	}
	return x.addFolder(key, zp, kind, role, "")
}

// folderByMeta adds the folder a folder .meta describes, unless a file
// read before described it already. Folders of documents, chats and wiki
// pages are counted as not migrated.
func (x *exporter) folderByMeta(m *tgz.Meta) error {
	zp := m.Path
	if m.ID == idRoot || m.ID == idUserRoot || !strings.HasPrefix(zp, "/") || zp == "/" {
		return nil
	}
	if m.ParentID == idRoot || m.FolderID == idRoot {
		// Below ROOT, beside USER_ROOT: Zimbra's own hidden folders
		// (Tags, Conversations, Comments, Profile...), never the user's.
		x.sink.AddSkipped(skipInternal, 1)
		return nil
	}
	x.byID[m.ID] = zp
	if x.folders[zp] != nil {
		return nil
	}
	var info FolderInfo
	if m.Metadata != "" {
		var err error
		if info, err = ParseFolderInfo(m.Metadata); err != nil {
			x.sink.AddWarning(format.Problem{Folder: archivePath(zp), Item: "folder metadata", Reason: "view and colour unknown: " + err.Error()})
		}
	}
	kind := kindOf(m.ID, info.View)
	if kind == "" {
		x.folders[zp] = &folder{path: archivePath(zp)}
		x.sink.AddSkipped(fmt.Sprintf(skipNotMigrated, "folder of documents, chats or wiki pages"), 1)
		return nil
	}
	_, err := x.addFolder(zp, zp, kind, roleOf(m.ID, zp), info.Color)
	return err
}

// kindOf is the archive kind of a folder by its id or view; "" is a folder
// of documents, chats or wiki pages, not migrated.
func kindOf(id, view int) format.FolderKind {
	switch id {
	case idContacts, idAutoContacts:
		return format.FolderContacts
	case idCalendar, idTasks:
		return format.FolderCalendar
	case idBriefcase, idChats, idNotebook:
		return ""
	}
	switch view {
	case tgz.TypeContact:
		return format.FolderContacts
	case tgz.TypeAppointment, tgz.TypeTask:
		return format.FolderCalendar
	case tgz.TypeDocument, tgz.TypeWiki, tgz.TypeChat:
		return ""
	}
	return format.FolderMail
}

// roleOf is a mail folder's role: a system folder's by id (or, without
// one, by its fixed name), the archive role by name for a top-level user
// folder (Zimbra has no archive folder of its own).
func roleOf(id int, zp string) format.Role {
	if r, ok := systemRoles[id]; ok {
		return r
	}
	top := !strings.Contains(zp[1:], "/")
	if id == 0 && top {
		if r, ok := systemRoles[systemNames[zp[1:]]]; ok {
			return r
		}
	}
	if top && (id == 0 || id >= 256) && export.RoleForName(zp[1:]) == format.RoleArchive {
		return format.RoleArchive
	}
	return format.RoleNone
}

// archivePath is the archive path of a Zimbra folder path: "/Inbox/Sub"
// is "INBOX/Sub".
func archivePath(zp string) string {
	p := strings.TrimPrefix(zp, "/")
	if p == "Inbox" || strings.HasPrefix(p, "Inbox/") {
		p = "INBOX" + p[len("Inbox"):]
	}
	return p
}

// addFolder adds the Zimbra folder zp to the sink under a safe archive
// path, remembered under key.
func (x *exporter) addFolder(key, zp string, kind format.FolderKind, role format.Role, color string) (*folder, error) {
	p := archivePath(zp)
	safe, note := export.SafeFolderPath(&x.namer, p)
	ff := format.Folder{Kind: kind, Path: safe, Role: role, Subscribed: kind == format.FolderMail}
	if kind != format.FolderMail {
		ff.DisplayName, ff.Color = path.Base(p), color
	}
	if note != "" {
		ff.Notes = []string{note}
		x.sink.AddWarning(format.Problem{Folder: safe, Item: "folder", Reason: note})
	}
	if err := x.sink.AddFolder(ff); err != nil {
		return nil, err
	}
	f := &folder{kind: kind, path: safe}
	x.folders[key] = f
	return f, nil
}

// Flag bits of the .meta "flags" (1 << (-id - 1), mailbox/Flag.java).
const (
	bitReplied   = 1 << 2
	bitForwarded = 1 << 3
	bitFlagged   = 1 << 5
	bitDraft     = 1 << 6
	bitDeleted   = 1 << 7
	bitNotified  = 1 << 8
)

// imapFlags maps Zimbra's flag letters and bits to IMAP flags, as Zimbra's
// own IMAP server shows them. Sent, attached, priority, invite and popped
// are derived from the message or Zimbra's own and have no IMAP flag.
var imapFlags = []struct {
	letter byte
	bit    int
	flag   string
}{
	{'r', bitReplied, `\Answered`}, {'f', bitFlagged, `\Flagged`}, {'d', bitDraft, `\Draft`},
	{'x', bitDeleted, `\Deleted`}, {'w', bitForwarded, "$Forwarded"}, {'n', bitNotified, "$MDNSent"},
}

// messageFlags are a message's IMAP flags and keywords, with notes on
// tags that had to change to be keywords.
func messageFlags(it *tgz.Item) ([]string, []string) {
	m := it.Meta
	if m == nil {
		if it.Mode&0o200 != 0 { // meta=0: only the mode says unread
			return []string{`\Seen`}, nil
		}
		return nil, nil
	}
	return zimbraFlags(m.Unread == 0, m.FlagStr, m.Flags, m.Tags())
}

// zimbraFlags maps Zimbra's flags (its letters, else its bits) and tags
// to IMAP flags and keywords, with notes on tags that had to change to be
// keywords: the one mapping of a .meta's and of a SearchRequest hit's.
func zimbraFlags(seen bool, letters string, bits int, tags []string) ([]string, []string) {
	var flags, notes []string
	if seen {
		flags = append(flags, `\Seen`)
	}
	for _, f := range imapFlags {
		if letters != "" && strings.IndexByte(letters, f.letter) >= 0 || letters == "" && bits&f.bit != 0 {
			flags = append(flags, f.flag)
		}
	}
	for _, tag := range tags {
		kw := export.KeywordAtom(tag)
		if kw != tag {
			notes = append(notes, fmt.Sprintf("tag %q is not an IMAP atom; kept as keyword %q", tag, kw))
		}
		if !slices.Contains(flags, kw) {
			flags = append(flags, kw)
		}
	}
	return flags, notes
}
