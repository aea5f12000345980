// Package tgz reads one archive written by Zimbra's REST export
// (?fmt=tgz, zmmailbox getRestURL "//?fmt=tgz"), with meta=1 or meta=0,
// from any ZCS release, as a stream, on top of internal/safetar (codec
// detection, entry checks, the bomb ratio).
//
// Items are told apart by their .meta "type", or by the data entry's
// devmajor in a meta=0 export, never by entry names or gnames, which
// differ between releases ("search folder", names without an id prefix).
// Names matter only to pair entries: a ".meta" entry is followed by its
// data entry (its own name without ".meta"), and a 0-byte "<data>.err"
// after a data entry is Zimbra's mark of a blob whose size did not match.
// Whether an export has .meta entries is decided by evidence that parses:
// a first ".meta" that is Zimbra's JSON makes it meta=1; a data entry
// before any such makes it meta=0, where a "*.meta" entry (a document of
// that name) is an item's data like any other, typed by its devmajor.
//
// Damage that Zimbra hides behind a well-formed archive is reported by
// entry name, and the rest is read: a .meta whose blob (promised by its
// blob_digest) is missing, a data entry without its .meta, a .err mark,
// a blob that does not match its blob_digest (SHA-1 or SHA-256, base64
// with '/' written ','), a data entry whose size or type disagrees with
// its .meta, a .meta that is not Zimbra's JSON. Such errors wrap
// safetar.ErrDamagedEntry; any other error (a truncated gzip or tar
// stream) ends the archive.
package tgz

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"

	"github.com/mailhaul/mailhaul/internal/safetar"
)

// Type bytes of Zimbra items (mailbox/MailItem.java).
const (
	TypeFolder       = 1
	TypeSearchFolder = 2
	TypeTag          = 3
	TypeConversation = 4
	TypeMessage      = 5
	TypeContact      = 6
	TypeInvite       = 7
	TypeDocument     = 8
	TypeNote         = 9
	TypeFlag         = 10
	TypeAppointment  = 11
	TypeVirtualConv  = 12
	TypeMountpoint   = 13
	TypeWiki         = 14
	TypeTask         = 15
	TypeChat         = 16
	TypeComment      = 17
	TypeLink         = 18
)

// TypeName names a type byte for reports ("message", "search folder").
func TypeName(t int) string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("type %d", t)
}

var typeNames = map[int]string{
	TypeFolder: "folder", TypeSearchFolder: "search folder", TypeTag: "tag",
	TypeConversation: "conversation", TypeMessage: "message", TypeContact: "contact",
	TypeInvite: "invite", TypeDocument: "document", TypeNote: "note", TypeFlag: "flag",
	TypeAppointment: "appointment", TypeVirtualConv: "virtual conversation",
	TypeMountpoint: "mountpoint", TypeWiki: "wiki page", TypeTask: "task", TypeChat: "chat",
	TypeComment: "comment", TypeLink: "link",
}

// MaxMetaVersion is the newest .meta "Ver" Zimbra itself reads.
const MaxMetaVersion = 10

// MaxMetaSize bounds one .meta entry, which is read into memory: a
// calendar item with many invites has a large metadata field, but not
// this large.
const MaxMetaSize = 16 << 20

// ErrDamaged is the sentinel of an item this package reports as damaged;
// it matches safetar.ErrDamagedEntry too.
var ErrDamaged = safetar.NewDamaged("damaged Zimbra item")

// Meta is an item's .meta record (service/util/ItemData.java).
type Meta struct {
	ID         int    `json:"id"`
	UUID       string `json:"uuid"`
	Type       int    `json:"type"`
	ParentID   int    `json:"parent_id"`
	FolderID   int    `json:"folder_id"`
	IMAPID     int    `json:"imap_id"`
	Date       int64  `json:"date"` // seconds; a message's received time
	Size       int64  `json:"size"`
	BlobDigest string `json:"blob_digest"`
	Unread     int    `json:"unread"` // the unread count
	Flags      int    `json:"flags"`  // the bitmask, without the unread bit
	Subject    string `json:"subject"`
	Name       string `json:"name"`
	Metadata   string `json:"metadata"` // Zimbra's encoded Metadata
	ModMeta    int    `json:"mod_metadata"`
	ChangeDate int64  `json:"change_date"`
	ModContent int    `json:"mod_content"`
	Sender     string `json:"sender"`
	ExtraStr   string `json:"ExtraStr"`
	FlagStr    string `json:"FlagStr"`
	Path       string `json:"Path"`
	TagNames   string `json:"TagNames"`
	TagStr     string `json:"TagStr"`
	Ver        int    `json:"Ver"`
}

