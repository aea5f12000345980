package tgz

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export/zimbra/zimbratest"
	"github.com/mailhaul/mailhaul/internal/safetar"
)

var day = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func msg(id int, subject string) zimbratest.Item {
	return zimbratest.Message(id, "/Inbox", 2, subject, day)
}

type got struct {
	entry string
	typ   int
	body  string
	err   error // of the body's last read, or of Next
}

// readAll reads every item and its body; it stops at the first error that
// is not an item's damage.
func readAll(t *testing.T, b []byte) ([]got, *Reader, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(b), "test.tgz", nil)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	var out []got
	for {
		it, err := r.Next()
		if err == io.EOF {
			return out, r, nil
		}
		if errors.Is(err, ErrDamaged) {
			out = append(out, got{err: err})
			continue
		}
		if err != nil {
			return out, r, err
		}
		g := got{entry: it.Entry, typ: it.Type}
		if it.Body != nil {
			data, err := io.ReadAll(it.Body)
			g.body, g.err = string(data), err
			if err != nil && !errors.Is(err, ErrDamaged) {
				return append(out, g), r, err
			}
		}
		out = append(out, g)
	}
}

func TestReadsWhatZimbraWrites(t *testing.T) {
	m1 := msg(259, "hello")
	m2 := msg(260, "sha1")
	m2.Digest = zimbratest.SHA1
	items := append(zimbratest.SystemFolders(),
		zimbratest.Item{ID: 400, Type: zimbratest.TypeTag, Folder: "/Tags", FolderID: 8, Name: "Work", Date: day},
		m1, m2,
		zimbratest.Item{ID: 270, Type: zimbratest.TypeContact, Folder: "/Contacts", FolderID: 7, FileAs: "Dr: X", Date: day},
		zimbratest.Item{ID: 280, Type: zimbratest.TypeAppointment, Folder: "/Calendar", FolderID: 10, Subject: "meet", Date: day, Blob: []byte("MIME")},
	)
	out, r, err := readAll(t, zimbratest.Build(t, zimbratest.Options{}, items...))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(items) || !r.HasMeta() {
		t.Fatalf("read %d items (meta %v), want %d", len(out), r.HasMeta(), len(items))
	}
	for i, g := range out {
		if g.err != nil || g.typ != int(items[i].Type) || g.body != string(items[i].Blob) {
			t.Errorf("item %d (%s): type %d body %q err %v; want type %d body %q", i, g.entry, g.typ, g.body, g.err, items[i].Type, items[i].Blob)
		}
	}
	if e := out[len(out)-2].entry; e != "Contacts/Dr: X" {
		t.Errorf("contact named %q", e)
	}
}

