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

type entry = RawEntry

// readBack reads an export with Go's archive/tar, as any reader would,
// and checks the gzip trailer.
func readBack(t *testing.T, b []byte) []entry {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, gz); err != nil {
		t.Fatal(err)
	}
	return Entries(t, b)
}

func names(ents []entry) []string {
	var n []string
	for _, e := range ents {
		n = append(n, e.Header.Name)
	}
	return n
}

var day = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func msg(id int, subject string, flags, unread int) Item {
	m := Message(id, "/Inbox", 2, subject, day)
	m.Flags, m.Unread = flags, unread
	return m
}

func TestWriterLayout(t *testing.T) {
	items := append(SystemFolders(),
		Item{ID: 300, Type: TypeFolder, Folder: "/Inbox", FolderID: 2, Name: "Sub", Date: day},
		Item{ID: 400, Type: TypeTag, Folder: "/Tags", FolderID: 8, Name: "Work", Date: day},
		msg(259, "test mail", 0, 1),
		msg(260, "RE: hello", FlagReplied, 0),
		msg(261, "", 0, 0),
		msg(262, "sent only", FlagSent, 0),
		Item{ID: 270, Type: TypeContact, Folder: "/Contacts", FolderID: 7, FileAs: "test2, test1", Date: day},
		Item{ID: 271, Type: TypeContact, Folder: "/Contacts", FolderID: 7, FileAs: "Test2, Test1", Date: day},
		Item{ID: 272, Type: TypeContact, Folder: "/Emailed Contacts", FolderID: 13, FileAs: "K Mr/9TH SC", Date: day},
		Item{ID: 280, Type: TypeAppointment, Folder: "/Calendar", FolderID: 10, Subject: "test invite", Date: day, Blob: []byte("MIME")},
		Item{ID: 281, Type: TypeTask, Folder: "/Tasks", FolderID: 15, Subject: "test task", Date: day},
		Item{ID: 290, Type: TypeDocument, Folder: "/Briefcase", FolderID: 16, Name: "favicon.ico", Date: day, Blob: []byte{0, 1}},
	)
	ents := readBack(t, Build(t, Options{}, items...))
	want := []string{
		"0000000011-ROOT.meta", "0000000001-USER_ROOT.meta",
		"0000000016-Briefcase.meta", "0000000010-Calendar.meta", "0000000014-Chats.meta",
		"0000000007-Contacts.meta", "0000000006-Drafts.meta", "0000000013-Emailed Contacts.meta",
		"0000000002-Inbox.meta", "0000000004-Junk.meta", "0000000005-Sent.meta",
		"0000000015-Tasks.meta", "0000000003-Trash.meta",
		"Inbox/0000000300-Sub.meta", "Tags/0000000400-Work.meta",
		"Inbox/0000000259-test mail.eml.meta", "Inbox/0000000259-test mail.eml",
		"Inbox/0000000260-RE_ hello.eml.meta", "Inbox/0000000260-RE_ hello.eml",
		"Inbox/message-261.eml.meta", "Inbox/message-261.eml",
		"Inbox/0000000262-sent only.eml.meta", "Inbox/0000000262-sent only.eml",
		"Contacts/test2, test1.meta", "Contacts/Test2, Test1-01.meta",
		"Emailed Contacts/K Mr/9TH SC.meta",
		"Calendar/0000000280-test invite.appt.meta", "Calendar/0000000280-test invite.appt",
		"Tasks/0000000281-test task.task.meta",
		"Briefcase/favicon.ico.meta", "Briefcase/favicon.ico",
	}
	if got := names(ents); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	byName := map[string]entry{}
	for _, e := range ents {
		byName[e.Header.Name] = e
		if e.Header.Uid != 0 || e.Header.Gid != 0 || e.Header.Typeflag != tar.TypeReg {
			t.Errorf("%s: uid %d gid %d type %c", e.Header.Name, e.Header.Uid, e.Header.Gid, e.Header.Typeflag)
		}
		if !e.Header.ModTime.Equal(day) && !strings.Contains(e.Header.Name, "0000000") {
			t.Errorf("%s: mtime %v, want the item date", e.Header.Name, e.Header.ModTime)
		}
	}
	// gname is the type's name and devmajor its byte, on both entries.
	for name, want := range map[string]struct {
		gname string
		major int64
	}{
		"0000000002-Inbox.meta":                {"folder", 1},
		"Tags/0000000400-Work.meta":            {"tag", 3},
		"Inbox/0000000259-test mail.eml":       {"message", 5},
		"Contacts/test2, test1.meta":           {"contact", 6},
		"Calendar/0000000280-test invite.appt": {"appointment", 11},
		"Tasks/0000000281-test task.task.meta": {"task", 15},
		"Briefcase/favicon.ico":                {"document", 8},
	} {
		h := byName[name].Header
		if h.Gname != want.gname || h.Devmajor != want.major {
			t.Errorf("%s: gname %q devmajor %d, want %q %d", name, h.Gname, h.Devmajor, want.gname, want.major)
		}
	}
	// The mode quirk: 0444 on the .meta of unread messages and of read
	// ones with almost any flag; sent-only and flagless read ones 0644.
	for name, mode := range map[string]int64{
		"Inbox/0000000259-test mail.eml.meta":  0o100444,
		"Inbox/0000000259-test mail.eml":       0o100644,
		"Inbox/0000000260-RE_ hello.eml.meta":  0o100444,
		"Inbox/message-261.eml.meta":           0o100644,
		"Inbox/0000000262-sent only.eml.meta":  0o100644,
		"Calendar/0000000280-test invite.appt": 0o100644,
	} {
		if got := byName[name].Header.Mode; got != mode {
			t.Errorf("%s: mode %o, want %o", name, got, mode)
		}
	}
	// Every .meta is one line of JSON with Ver 10 and the integer fields
	// ItemData requires.
	for _, e := range ents {
		if !strings.HasSuffix(e.Header.Name, ".meta") {
			continue
		}
		if bytes.ContainsAny(e.Data, "\r\n") {
			t.Errorf("%s: .meta is not one line: %q", e.Header.Name, e.Data)
		}
		var m map[string]any
		if err := json.Unmarshal(e.Data, &m); err != nil {
			t.Fatalf("%s: %v", e.Header.Name, err)
		}
		for _, k := range []string{"id", "type", "parent_id", "folder_id", "index_id", "imap_id", "date", "size",
			"volume_id", "unread", "flags", "mod_metadata", "change_date", "mod_content", "Ver"} {
			if _, ok := m[k].(float64); !ok {
				t.Errorf("%s: %s is %v, want a number", e.Header.Name, k, m[k])
			}
		}
		if m["Ver"] != 10.0 || m["type"] != float64(e.Header.Devmajor) {
			t.Errorf("%s: Ver %v type %v devmajor %d", e.Header.Name, m["Ver"], m["type"], e.Header.Devmajor)
		}
	}
	var m map[string]any
	json.Unmarshal(byName["Inbox/0000000259-test mail.eml.meta"].Data, &m)
	if m["Path"] != "/Inbox/" || m["FlagStr"] != "u" || m["unread"] != 1.0 || m["flags"] != 0.0 || m["date"] != float64(day.Unix()) {
		t.Errorf("unread message meta: %v", m)
	}
	json.Unmarshal(byName["0000000002-Inbox.meta"].Data, &m)
	if m["Path"] != "/Inbox" {
		t.Errorf("folder Path %v", m["Path"])
	}
	json.Unmarshal(byName["Briefcase/favicon.ico.meta"].Data, &m)
	if m["Path"] != "/Briefcase/favicon.ico" {
		t.Errorf("document Path %v", m["Path"])
	}
}