// required are the fields ItemData's decoder insists on.
var required = []string{"id", "type", "parent_id", "folder_id", "imap_id", "date", "size", "unread", "flags", "mod_metadata", "change_date", "mod_content", "Ver"}

// ParseMeta decodes a .meta entry.
func ParseMeta(b []byte) (*Meta, error) {
	var present map[string]json.RawMessage
	if err := json.Unmarshal(b, &present); err != nil {
		return nil, fmt.Errorf(".meta is not JSON: %w", err)
	}
	for _, k := range required {
		if _, ok := present[k]; !ok {
			return nil, fmt.Errorf(".meta lacks %q", k)
		}
	}
	m := &Meta{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf(".meta: %w", err)
	}
	if m.Ver > MaxMetaVersion {
		return nil, fmt.Errorf(".meta version %d is newer than %d", m.Ver, MaxMetaVersion)
	}
	return m, nil
}

// Received is the item's date: for a message its delivery time.
func (m *Meta) Received() time.Time { return time.Unix(m.Date, 0).UTC() }

// Tags are the item's tag names: TagNames ("a:b", '\' and ':' escaped by
// '\'), else the 6.0.6 TagStr form ":a:b". The older TagStr of tag ids
// ("12,14") names no tag and gives none.
func (m *Meta) Tags() []string {
	s := m.TagNames
	if s == "" {
		s = m.TagStr
		if s != "" && s[0] >= '0' && s[0] <= '9' && !strings.Contains(s, ":") {
			return nil
		}
	}
	return SplitTags(s, ':')
}

