// Package zimbratest fakes Zimbra for tests, built from the notes on its
// export: Writer writes archives as Zimbra's REST export (?fmt=tgz, the
// ArchiveFormatter of zm-mailbox) writes them, quirks included, and
// Server (server*.go) answers its SOAP calls (JSON form) and REST URLs as
// ZCS 8-10 does, so export/zimbra is tested against the real layout and
// protocol without a Zimbra server.
package zimbratest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// Zimbra's item type bytes (mailbox/MailItem.java); each is an entry's
// devmajor and the .meta "type".
const (
	TypeFolder       byte = 1
	TypeSearchFolder byte = 2
	TypeTag          byte = 3
	TypeConversation byte = 4
	TypeMessage      byte = 5
	TypeContact      byte = 6
	TypeDocument     byte = 8
	TypeNote         byte = 9
	TypeAppointment  byte = 11
	TypeMountpoint   byte = 13
	TypeWiki         byte = 14
	TypeTask         byte = 15
	TypeChat         byte = 16
)

// typeNames are the gnames ZCS 8 and later write (MailItem.Type.toString:
// the enum name in lower case).
var typeNames = map[byte]string{
	TypeFolder: "folder", TypeSearchFolder: "searchfolder", TypeTag: "tag",
	TypeConversation: "conversation", TypeMessage: "message", TypeContact: "contact",
	TypeDocument: "document", TypeNote: "note", TypeAppointment: "appointment",
	TypeMountpoint: "mountpoint", TypeWiki: "wiki", TypeTask: "task", TypeChat: "chat",
}

// Flag bits of the .meta "flags" bitmask: 1 << (-id - 1) of
// mailbox/Flag.java's ids. The unread bit is never in "flags" (Zimbra keeps
// it as the "unread" count) but is in "FlagStr" as 'u'.
const (
	FlagSent      = 1 << 0
	FlagAttached  = 1 << 1
	FlagReplied   = 1 << 2
	FlagForwarded = 1 << 3
	FlagFlagged   = 1 << 5
	FlagDraft     = 1 << 6
	FlagDeleted   = 1 << 7
	FlagNotified  = 1 << 8
	FlagUnread    = 1 << 9
	FlagHigh      = 1 << 10
	FlagLow       = 1 << 11
	FlagInvite    = 1 << 23
)

// flagLetters are the letters of FlagStr in Flag.toString's order.
var flagLetters = []struct {
	bit    int
	letter byte
}{
	{FlagSent, 's'}, {FlagAttached, 'a'}, {FlagReplied, 'r'}, {FlagForwarded, 'w'},
	{FlagFlagged, 'f'}, {FlagDraft, 'd'}, {FlagDeleted, 'x'}, {FlagNotified, 'n'},
	{FlagUnread, 'u'}, {FlagHigh, '!'}, {FlagLow, '?'}, {1 << 14, 'p'}, {FlagInvite, 'v'},
}

// idUnread is Flag.ID_UNREAD (-10). ArchiveFormatter tests the flag
// bitmask against the id instead of the bit, so nearly every flag marks an
// entry "unread" (mode 0444): that quirk is reproduced.
const idUnread = -10

// Style is the naming of a Zimbra release.
type Style int

const (
	// ZCS8 is ZCS 8 to 10: names carry a "%010d-" id prefix, the roots are
	// 0000000011-ROOT.meta and 0000000001-USER_ROOT.meta.
	ZCS8 Style = iota
	// ZCS5 is ZCS 5 and 6: no id prefix, ROOT.meta and USER_ROOT.meta,
	// "search folder" as a gname, conversation entries.
	ZCS5
)

// Digest is the algorithm of an item's blob_digest.
type Digest int

const (
	SHA256   Digest = iota // newer items
	SHA1                   // items stored before the switch to SHA-256
	NoDigest               // an item without blob_digest
)