func TestWriterLongNameIsGNULongLink(t *testing.T) {
	subject := strings.Repeat("very long subject ", 10)
	b := Build(t, Options{}, msg(259, subject, 0, 0))
	ents := readBack(t, b)
	cut := ("0000000259-" + subject)[:120]
	want := "Inbox/" + strings.TrimSpace(cut) + ".eml"
	if ents[1].Header.Name != want || ents[0].Header.Name != want+".meta" {
		t.Fatalf("names %q, want %q (+.meta)", names(ents), want)
	}
	if ents[0].Header.Format != tar.FormatGNU {
		t.Errorf("format %v, want GNU", ents[0].Header.Format)
	}
	raw, _ := gzip.NewReader(bytes.NewReader(b))
	all, _ := io.ReadAll(raw)
	if !bytes.Contains(all, []byte("././@LongLink")) {
		t.Error("no ././@LongLink entry in the tar stream")
	}
}

func TestWriterSplitsEvery500(t *testing.T) {
	var items []Item
	for i := range 1001 {
		items = append(items, msg(1000+i, "m", 0, 0))
	}
	count := map[string]int{}
	for _, e := range readBack(t, Build(t, Options{}, items...)) {
		if !strings.HasSuffix(e.Header.Name, ".meta") {
			count[e.Header.Name[:strings.IndexByte(e.Header.Name, '/')]]++
		}
	}
	// saveItem counts the first item 1, so items 500, 1000... open a new
	// directory: 499 stay in Inbox.
	if count["Inbox"] != 499 || count["Inbox!1"] != 500 || count["Inbox!2"] != 2 {
		t.Errorf("split %v", count)
	}
}

