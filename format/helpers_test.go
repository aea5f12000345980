package format

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/internal/safetar/tartest"
)

// Fixed times make archives written in tests byte-identical run to run.
var (
	testStarted  = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	testFinished = time.Date(2024, 5, 6, 7, 9, 10, 0, time.UTC)
)

func fixedClock() time.Time { return testFinished }

func testManifest() Manifest {
	return Manifest{
		User:    "alice@example.com",
		Source:  Source{Kind: "maildir", Host: "mx1", Path: "/var/mail/alice"},
		Started: testStarted,
		Tool:    "mailhaul test",
		Notes:   []string{"written by a test"},
	}
}

// sampleItem is an item of the sample archive with its data.
type sampleItem struct {
	Item
	body []byte
}

// sampleFolders and sampleItems make up the sample archive: every folder
// kind, nested and empty folders, names that need escaping, every item
// kind, flags, sub-second received times in other zones, notes.
func sampleFolders() []Folder {
	return []Folder{
		{Kind: FolderMail, Path: "INBOX", Role: RoleInbox, Subscribed: true},
		{Kind: FolderMail, Path: "Work", Subscribed: true},
		{Kind: FolderMail, Path: "Work/2024"},
		{Kind: FolderMail, Path: "Empty"},
		{Kind: FolderMail, Path: "Sent", Role: RoleSent, Notes: []string{"mbox dialect mboxrd"}},
		{Kind: FolderMail, Path: `a:b/c?`},
		{Kind: FolderMail, Path: "con"},
		{Kind: FolderContacts, Path: "Personal", DisplayName: "Personal contacts", Color: "#ff0000"},
		{Kind: FolderCalendar, Path: "Calendar", DisplayName: "Calendar", Description: "Events & tasks"},
		{Kind: FolderCalendar, Path: "Empty calendar"},
	}
}