// Options say how a Writer writes.
type Options struct {
	NoMeta bool // meta=0: plain .eml/.vcf/.ics/.task entries, no .meta, no folders
	Style  Style
}

// Item is one Zimbra item: a folder, tag or search folder, a message, a
// contact, an appointment, a task, a document...
type Item struct {
	ID   int
	Type byte
	// Folder is the Zimbra path of the folder holding the item ("/Inbox",
	// "/" at the top), FolderID its id; ParentID defaults to FolderID.
	Folder   string
	FolderID int
	ParentID int
	Name     string // folders, tags, search folders, documents
	Subject  string // messages, appointments, tasks (Zimbra's normalized subject)
	FileAs   string // contacts: their entry name
	Date     time.Time
	// ApptStart is an appointment's first instance (Zimbra's appt-start;
	// zero: its Date). A start= export selects appointments by it.
	ApptStart time.Time
	Flags     int // without FlagUnread
	Unread    int // the unread count: 1 for an unread message
	Tags      []string
	Metadata  string // Zimbra's encoded Metadata, written as given
	UUID      string
	Sender    string
	Extra     string // ExtraStr ("calendar=<id>" on invites)
	// Blob is the data entry; nil writes the .meta alone (folders, most
	// contacts, calendar items without attachments).
	Blob   []byte
	Digest Digest

	// NoPath leaves "Path" out of the .meta, as a reader must expect of
	// a release or tool that does not write it.
	NoPath bool

	// Faults, as a damaged mailbox store gives them.
	BadDigest bool // blob_digest is of other bytes
	NoData    bool // the data entry is missing after the .meta
	// Short is how many bytes the blob store lacks: Zimbra pads the entry
	// with spaces to the recorded size and follows it with a 0-byte
	// "<entry>.err" (ArchiveFormatter.saveItem).
	Short int
}

// Path is the item's Zimbra path, the .meta "Path": "/Inbox" for a
// folder, "/Inbox/" for a message, "/Briefcase/favicon.ico" for a document.
func (it *Item) Path() string {
	base := strings.TrimSuffix(it.Folder, "/")
	switch it.Type {
	case TypeMessage, TypeContact, TypeConversation:
		return base + "/"
	}
	if it.isRoot() {
		return "/"
	}
	return base + "/" + it.Name
}

const (
	userRootID = 1
	rootID     = 11
)

func (it *Item) isRoot() bool {
	return it.Type == TypeFolder && (it.ID == rootID || it.ID == userRootID)
}

// FlagStr is the .meta FlagStr: the flag letters, 'u' when unread.
func (it *Item) FlagStr() string {
	bits := it.Flags
	if it.Unread > 0 {
		bits |= FlagUnread
	}
	var b strings.Builder
	for _, f := range flagLetters {
		if bits&f.bit != 0 {
			b.WriteByte(f.letter)
		}
	}
	return b.String()
}