// SplitTags splits a list of tag names joined by sep, each '\' and sep
// escaped by '\' (a .meta's TagNames, ':'; a SOAP hit's tn, ','), empty
// names left out.
func SplitTags(s string, sep rune) []string {
	var tags []string
	var cur strings.Builder
	escaped := false
	for _, r := range s + string(sep) {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\':
			escaped = true
		case r == sep:
			if cur.Len() > 0 {
				tags = append(tags, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	return tags
}

// Item is one item of the archive.
type Item struct {
	// Entry names the item in reports: its data entry, else its .meta.
	Entry string
	// Meta is the .meta record; nil in a meta=0 export.
	Meta *Meta
	// Type is Meta.Type, or the data entry's devmajor without a .meta.
	Type int
	// Mode and ModTime are the data entry's (of the .meta without one).
	// Only without a .meta does a mode without write bits mean unread.
	Mode    int64
	ModTime time.Time
	// Body reads the data entry, nil when the item has none. It is valid
	// until the next call to Next. Its last Read returns, instead of
	// io.EOF, an error wrapping ErrDamaged when the data does not match
	// the blob_digest or Zimbra marked it with a .err entry: the bytes
	// already read are not the item's.
	Body io.Reader
	Size int64
}

// Reader reads the items of one Zimbra export.
type Reader struct {
	tr      *safetar.Reader
	name    string
	metas   int  // .meta entries that parsed as Zimbra's: 0 means a meta=0 export so far
	noMeta  bool // a data entry came first: a meta=0 export, where a "*.meta" is an item's data
	peeked  *entry
	peekErr error
	last    string // the last data entry, whose .err mark is the body's to report
	body    *body
	err     error // sticky: the archive cannot be read further
	ended   bool  // the tar stream's end was read
}

type entry struct {
	name    string
	size    int64
	mode    int64
	major   int64
	modTime time.Time
}

// NewReader starts reading the export r; name names it in errors. opt
// sets the limits (safetar's defaults when nil).
func NewReader(r io.Reader, name string, opt *safetar.Options) (*Reader, error) {
	o := safetar.Options{}
	if opt != nil {
		o = *opt
	}
	o.Name, o.NamesAreLabels = name, true // entry names are only quoted, never made into paths
	tr, err := safetar.NewReader(r, &o)
	if err != nil {
		return nil, err
	}
	return &Reader{tr: tr, name: name}, nil
}

// Close releases the decompressor; it does not close the source.
func (r *Reader) Close() error { return r.tr.Close() }

// HasMeta reports whether a .meta entry was seen: false for a meta=0
// export (once its first item was read).
func (r *Reader) HasMeta() bool { return r.metas > 0 }

// Ended reports whether the tar stream was read to its end marker: an
// error after that is of the compressed stream's trailer (a gzip CRC cut
// off or wrong), and every item was read.
func (r *Reader) Ended() bool { return r.ended }

// Codec is the compression found.
func (r *Reader) Codec() safetar.Codec { return r.tr.Codec() }

// next returns the next entry header, a peeked one first.
func (r *Reader) next() (*entry, error) {
	if r.peeked != nil || r.peekErr != nil {
		e, err := r.peeked, r.peekErr
		r.peeked, r.peekErr = nil, nil
		return e, err
	}
	hdr, err := r.tr.Next()
	if err != nil {
		return nil, err
	}
	return &entry{name: hdr.Name, size: hdr.Size, mode: hdr.Mode, major: hdr.Devmajor, modTime: hdr.ModTime}, nil
}

// peek looks at the next entry header without taking it.
func (r *Reader) peek() (*entry, error) {
	if r.peeked == nil && r.peekErr == nil {
		r.peeked, r.peekErr = r.next()
	}
	return r.peeked, r.peekErr
}

// Next returns the next item, io.EOF after the last one and the end of
// the compressed stream (its trailer checked). An error wrapping
// ErrDamaged names one lost item, and Next may be called again; any
// other error ends the archive.
func (r *Reader) Next() (*Item, error) {
	if r.err != nil {
		return nil, r.err
	}
	r.body = nil
	for {
		e, err := r.next()
		if err == io.EOF {
			r.ended = true
			if err := r.tr.Finish(); err != nil {
				return nil, r.fail(err)
			}
			return nil, r.fail(io.EOF)
		}
		var se *safetar.Error
		if errors.Is(err, safetar.ErrDamagedEntry) && errors.As(err, &se) {
			// An entry safetar refused alone (a name too long to be
			// anything but hostile or broken): that item is lost.
			return nil, r.damaged(se.Entry, se.Err.Error())
		}
		if err != nil {
			return nil, r.fail(err)
		}
		switch {
		case e.name == r.last+".err" && e.size == 0:
			// The mark of the data entry before it: the body reported it
			// when read to its end, and a body left unread was not wanted.
			continue
		case strings.HasSuffix(e.name, ".meta") && !r.noMeta:
			return r.withMeta(e)
		case strings.HasSuffix(e.name, ".err") && e.size == 0:
			return nil, r.damaged(e.name, "Zimbra marked this entry as failed (.err)")
		case r.metas > 0:
			r.last = e.name
			return nil, r.damaged(e.name, "data entry without its .meta")
		}
		// meta=0: the data entry alone, its type from devmajor.
		r.noMeta = true
		r.last = e.name
		return r.item(e, nil, int(e.major), ""), nil
	}
}

// withMeta reads a .meta entry and pairs it with the data entry after it.
// Until one parses, the export may still be meta=0 (where a document may
// be named "x.meta"): a first .meta that does not parse is reported with
// its data entry, which is skipped, and decides nothing.
func (r *Reader) withMeta(e *entry) (*Item, error) {
	base := strings.TrimSuffix(e.name, ".meta")
	bad := func(reason string) (*Item, error) {
		if r.metas == 0 {
			if d, err := r.peek(); err == nil && d.name == base {
				r.peeked = nil
			}
		}
		return nil, r.damaged(e.name, reason)
	}
	if e.size > MaxMetaSize {
		return bad(fmt.Sprintf(".meta of %d bytes (limit %d)", e.size, MaxMetaSize))
	}
	raw, err := io.ReadAll(r.tr)
	if err != nil {
		return nil, r.fail(err)
	}
	m, err := ParseMeta(raw)
	if err != nil {
		return bad(err.Error())
	}
	r.metas++
	d, err := r.peek()
	switch {
	case err == nil && d.name == base:
		r.peeked = nil
		r.last = d.name
		if d.major != 0 && int(d.major) != m.Type {
			return nil, r.damaged(d.name, fmt.Sprintf("data entry of type %d after a .meta of type %d", d.major, m.Type))
		}
		if m.BlobDigest != "" && d.size != m.Size {
			return nil, r.damaged(d.name, fmt.Sprintf("data entry of %d bytes, its .meta says %d", d.size, m.Size))
		}
		return r.item(d, m, m.Type, m.BlobDigest), nil
	case m.BlobDigest != "" && m.Size > 0:
		// Zimbra skips items whose blob is missing; one lost between
		// the .meta and its data is damage all the same. The error of a
		// stream cut here comes with the next call.
		return nil, r.damaged(base, fmt.Sprintf("the %s's blob is missing after its .meta", TypeName(m.Type)))
	}
	return &Item{Entry: base, Meta: m, Type: m.Type, Mode: e.mode, ModTime: e.modTime}, nil
}

func (r *Reader) item(e *entry, m *Meta, typ int, digest string) *Item {
	it := &Item{Entry: e.name, Meta: m, Type: typ, Mode: e.mode, ModTime: e.modTime, Size: e.size}
	r.body = &body{r: r, entry: e.name, left: e.size}
	if digest != "" {
		r.body.want, r.body.h = decodeDigest(digest)
		if r.body.h == nil {
			r.body.bad = fmt.Sprintf("blob_digest %q is neither SHA-1 nor SHA-256", digest)
		}
	}
	it.Body = r.body
	return it
}

// decodeDigest reads a blob_digest: base64 with '/' written ',', of a
// SHA-1 (20 bytes) or SHA-256 (32 bytes) sum.
func decodeDigest(d string) ([]byte, hash.Hash) {
	sum, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(d, ",", "/"))
	if err != nil {
		return nil, nil
	}
	switch len(sum) {
	case sha1.Size:
		return sum, sha1.New()
	case sha256.Size:
		return sum, sha256.New()
	}
	return nil, nil
}

// body reads a data entry, hashing as it goes, and at its end checks the
// digest and looks at the next entry header for a .err mark.
type body struct {
	r     *Reader
	entry string
	left  int64
	want  []byte
	h     hash.Hash
	bad   string // a reason known before reading
	done  error  // what the end returned
}

func (b *body) Read(p []byte) (int, error) {
	if b.done != nil {
		return 0, b.done
	}
	if b.r.body != b {
		return 0, fmt.Errorf("tgz: %s: read after Next", b.entry)
	}
	n, err := b.r.tr.Read(p)
	if b.h != nil {
		b.h.Write(p[:n])
	}
	b.left -= int64(n)
	if err == io.EOF {
		b.done = b.end()
		return n, b.done
	}
	if err != nil {
		b.done = err
		b.r.fail(err)
	}
	return n, err
}

// end decides what the end of the data means.
func (b *body) end() error {
	if b.bad != "" {
		return b.r.damaged(b.entry, b.bad)
	}
	if e, err := b.r.peek(); err == nil && e.name == b.entry+".err" && e.size == 0 {
		return b.r.damaged(b.entry, "Zimbra marked this entry as failed (.err): its blob's size did not match, the data is padded")
	}
	if b.h != nil && !bytes.Equal(b.h.Sum(nil), b.want) {
		return b.r.damaged(b.entry, "the data does not match its blob_digest")
	}
	return io.EOF
}

// Error is a problem with one entry, or with the archive.
type Error struct {
	Archive string
	Entry   string
	Err     error
}

func (e *Error) Error() string {
	if e.Entry == "" {
		return "zimbra tgz: " + e.Archive + ": " + e.Err.Error()
	}
	return "zimbra tgz: " + e.Archive + ": " + e.Entry + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

func (r *Reader) damaged(entry, reason string) error {
	return &Error{Archive: r.name, Entry: safetar.ClipName(entry), Err: fmt.Errorf("%w: %s", ErrDamaged, reason)}
}

// fail makes err sticky: the archive cannot be read further.
func (r *Reader) fail(err error) error {
	if r.err == nil {
		if err != io.EOF && !errors.As(err, new(*safetar.Error)) {
			err = &Error{Archive: r.name, Err: err}
		}
		r.err = err
	}
	return r.err
}