func TestMetaFields(t *testing.T) {
	m := msg(259, "hello")
	m.Flags, m.Unread, m.Tags = zimbratest.FlagFlagged|zimbratest.FlagReplied, 1, []string{`a:b`, `c\d`}
	r, err := NewReader(bytes.NewReader(zimbratest.Build(t, zimbratest.Options{}, m)), "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	it, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	md := it.Meta
	if md.ID != 259 || md.Type != TypeMessage || md.FolderID != 2 || md.Unread != 1 || md.FlagStr != "rfu" ||
		md.Path != "/Inbox/" || !md.Received().Equal(day) || md.Size != int64(len(m.Blob)) {
		t.Errorf("meta %+v", md)
	}
	if tags := md.Tags(); len(tags) != 2 || tags[0] != "a:b" || tags[1] != `c\d` {
		t.Errorf("tags %q", tags)
	}
	if tags := (&Meta{TagStr: "12,14"}).Tags(); tags != nil {
		t.Errorf("tag ids read as names: %q", tags)
	}
	if tags := (&Meta{TagStr: ":x:y"}).Tags(); len(tags) != 2 || tags[1] != "y" {
		t.Errorf("6.0.6 TagStr: %q", tags)
	}
}

func TestNoMetaTypesFromDevmajor(t *testing.T) {
	items := append(zimbratest.SystemFolders(), msg(259, "hello"),
		zimbratest.Item{ID: 270, Type: zimbratest.TypeContact, Folder: "/Contacts", FolderID: 7, FileAs: "Doe", Date: day, Blob: []byte("BEGIN:VCARD\r\n")},
		zimbratest.Item{ID: 281, Type: zimbratest.TypeTask, Folder: "/Tasks", FolderID: 15, Subject: "do", Date: day, Blob: []byte("BEGIN:VCALENDAR\r\n")},
	)
	out, r, err := readAll(t, zimbratest.Build(t, zimbratest.Options{NoMeta: true}, items...))
	if err != nil {
		t.Fatal(err)
	}
	if r.HasMeta() || len(out) != 3 {
		t.Fatalf("meta %v, %d items", r.HasMeta(), len(out))
	}
	for i, want := range []int{TypeMessage, TypeContact, TypeTask} {
		if out[i].typ != want {
			t.Errorf("item %d: type %d, want %d", i, out[i].typ, want)
		}
	}
}

func TestDamageIsReportedAndTheRestRead(t *testing.T) {
	short := msg(1, "short")
	short.Short = 3
	lost := msg(2, "lost")
	lost.NoData = true
	bad := msg(3, "bad")
	bad.BadDigest = true
	out, _, err := readAll(t, zimbratest.Build(t, zimbratest.Options{}, short, lost, bad, msg(4, "fine")))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 4 {
		t.Fatalf("read %+v", out)
	}
	for i, want := range []string{"Inbox/0000000001-short.eml", "Inbox/0000000002-lost.eml", "Inbox/0000000003-bad.eml"} {
		if !errors.Is(out[i].err, ErrDamaged) || !errors.Is(out[i].err, safetar.ErrDamagedEntry) || !strings.Contains(out[i].err.Error(), want) {
			t.Errorf("item %d: %v, want damage naming %s", i, out[i].err, want)
		}
	}
	if !strings.Contains(out[0].err.Error(), ".err") || !strings.Contains(out[1].err.Error(), "missing") ||
		!strings.Contains(out[2].err.Error(), "blob_digest") {
		t.Errorf("reasons: %v / %v / %v", out[0].err, out[1].err, out[2].err)
	}
	if out[3].err != nil || out[3].body != string(msg(4, "fine").Blob) {
		t.Errorf("the item after the damage: %+v", out[3])
	}
}

// A body left unread (an item the caller does not want) has its .err mark
// passed over; an .err of no data entry is damage.
func TestErrMarks(t *testing.T) {
	short := msg(1, "short")
	short.Short = 3
	r, err := NewReader(bytes.NewReader(zimbratest.Build(t, zimbratest.Options{}, short, msg(2, "next"))), "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	it, err := r.Next()
	if err != nil || it.Meta.ID != 2 {
		t.Fatalf("after an unread body: %v, %v", it, err)
	}
}

func TestDataWithoutMeta(t *testing.T) {
	// A meta=1 export whose one .meta went missing: its data entry is
	// named as damaged, the rest read.
	lost := zimbratest.Build(t, zimbratest.Options{NoMeta: true}, msg(1, "orphan"))
	b := zimbratest.Build(t, zimbratest.Options{}, msg(2, "first"))
	out, _, err := readAll(t, concatTars(t, b, lost, zimbratest.Build(t, zimbratest.Options{}, msg(3, "last"))))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 || !errors.Is(out[1].err, ErrDamaged) || !strings.Contains(out[1].err.Error(), "without its .meta") || out[2].body == "" {
		t.Fatalf("read %+v", out)
	}
}

func TestTruncatedStreams(t *testing.T) {
	var items []zimbratest.Item
	for i := range 50 {
		m := msg(100+i, fmt.Sprint("m", i))
		m.Blob = bytes.Repeat(fmt.Appendf(nil, "%d line of text that compresses\r\n", i), 200+i)
		items = append(items, m)
	}
	whole := zimbratest.Build(t, zimbratest.Options{}, items...)
	for _, cut := range []int{len(whole) / 3, len(whole) - 30, len(whole) - 4} {
		out, _, err := readAll(t, whole[:cut])
		if !errors.Is(err, safetar.ErrTruncated) || errors.Is(err, ErrDamaged) {
			t.Errorf("cut at %d of %d: %v after %d items, want a truncation", cut, len(whole), err, len(out))
		}
		if cut == len(whole)/3 && (len(out) == 0 || len(out) >= len(items)) {
			t.Errorf("cut at a third: read %d items", len(out))
		}
	}
	// A damaged gzip trailer is noticed after the last item.
	bad := bytes.Clone(whole)
	bad[len(bad)-5] ^= 0xff
	if _, _, err := readAll(t, bad); !errors.Is(err, safetar.ErrChecksum) {
		t.Errorf("bad CRC: %v", err)
	}
}

func TestBadMeta(t *testing.T) {
	for _, body := range []string{"not json", `{"id":1}`, `{"id":1,"type":5,"parent_id":2,"folder_id":2,"imap_id":1,"date":1,"size":0,"unread":0,"flags":0,"mod_metadata":1,"change_date":1,"mod_content":1,"Ver":11}`} {
		if _, err := ParseMeta([]byte(body)); err == nil {
			t.Errorf("ParseMeta(%s) accepted", body)
		}
	}
}

// Bodies stream: reading a large blob allocates a small, fixed amount.
func TestBodyStreams(t *testing.T) {
	m := msg(1, "big")
	m.Blob = bytes.Repeat([]byte("0123456789abcdef"), 2<<20) // 32 MiB
	b := zimbratest.Build(t, zimbratest.Options{}, m)
	m.Blob = nil
	r, err := NewReader(bytes.NewReader(b), "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	it, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.CopyBuffer(io.Discard, it.Body, make([]byte, 32<<10))
	runtime.ReadMemStats(&after)
	if err != nil || n != 32<<20 {
		t.Fatalf("read %d, %v", n, err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
		t.Errorf("reading a 32 MiB body allocated %d bytes", grew)
	}
}

// concatTars joins the tar streams of several exports into one export, as
// if one writer had written them all.
func concatTars(t *testing.T, parts ...[]byte) []byte {
	t.Helper()
	var all []zimbratest.RawEntry
	for _, p := range parts {
		all = append(all, zimbratest.Entries(t, p)...)
	}
	return zimbratest.Rewrite(t, all)
}

// meta=0: a document named "settings.meta" is an item's data entry, not
// a .meta, and the items after it are read as they are.
func TestNoMetaDocumentNamedDotMeta(t *testing.T) {
	doc := zimbratest.Item{ID: 350, Type: zimbratest.TypeDocument, Folder: "/Briefcase", FolderID: 16, Name: "settings.meta", Date: day, Blob: []byte("user notes\n")}
	out, r, err := readAll(t, zimbratest.Build(t, zimbratest.Options{NoMeta: true}, msg(300, "a"), doc, msg(301, "b"), msg(302, "c")))
	if err != nil {
		t.Fatal(err)
	}
	want := []int{TypeMessage, TypeDocument, TypeMessage, TypeMessage}
	if r.HasMeta() || len(out) != len(want) {
		t.Fatalf("meta %v, read %+v", r.HasMeta(), out)
	}
	for i, g := range out {
		if g.typ != want[i] || g.err != nil || g.body == "" {
			t.Errorf("item %d: %+v, want type %d", i, g, want[i])
		}
	}
	if out[1].entry != "Briefcase/settings.meta" || out[1].body != "user notes\n" {
		t.Errorf("document %+v", out[1])
	}
}

// A meta=1 export whose first .meta is not Zimbra's: that item (its
// .meta and data entry) is one damaged item, and the rest is read as
// meta=1.
func TestFirstMetaDamaged(t *testing.T) {
	entries := zimbratest.Entries(t, zimbratest.Build(t, zimbratest.Options{}, msg(300, "a"), msg(301, "b")))
	entries[0].Data = []byte("{}")
	entries[0].Header.Size = 2
	out, r, err := readAll(t, zimbratest.Rewrite(t, entries))
	if err != nil {
		t.Fatal(err)
	}
	if !r.HasMeta() || len(out) != 2 || !errors.Is(out[0].err, ErrDamaged) || out[1].typ != TypeMessage || out[1].err != nil {
		t.Errorf("meta %v, read %+v", r.HasMeta(), out)
	}
}