func sampleItems() []sampleItem {
	paris := time.FixedZone("CET", 3600)
	return []sampleItem{
		{Item{Kind: KindMessage, Folder: "INBOX", Flags: []string{`\Seen`, `\Flagged`, "$Forwarded"},
			Received: time.Date(2024, 3, 1, 10, 20, 30, 123456789, paris), MessageID: "<1@example.com>",
			SourceID: "1700000001.M1P1.mx1", Notes: []string{"a note"}},
			[]byte("From: bob@example.com\r\nMessage-ID: <1@example.com>\r\nSubject: hi\r\n\r\nHello, Alice.\r\n")},
		{Item{Kind: KindMessage, Folder: "INBOX", Received: time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC),
			SourceID: "1700000002.M2P2.mx1"},
			[]byte{}},
		{Item{Kind: KindMessage, Folder: "Work/2024", Flags: []string{`\Answered`, "$Label1"},
			Received: time.Date(2023, 12, 31, 23, 59, 59, 999000000, time.UTC), MessageID: "<2@example.com>",
			SourceID: "work/1"},
			[]byte("Subject: =?utf-8?q?caf=C3=A9?=\n\n8-bit \xe9t\xe9 and a NUL \x00 byte\n")},
		{Item{Kind: KindMessage, Folder: `a:b/c?`, Received: time.Date(2022, 1, 1, 1, 1, 1, 1, time.UTC), SourceID: "odd"},
			[]byte("Subject: odd folder\n\nbody\n")},
		{Item{Kind: KindMessage, Folder: "Sent", Flags: []string{`\Seen`}, Received: time.Date(2021, 6, 7, 8, 9, 10, 0, time.UTC),
			SourceID: "sent:0"},
			[]byte("Subject: sent\n\n>From quoted\n")},
		{Item{Kind: KindContact, Folder: "Personal", UID: "contact-1", SourceID: "c1",
			Received: time.Date(2020, 2, 2, 2, 2, 2, 0, time.UTC)},
			[]byte("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:contact-1\r\nFN:Bob\r\nEND:VCARD\r\n")},
		{Item{Kind: KindEvent, Folder: "Calendar", UID: "event-1", SourceID: "e1", Notes: []string{"UID generated"},
			Received: time.Date(2020, 3, 3, 3, 3, 3, 0, time.UTC)},
			[]byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:event-1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")},
		{Item{Kind: KindTask, Folder: "Calendar", UID: "task-1", SourceID: "t1",
			Received: time.Date(2020, 4, 4, 4, 4, 4, 0, time.UTC)},
			[]byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTODO\r\nUID:task-1\r\nEND:VTODO\r\nEND:VCALENDAR\r\n")},
	}
}

// writeSample writes the sample archive's folders, items and problems.
func writeSample(t testing.TB, w *Writer) {
	t.Helper()
	for _, f := range sampleFolders() {
		if err := w.AddFolder(f); err != nil {
			t.Fatalf("AddFolder(%q): %v", f.Path, err)
		}
	}
	for _, it := range sampleItems() {
		if err := w.AddItem(it.Item, bytes.NewReader(it.body)); err != nil {
			t.Fatalf("AddItem(%s): %v", it.SourceID, err)
		}
	}
	w.AddError(Problem{Folder: "INBOX", Item: "1700000003.M3P3.mx1", Reason: "permission denied"})
	w.AddWarning(Problem{Folder: "Calendar", Item: "e1", Reason: "UID generated"})
	w.AddSkipped("expunged", 2)
	w.AddSkipped("expunged", 1)
	w.AddSkipped("received before the cutoff", 4)
}

// sampleArchive returns the sample archive compressed with c.
func sampleArchive(t testing.TB, c Compression) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testManifest(), &WriterOptions{Compression: c, Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	writeSample(t, w)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readEntry is what readAll found in an entry.
type readEntry struct {
	*Entry
	body []byte
}

// readAll reads a whole archive, bodies included.
func readAll(data []byte, opt *ReaderOptions) (*Reader, []readEntry, error) {
	r, err := NewReader(bytes.NewReader(data), opt)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	var out []readEntry
	for {
		e, err := r.Next()
		if err == io.EOF {
			return r, out, nil
		}
		if err != nil {
			return r, out, err
		}
		re := readEntry{Entry: e}
		if e.Body != nil {
			re.body, err = io.ReadAll(e.Body)
			if err != nil {
				return r, out, err
			}
		}
		out = append(out, re)
	}
}

// ent is one tar entry of a crafted archive.
type ent struct {
	name string
	typ  byte // 0 means a regular file
	body []byte
	link string
}

func craftTar(t testing.TB, ents []ent) []byte {
	t.Helper()
	tents := make([]tartest.Entry, len(ents))
	for i, e := range ents {
		tents[i] = tartest.Entry{Name: e.name, Type: e.typ, Body: e.body, Link: e.link}
	}
	return tartest.Craft(t, testStarted, tents...)
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func manifestEnt(t testing.TB, version int) ent {
	return ent{name: manifestName, body: mustJSON(t, Manifest{Format: version, User: "u", Source: Source{Kind: "test"}, Started: testStarted})}
}

func folderEnt(t testing.TB, name string, k FolderKind, p string) ent {
	return ent{name: name, body: mustJSON(t, Folder{Kind: k, Path: p})}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// itemEnts is an item's .meta and data entries named base+".meta" and
// base+ext.
func itemEnts(t testing.TB, base string, k Kind, folder string, body []byte) []ent {
	it := Item{Kind: k, Folder: folder, Size: int64(len(body)), SHA256: sha(body), SourceID: base}
	return []ent{{name: base + metaExt, body: mustJSON(t, it)}, {name: base + k.Ext(), body: body}}
}

func summaryEnt(t testing.TB, c Counts, folders ...FolderCounts) ent {
	return ent{name: summaryName, body: mustJSON(t, Summary{Finished: testFinished, Counts: c, Folders: folders})}
}

// validEnts is a small valid archive: a manifest, INBOX with one message,
// and the summary.
var validBody = []byte("Subject: x\n\nbody\n")

func validEnts(t testing.TB) []ent {
	c := Counts{Messages: 1, Bytes: int64(len(validBody))}
	ents := []ent{manifestEnt(t, Version), folderEnt(t, "mail/INBOX/_folder.json", FolderMail, "INBOX")}
	ents = append(ents, itemEnts(t, "mail/INBOX/00000001", KindMessage, "INBOX", validBody)...)
	return append(ents, summaryEnt(t, c, FolderCounts{Path: "INBOX", Kind: FolderMail, Counts: c}))
}

// checkErr asserts that err is an *Error wrapping want whose text names
// the archive and every one of names.
func checkErr(t testing.TB, err, want error, archive string, names ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want one wrapping %q", err, want)
	}
	var fe *Error
	if !errors.As(err, &fe) {
		t.Fatalf("got error %v of type %T, want *Error", err, err)
	}
	for _, n := range append([]string{archive}, names...) {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not name %q", err, n)
		}
	}
}