func TestWriterDigests(t *testing.T) {
	// Find a blob whose SHA-1 in base64 holds a '/', to see it become ','.
	var blob []byte
	for i := 0; ; i++ {
		blob = fmt.Appendf(nil, "blob %d", i)
		s := sha1.Sum(blob)
		if strings.Contains(base64.StdEncoding.EncodeToString(s[:]), "/") {
			break
		}
	}
	s1 := sha1.Sum(blob)
	s256 := sha256.Sum256(blob)
	it1 := msg(1, "a", 0, 0)
	it1.Blob, it1.Digest = blob, SHA1
	it2 := msg(2, "b", 0, 0)
	it2.Blob, it2.Digest = blob, SHA256
	it3 := msg(3, "c", 0, 0)
	it3.Blob, it3.BadDigest = blob, true
	it4 := msg(4, "d", 0, 0)
	it4.Blob, it4.Digest = blob, NoDigest
	ents := readBack(t, Build(t, Options{}, it1, it2, it3, it4))
	digest := func(i int) any {
		var m map[string]any
		json.Unmarshal(ents[i].Data, &m)
		return m["blob_digest"]
	}
	want1 := strings.ReplaceAll(base64.StdEncoding.EncodeToString(s1[:]), "/", ",")
	if digest(0) != want1 || strings.Contains(want1, "/") || !strings.Contains(want1, ",") {
		t.Errorf("SHA-1 digest %v, want %s", digest(0), want1)
	}
	if want := strings.ReplaceAll(base64.StdEncoding.EncodeToString(s256[:]), "/", ","); digest(2) != want {
		t.Errorf("SHA-256 digest %v, want %s", digest(2), want)
	}
	if digest(4) == digest(2) || digest(4) == nil {
		t.Errorf("bad digest %v equals the good one", digest(4))
	}
	if digest(6) != nil {
		t.Errorf("NoDigest wrote %v", digest(6))
	}
}

func TestWriterFaults(t *testing.T) {
	short := msg(5, "short", 0, 0)
	short.Short = 4
	lost := msg(6, "lost", 0, 0)
	lost.NoData = true
	ents := readBack(t, Build(t, Options{}, short, lost, msg(7, "next", 0, 0)))
	want := []string{
		"Inbox/0000000005-short.eml.meta", "Inbox/0000000005-short.eml", "Inbox/0000000005-short.eml.err",
		"Inbox/0000000006-lost.eml.meta",
		"Inbox/0000000007-next.eml.meta", "Inbox/0000000007-next.eml",
	}
	if got := names(ents); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("entries %q, want %q", got, want)
	}
	if d := ents[1].Data; len(d) != len(short.Blob) || !bytes.HasSuffix(d, []byte("    ")) {
		t.Errorf("short blob %q: want the recorded size, padded with spaces", d)
	}
	if ents[2].Header.Size != 0 {
		t.Errorf(".err of %d bytes", ents[2].Header.Size)
	}
}