// TagNames is the .meta TagNames: names joined by ':', each '\' and ':'
// escaped by '\' (ItemData.getTagString).
func TagNames(tags []string) string {
	esc := make([]string, len(tags))
	for i, t := range tags {
		esc[i] = strings.ReplaceAll(strings.ReplaceAll(t, `\`, `\\`), ":", `\:`)
	}
	return strings.Join(esc, ":")
}

// BlobDigest is Zimbra's digest of b: base64 of the SHA-1 or SHA-256,
// with '/' replaced by ',' (ByteUtil.encodeFSSafeBase64).
func BlobDigest(d Digest, b []byte) string {
	var sum []byte
	switch d {
	case SHA1:
		s := sha1.Sum(b)
		sum = s[:]
	case SHA256:
		s := sha256.Sum256(b)
		sum = s[:]
	default:
		return ""
	}
	return strings.ReplaceAll(base64.StdEncoding.EncodeToString(sum), "/", ",")
}

// meta is the .meta JSON (service/util/ItemData.toJSON), fields in its
// order; the optional ones are left out when empty, as putOpt does.
type meta struct {
	ID          int    `json:"id"`
	UUID        string `json:"uuid,omitempty"`
	Type        byte   `json:"type"`
	ParentID    int    `json:"parent_id"`
	FolderID    int    `json:"folder_id"`
	IndexID     int    `json:"index_id"`
	IMAPID      int    `json:"imap_id"`
	Date        int64  `json:"date"`
	Size        int64  `json:"size"`
	VolumeID    int    `json:"volume_id"`
	BlobDigest  string `json:"blob_digest,omitempty"`
	Unread      int    `json:"unread"`
	Flags       int    `json:"flags"`
	Subject     string `json:"subject,omitempty"`
	Name        string `json:"name,omitempty"`
	Metadata    string `json:"metadata,omitempty"`
	ModMetadata int    `json:"mod_metadata"`
	ChangeDate  int64  `json:"change_date"`
	ModContent  int    `json:"mod_content"`
	Sender      string `json:"sender,omitempty"`
	ExtraStr    string `json:"ExtraStr,omitempty"`
	FlagStr     string `json:"FlagStr,omitempty"`
	Path        string `json:"Path,omitempty"`
	TagNames    string `json:"TagNames,omitempty"`
	Ver         int    `json:"Ver"`
}

// Writer writes one Zimbra export as a gzip-compressed tar stream. It keeps
// ArchiveFormatter's state: each folder's directory and item count (for
// the "!N" split every 500 items) and, for contacts, the names used.
type Writer struct {
	opt    Options
	gz     *gzip.Writer
	tw     *tar.Writer
	dirs   map[int]string // folder id -> directory in the archive
	counts map[int]int    // folder id -> entries counted, as saveItem counts
	names  map[string]bool
	err    error
}

// NewWriter starts an export on w.
func NewWriter(w io.Writer, opt Options) *Writer {
	gz := gzip.NewWriter(w)
	return &Writer{opt: opt, gz: gz, tw: tar.NewWriter(gz),
		dirs: map[int]string{}, counts: map[int]int{}, names: map[string]bool{}}
}

// Add writes one item: its .meta entry (meta=1), then its data entry when
// it has one, then the .err entry of a short blob.
func (w *Writer) Add(it Item) error {
	if w.err != nil {
		return w.err
	}
	if it.ParentID == 0 {
		it.ParentID = it.FolderID
	}
	name := w.entryName(&it)
	if w.opt.NoMeta {
		switch it.Type {
		case TypeFolder, TypeSearchFolder, TypeTag, TypeMountpoint, TypeConversation:
			return nil // no .meta, no data: meta=0 archives hold no folders
		}
	} else {
		js, err := w.meta(&it)
		if err != nil {
			return w.fail(err)
		}
		mode := int64(0o100644)
		if it.Type == TypeMessage && w.bits(&it)&idUnread != 0 {
			mode = 0o100444
		}
		if err := w.entry(&it, name+".meta", mode, js); err != nil {
			return err
		}
	}
	if it.Blob == nil || it.NoData {
		return nil
	}
	data := it.Blob
	if it.Short > 0 {
		data = append(bytes.Clone(it.Blob[:len(it.Blob)-it.Short]), bytes.Repeat([]byte(" "), it.Short)...)
	}
	if err := w.entry(&it, name, 0o100644, data); err != nil {
		return err
	}
	if it.Short > 0 {
		return w.entry(&it, name+".err", 0o100644, nil)
	}
	return nil
}

// bits is the item's flag bitmask with the unread bit, as getFlagBitmask.
func (w *Writer) bits(it *Item) int {
	if it.Unread > 0 {
		return it.Flags | FlagUnread
	}
	return it.Flags
}

func (w *Writer) meta(it *Item) ([]byte, error) {
	m := meta{
		ID: it.ID, UUID: it.UUID, Type: it.Type, ParentID: it.ParentID, FolderID: it.FolderID,
		IMAPID: it.ID, Date: it.Date.Unix(), Size: int64(len(it.Blob)), Unread: it.Unread,
		Flags: it.Flags, Subject: it.Subject, Name: it.Name, Metadata: it.Metadata,
		ModMetadata: it.ID + 100, ChangeDate: it.Date.Unix(), ModContent: it.ID + 100,
		Sender: it.Sender, ExtraStr: it.Extra, FlagStr: it.FlagStr(), Path: it.Path(),
		TagNames: TagNames(it.Tags), Ver: 10,
	}
	if it.NoPath {
		m.Path = ""
	}
	if it.Type == TypeContact && m.Name == "" {
		m.Name = it.FileAs
	}
	if it.Blob != nil {
		b := it.Blob
		if it.BadDigest {
			b = append(bytes.Clone(b), 'x')
		}
		m.BlobDigest = BlobDigest(it.Digest, b)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil // one line, no newline
}

func (w *Writer) entry(it *Item, name string, mode int64, data []byte) error {
	gname := typeNames[it.Type]
	if w.opt.Style == ZCS5 && it.Type == TypeSearchFolder {
		gname = "search folder"
	}
	hdr := &tar.Header{
		Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)),
		ModTime: time.Unix(it.Date.Unix(), 0), Gname: gname, Devmajor: int64(it.Type),
		Format: tar.FormatUSTAR,
	}
	if len(name) > 100 || !isASCII(name) {
		// Zimbra's tar writes a ././@LongLink entry (type L) for longer
		// names, and a name's UTF-8 bytes as they are in the header
		// (no PAX record): Go's writer does both in the GNU format only.
		hdr.Format = tar.FormatGNU
	}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return w.fail(err)
	}
	if _, err := w.tw.Write(data); err != nil {
		return w.fail(err)
	}
	return nil
}

// illegalFolder and illegalFile are ArchiveFormatter's ILLEGAL_FOLDER_CHARS
// and ILLEGAL_FILE_CHARS.
var (
	illegalFolder = strings.NewReplacer(":", "_", "*", "_", "?", "_", `"`, "_", "<", "_", ">", "_", "|", "_", "\x00", "_")
	illegalFile   = strings.NewReplacer("/", "_", ":", "_", "*", "_", "?", "_", `"`, "_", "<", "_", ">", "_", "|", "_", "\x00", "_")
)

// entryName is the data entry's name (the .meta adds ".meta"), as
// saveItem and getEntryName make it.
func (w *Writer) entryName(it *Item) string {
	dir, seen := w.dirs[it.FolderID]
	if !seen {
		dir = illegalFolder.Replace(strings.TrimPrefix(it.Folder, "/"))
		w.dirs[it.FolderID] = dir
		w.counts[it.FolderID] = 1
	} else if !isFolder(it.Type) {
		w.counts[it.FolderID]++
		if n := w.counts[it.FolderID] / 500; n > 0 {
			dir = fmt.Sprintf("%s!%d", dir, n)
		}
	}
	join := func(name string) string {
		if dir == "" {
			return name
		}
		return dir + "/" + name
	}
	ext := ""
	name := ""
	switch it.Type {
	case TypeMessage:
		ext = ".eml"
	case TypeAppointment:
		ext = ".appt"
		if w.opt.NoMeta {
			ext = ".ics"
		}
	case TypeTask:
		ext = ".task" // iCalendar inside with meta=0 too
	case TypeNote:
		ext = ".note"
	case TypeChat:
		ext = ".chat"
	case TypeWiki:
		ext = ".wiki"
	case TypeContact:
		// File-As, unique case-insensitively, neither sanitized nor cut:
		// a '/' in it makes a directory.
		if w.opt.NoMeta {
			ext = ".vcf"
		}
		for n := 0; ; n++ {
			p := join(it.FileAs)
			if n > 0 {
				p += fmt.Sprintf("-%02d", n)
			}
			p += ext
			if !w.names[strings.ToLower(p)] {
				w.names[strings.ToLower(p)] = true
				return p
			}
		}
	}
	switch {
	case it.Type == TypeFolder && it.ID == rootID:
		name = "ROOT"
	case it.Type == TypeFolder && it.ID == userRootID:
		name = "USER_ROOT"
	case it.Name != "":
		name = it.Name
	default:
		name = it.Subject
	}
	prefix := w.opt.Style == ZCS8 && it.Type != TypeDocument
	if prefix && name != "" {
		name = fmt.Sprintf("%010d-%s", it.ID, name)
	}
	if name == "" {
		name = fmt.Sprintf("%s-%d", typeNames[it.Type], it.ID)
	} else if len([]rune(name)) > 121 {
		name = string([]rune(name)[:120]) // Java cuts UTF-16 units; the same for these tests' names
	}
	name = strings.TrimSpace(illegalFile.Replace(name))
	for strings.HasSuffix(name, ".") {
		name = strings.TrimSpace(strings.TrimSuffix(name, "."))
	}
	return join(name) + ext
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func isFolder(t byte) bool {
	return t == TypeFolder || t == TypeSearchFolder || t == TypeMountpoint
}

func (w *Writer) fail(err error) error {
	w.err = fmt.Errorf("zimbratest: %w", err)
	return w.err
}

// Close ends the tar stream and the gzip member, as the formatter's
// finally block does even when items failed. It does not close the
// underlying writer.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if err := w.tw.Close(); err != nil {
		return w.fail(err)
	}
	return w.gz.Close()
}

// Build writes items as one export and returns its bytes.
func Build(t testing.TB, opt Options, items ...Item) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf, opt)
	for _, it := range items {
		if err := w.Add(it); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// SystemFolders are the folders every Zimbra mailbox has, as a full
// export (no query) writes them first: the roots, then the system
// folders sorted by path. Their metadata (view, colour) is left empty.
func SystemFolders() []Item {
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	f := func(id int, name string) Item {
		return Item{ID: id, Type: TypeFolder, Folder: "/", FolderID: userRootID, Name: name, Date: at}
	}
	return []Item{
		{ID: rootID, Type: TypeFolder, Folder: "/", FolderID: rootID, Date: at},
		{ID: userRootID, Type: TypeFolder, Folder: "/", FolderID: rootID, Date: at},
		f(16, "Briefcase"), f(10, "Calendar"), f(14, "Chats"), f(7, "Contacts"), f(6, "Drafts"),
		f(13, "Emailed Contacts"), f(2, "Inbox"), f(4, "Junk"), f(5, "Sent"), f(15, "Tasks"), f(3, "Trash"),
	}
}

// RawEntry is one tar entry of an export, header and data, for tests
// that take exports apart and put them together differently (an entry
// dropped, two exports joined) with Entries and Rewrite.
type RawEntry struct {
	Header *tar.Header
	Data   []byte
}

// Entries reads an export's entries.
func Entries(t testing.TB, export []byte) []RawEntry {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(export))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var out []RawEntry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, RawEntry{h, data})
	}
}

// Rewrite writes entries as one export.
func Rewrite(t testing.TB, entries []RawEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		if err := tw.WriteHeader(e.Header); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Message is a small message item in folder (its Zimbra path and id),
// received at date, with a body naming its id and subject.
func Message(id int, folder string, folderID int, subject string, date time.Time) Item {
	return Item{ID: id, Type: TypeMessage, Folder: folder, FolderID: folderID, Subject: subject, Date: date,
		Blob: fmt.Appendf(nil, "From: a@example.org\r\nSubject: %s\r\nMessage-ID: <%d@zimbra.example>\r\n\r\nbody of %d\r\n", subject, id, id)}
}