func TestWriterNoMeta(t *testing.T) {
	items := append(SystemFolders(),
		msg(259, "test mail", 0, 1),
		Item{ID: 270, Type: TypeContact, Folder: "/Contacts", FolderID: 7, FileAs: "Doe, Jane", Date: day, Blob: []byte("BEGIN:VCARD\r\n")},
		Item{ID: 280, Type: TypeAppointment, Folder: "/Calendar", FolderID: 10, Subject: "meet", Date: day, Blob: []byte("BEGIN:VCALENDAR\r\n")},
		Item{ID: 281, Type: TypeTask, Folder: "/Tasks", FolderID: 15, Subject: "do", Date: day, Blob: []byte("BEGIN:VCALENDAR\r\n")},
	)
	ents := readBack(t, Build(t, Options{NoMeta: true}, items...))
	want := []string{"Inbox/0000000259-test mail.eml", "Contacts/Doe, Jane.vcf",
		"Calendar/0000000280-meet.ics", "Tasks/0000000281-do.task"}
	if got := names(ents); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("entries %q, want %q", got, want)
	}
	// The unread mode is set on the .meta entry, which meta=0 does not
	// write: the data entry keeps 0644.
	if ents[0].Header.Mode != 0o100644 || ents[0].Header.Devmajor != 5 {
		t.Errorf("mode %o devmajor %d", ents[0].Header.Mode, ents[0].Header.Devmajor)
	}
}

func TestWriterZCS5(t *testing.T) {
	items := append(SystemFolders()[:3],
		Item{ID: 500, Type: TypeSearchFolder, Folder: "/", FolderID: 1, Name: "Unread", Date: day},
		Item{ID: 501, Type: TypeConversation, Folder: "/Conversations", FolderID: 9, Subject: "talk", Date: day},
		msg(259, "test mail", 0, 0),
	)
	ents := readBack(t, Build(t, Options{Style: ZCS5}, items...))
	want := []string{"ROOT.meta", "USER_ROOT.meta", "Briefcase.meta", "Unread.meta",
		"Conversations/talk.meta", "Inbox/test mail.eml.meta", "Inbox/test mail.eml"}
	if got := names(ents); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("entries %q, want %q", got, want)
	}
	if g := ents[3].Header.Gname; g != "search folder" {
		t.Errorf("search folder gname %q", g)
	}
	if g := ents[4].Header.Gname; g != "conversation" || ents[4].Header.Devmajor != 4 {
		t.Errorf("conversation gname %q devmajor %d", g, ents[4].Header.Devmajor)
	}
}

func TestTagNames(t *testing.T) {
	if got := TagNames([]string{`a:b`, `c\d`, "e"}); got != `a\:b:c\\d:e` {
		t.Errorf("TagNames %q", got)
	}
}

// Non-ASCII names are written as Zimbra writes them: their UTF-8 bytes in
// the header's name field (the GNU format in Go's writer), no PAX record.
func TestWriterNonASCIINames(t *testing.T) {
	b := Build(t, Options{}, Item{ID: 300, Type: TypeFolder, Folder: "/", FolderID: 1, Name: "Entwürfe", Date: day},
		Message(301, "/Entwürfe", 300, "Grüße", day))
	ents := readBack(t, b)
	want := []string{"0000000300-Entwürfe.meta", "Entwürfe/0000000301-Grüße.eml.meta", "Entwürfe/0000000301-Grüße.eml"}
	if got := names(ents); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("names %q, want %q", got, want)
	}
	raw, _ := gzip.NewReader(bytes.NewReader(b))
	all, _ := io.ReadAll(raw)
	if !bytes.Contains(all, []byte("Entwürfe/0000000301-Grüße.eml\x00")) || bytes.Contains(all, []byte("PaxHeaders")) {
		t.Error("the UTF-8 name is not in the header's name field, or a PAX record was written")
	}
}
