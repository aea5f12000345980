package zimbra

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-vcard"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/export/zimbra/convert"
	"github.com/mailhaul/mailhaul/export/zimbra/metadata"
	"github.com/mailhaul/mailhaul/export/zimbra/zimbratest"
	"github.com/mailhaul/mailhaul/format"
)

const weekly = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Zimbra//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:weekly-1\r\nSUMMARY:Weekly\r\n" +
	"DTSTART:20240108T090000Z\r\nDTEND:20240108T100000Z\r\nRRULE:FREQ=WEEKLY;COUNT=5\r\nDTSTAMP:20240101T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

const moved = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Zimbra//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:weekly-1\r\nSUMMARY:Moved\r\n" +
	"RECURRENCE-ID:20240115T090000Z\r\nDTSTART:20240115T110000Z\r\nDTEND:20240115T120000Z\r\nDTSTAMP:20240102T000000Z\r\nSEQUENCE:1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

func card(t *testing.T, b []byte) vcard.Card {
	t.Helper()
	c, err := vcard.NewDecoder(bytes.NewReader(b)).Decode()
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return c
}

func cal(t *testing.T, b []byte) *ical.Calendar {
	t.Helper()
	c, err := ical.NewDecoder(bytes.NewReader(b)).Decode()
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return c
}

// Contacts, a group, appointments and a task of a meta=1 export become
// archive items of their address books and calendars, user-made ones
// included.
func TestContactsAndCalendars(t *testing.T) {
	photo := bytes.Repeat([]byte("\xff\xd8\xff\xe0 JFIF \x00"), 30)
	jane := zimbratest.Contact(300, "/Contacts", 7, "Doe, Jane", day, map[string]string{"firstName": "Jane", "lastName": "Doe",
		"email": "jane@example.org", "mobilePhone": "+1 555"}, zimbratest.Attachment{Field: "image", Name: "jane.jpg", ContentType: "image/jpeg", Data: photo})
	jane.Tags = []string{"Friends"}
	// The group names Jane (exported before it), Own (after it, with a UID
	// of its own), an inline address and another account's contact.
	group := zimbratest.Contact(301, "/Contacts", 7, "Team", day, map[string]string{"type": "group", "fileAs": "8:Team", "nickname": "Team",
		"groupMember": metadata.Encode(metadata.Map{"m": metadata.List{metadata.Map{"t": "C", "v": "300"}, metadata.Map{"t": "C", "v": "302"},
			metadata.Map{"t": "I", "v": "Bob <bob@example.org>"}, metadata.Map{"t": "C", "v": "other-acct:9"}}})})
	own := zimbratest.Contact(302, "/Clients", 700, "Own", day, map[string]string{"fullName": "Own", "vcardUID": "own-uid-1"})
	appt := zimbratest.Calendar(zimbratest.TypeAppointment, 400, "/Team", 701, "Weekly", "weekly-1", day, nil,
		zimbratest.Invite{ID: 401, ICS: weekly}, zimbratest.Invite{ID: 402, ICS: moved})
	single := zimbratest.Calendar(zimbratest.TypeAppointment, 403, "/Calendar", 10, "Single", "single-1", day, metadata.Map{
		"u": "single-1", "st": "20240708T090000Z", "et": "20240708T100000Z", "n": "Single", "dts": int64(1704067200000)})
	task := zimbratest.Calendar(zimbratest.TypeTask, 404, "/Tasks", 15, "Do it", "task-1", day, metadata.Map{
		"it": 15, "u": "task-1", "n": "Do it", "et": "20240401T120000Z", "dts": int64(1704067200000), "status": "NEED"})
	task.Tags = []string{"Urgent"}
	items := append(zimbratest.SystemFolders(),
		zimbratest.Item{ID: 700, Type: zimbratest.TypeFolder, Folder: "/", FolderID: 1, Name: "Clients", Date: day, Metadata: metadata.Encode(metadata.Map{"vt": 6})},
		zimbratest.Item{ID: 701, Type: zimbratest.TypeFolder, Folder: "/", FolderID: 1, Name: "Team", Date: day, Metadata: metadata.Encode(metadata.Map{"vt": 11, "c": 3})},
		jane, group, own, appt, single, task)
	s := run(t, export.Options{}, write(t, t.TempDir(), "p.tgz", zimbratest.Options{}, items...))
	if len(s.Errors) != 0 {
		t.Fatalf("errors %v", s.Errors)
	}
	if len(s.Items) != 6 {
		t.Fatalf("%d items", len(s.Items))
	}
	for _, w := range []struct {
		id     string
		kind   format.Kind
		folder string
		uid    string
	}{
		{"zimbra:300", format.KindContact, "Contacts", "zimbra-300"}, {"zimbra:301", format.KindContact, "Contacts", "zimbra-301"},
		{"zimbra:302", format.KindContact, "Clients", "own-uid-1"}, {"zimbra:400", format.KindEvent, "Team", "weekly-1"},
		{"zimbra:403", format.KindEvent, "Calendar", "single-1"}, {"zimbra:404", format.KindTask, "Tasks", "task-1"},
	} {
		got := item(t, s, w.id)
		if got.Kind != w.kind || got.Folder != w.folder || got.UID != w.uid || !got.Received.Equal(day) {
			t.Errorf("%s: kind %s folder %q uid %q received %v; want %s %q %q", w.id, got.Kind, got.Folder, got.UID, got.Received, w.kind, w.folder, w.uid)
		}
	}
	c := card(t, item(t, s, "zimbra:300").Body)
	if c.Value(vcard.FieldUID) != "zimbra-300" || c.Name().GivenName != "Jane" || c.Value(vcard.FieldEmail) != "jane@example.org" ||
		c.Value(vcard.FieldTelephone) != "+1 555" || c.Value(vcard.FieldCategories) != "Friends" {
		t.Errorf("Jane:\n%s", item(t, s, "zimbra:300").Body)
	}
	if p := c.Get(vcard.FieldPhoto); p == nil || p.Value != base64.StdEncoding.EncodeToString(photo) {
		t.Errorf("photo not carried:\n%s", item(t, s, "zimbra:300").Body)
	}
	var members []string
	for _, f := range card(t, item(t, s, "zimbra:301").Body)["X-ADDRESSBOOKSERVER-MEMBER"] {
		members = append(members, f.Value)
	}
	if strings.Join(members, " ") != "urn:uuid:zimbra-300 urn:uuid:zimbra-302 mailto:bob@example.org urn:uuid:other-acct:9" {
		t.Errorf("members %q", members)
	}
	// Own came after the group with a UID of its own, and the task's tag
	// has no place: said, not hidden.
	if len(s.Warnings) != 2 || s.Warnings[1].Item != `p.tgz: task 404 "Do it"` || !strings.Contains(s.Warnings[1].Reason, `["Urgent"] not carried`) ||
		s.Warnings[0].Item != `p.tgz: contact 301 "Team"` || s.Warnings[0].Folder != "Contacts" || !strings.Contains(s.Warnings[0].Reason, `"own-uid-1"`) {
		t.Errorf("warnings %+v", s.Warnings)
	}
	if n := item(t, s, "zimbra:404").Notes; len(n) != 1 || !strings.Contains(n[0], "Urgent") {
		t.Errorf("task notes %q", n)
	}
	ev := cal(t, item(t, s, "zimbra:400").Body)
	if n := len(ev.Children); n != 2 || ev.Props.Get(ical.PropMethod) != nil {
		t.Errorf("weekly:\n%s", item(t, s, "zimbra:400").Body)
	}
	if f := s.Folder("Team"); f == nil || f.Kind != format.FolderCalendar || f.Color != "#6acb9e" {
		t.Errorf("Team folder %+v", f)
	}
	td := cal(t, item(t, s, "zimbra:404").Body)
	if len(td.Children) != 1 || td.Children[0].Name != ical.CompToDo {
		t.Errorf("task:\n%s", item(t, s, "zimbra:404").Body)
	}
}

// With an account id, blobless contacts get Zimbra's own UID rule, and a
// group resolves this account's "<accountId>:<id>" references.
func TestContactUIDWithAccountID(t *testing.T) {
	a := zimbratest.Contact(300, "/Contacts", 7, "A", day, map[string]string{"fullName": "A", "vcardUID": "a-own"})
	g := zimbratest.Contact(301, "/Contacts", 7, "G", day, map[string]string{"type": "group", "fullName": "G",
		"groupMember": metadata.Encode(metadata.Map{"m": metadata.List{metadata.Map{"t": "C", "v": "acct-1:300"}}})})
	arch, err := exporttest.NewArchive()
	if err != nil {
		t.Fatal(err)
	}
	s := &exporttest.Sink{Archive: arch}
	src := &Source{Files: []string{write(t, t.TempDir(), "a.tgz", zimbratest.Options{}, a, g)}, AccountID: "acct-1"}
	if err := src.Export(context.Background(), s, export.Options{}); err != nil {
		t.Fatal(err)
	}
	if got := item(t, s, "zimbra:301"); got.UID != "acct-1:301" || card(t, got.Body).Value("X-ADDRESSBOOKSERVER-MEMBER") != "urn:uuid:a-own" {
		t.Errorf("group uid %q:\n%s", got.UID, got.Body)
	}
}

// meta=0: the .vcf, .ics and .task entries are kept byte for byte.
func TestContactsAndCalendarsNoMeta(t *testing.T) {
	vcf := "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:acct:300\r\nFN:Jane Doe\r\nN:Doe;Jane;;;\r\nEMAIL;TYPE=internet:jane@example.org\r\nEND:VCARD\r\n"
	todo := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VTODO\r\nUID:task-1\r\nSUMMARY:Do\r\nDTSTAMP:20240101T000000Z\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
	items := []zimbratest.Item{
		{ID: 300, Type: zimbratest.TypeContact, Folder: "/Contacts", FolderID: 7, FileAs: "Doe, Jane", Date: day, Blob: []byte(vcf)},
		{ID: 301, Type: zimbratest.TypeContact, Folder: "/Contacts", FolderID: 7, FileAs: "Broken", Date: day, Blob: []byte("BEGIN:VCARD\r\nFN:x\r\n")},
		{ID: 400, Type: zimbratest.TypeAppointment, Folder: "/Calendar", FolderID: 10, Subject: "Weekly", Date: day, Blob: []byte(weekly)},
		{ID: 401, Type: zimbratest.TypeTask, Folder: "/Tasks", FolderID: 15, Subject: "Do", Date: day, Blob: []byte(todo)},
	}
	s := run(t, export.Options{}, write(t, t.TempDir(), "n.tgz", zimbratest.Options{NoMeta: true}, items...))
	if len(s.Items) != 3 || len(s.Errors) != 1 || s.Errors[0].Folder != "Contacts" || !strings.Contains(s.Errors[0].Item, "Broken.vcf") {
		t.Fatalf("%d items, errors %+v", len(s.Items), s.Errors)
	}
	want := map[string]struct {
		kind   format.Kind
		folder string
		uid    string
		body   string
	}{"Contacts": {format.KindContact, "Contacts", "acct:300", vcf}, "Calendar": {format.KindEvent, "Calendar", "weekly-1", weekly},
		"Tasks": {format.KindTask, "Tasks", "task-1", todo}}
	for _, got := range s.Items {
		w := want[got.Folder]
		if got.Kind != w.kind || got.UID != w.uid || string(got.Body) != w.body {
			t.Errorf("%s: %s %q\n%s", got.Folder, got.Kind, got.UID, got.Body)
		}
	}
	if f := s.Folder("Contacts"); f == nil || f.Kind != format.FolderContacts {
		t.Errorf("Contacts folder %+v", f)
	}
}

// A contact or appointment blob is checked against its digest: a damaged
// one is reported, not exported, and a sound copy in a later file is.
func TestPIMBlobDigestChecked(t *testing.T) {
	photo := zimbratest.Attachment{Field: "image", Name: "p.jpg", ContentType: "image/jpeg", Data: []byte("jpeg")}
	c := zimbratest.Contact(300, "/Contacts", 7, "Pic", day, map[string]string{"fullName": "Pic"}, photo)
	// An epilogue after the last part, which a MIME reader need not read:
	// the digest is checked all the same.
	c.Blob = append(c.Blob, bytes.Repeat([]byte("epilogue\r\n"), 4000)...)
	a := zimbratest.Calendar(zimbratest.TypeAppointment, 400, "/Calendar", 10, "Weekly", "weekly-1", day, nil, zimbratest.Invite{ID: 401, ICS: weekly})
	badC, badA := c, a
	badC.BadDigest, badA.BadDigest = true, true
	dir := t.TempDir()
	damaged := write(t, dir, "a.tgz", zimbratest.Options{}, badC, badA)
	alone := run(t, export.Options{}, damaged)
	if len(alone.Errors) != 2 || len(alone.Items) != 0 {
		t.Fatalf("alone: errors %+v, %d items", alone.Errors, len(alone.Items))
	}
	for _, e := range alone.Errors {
		if !strings.HasPrefix(e.Item, "a.tgz: ") || !strings.Contains(e.Reason, "digest") {
			t.Errorf("error %+v", e)
		}
	}
	// With a sound copy after it, the damage is a warning.
	s := run(t, export.Options{}, damaged, write(t, dir, "b.tgz", zimbratest.Options{}, c, a))
	if len(s.Errors) != 0 || len(s.Items) != 2 || len(s.Warnings) != 2 {
		t.Fatalf("errors %+v, warnings %+v, %d items", s.Errors, s.Warnings, len(s.Items))
	}
	for _, w := range s.Warnings {
		if !strings.HasPrefix(w.Item, "a.tgz: ") || !strings.Contains(w.Reason, "digest") || !strings.Contains(w.Reason, "b.tgz") {
			t.Errorf("warning %+v", w)
		}
	}
}

// Items that cannot be converted are reported by file, id, folder and
// subject, and a cutoff applies to them as to messages.
func TestPIMCutoff(t *testing.T) {
	old := zimbratest.Contact(300, "/Contacts", 7, "Old", day.Add(-time.Hour), map[string]string{"fullName": "Old"})
	s := run(t, export.Options{After: day}, write(t, t.TempDir(), "c.tgz", zimbratest.Options{}, old,
		zimbratest.Contact(301, "/Contacts", 7, "New", day, map[string]string{"fullName": "New"})))
	if len(s.Items) != 1 || s.Skipped[export.SkipBeforeCutoff] != 1 {
		t.Errorf("%d items, skipped %v", len(s.Items), s.Skipped)
	}
}

// meta=0: Zimbra splits a folder every 500 items; two contacts with the
// same File-As land in "Contacts" and "Contacts!1" and are two items.
func TestNoMetaSameNameInSplitDirs(t *testing.T) {
	var items []zimbratest.Item
	for i := range 600 {
		fa := fmt.Sprintf("Person %03d", i)
		if i == 1 || i == 550 {
			fa = "Smith, John"
		}
		items = append(items, zimbratest.Item{ID: 1000 + i, Type: zimbratest.TypeContact, Folder: "/Contacts", FolderID: 7, FileAs: fa, Date: day,
			Blob: fmt.Appendf(nil, "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:acct:%d\r\nFN:%s\r\nEND:VCARD\r\n", 1000+i, fa)})
	}
	s := run(t, export.Options{}, write(t, t.TempDir(), "c.tgz", zimbratest.Options{NoMeta: true}, items...))
	uids := map[string]bool{}
	for _, it := range s.Items {
		uids[it.UID] = true
	}
	if len(s.Items) != 600 || len(uids) != 600 || len(s.Errors) != 0 {
		t.Errorf("%d of 600 contacts (%d UIDs), skipped %v, errors %v", len(s.Items), len(uids), s.Skipped, s.Errors)
	}
}

// bigData is n bytes that do not compress.
func bigData(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// An appointment and a contact whose attachment is within convert's
// budget but whose converted object is larger than a .ics or .vcf entry
// may be are exported with it; an attachment past the item's budget is
// noted and the item kept.
func TestLargeAttachmentsKeepTheItem(t *testing.T) {
	att := bigData(testBig, 1)
	var b strings.Builder
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/digest; boundary=\"=_d\"\r\n\r\n--=_d\r\nContent-Type: message/rfc822\r\ninvId: 401\r\n\r\n")
	b.WriteString("From: o@example.org\r\nSubject: big\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"=_i\"\r\n\r\n")
	b.WriteString("--=_i\r\nContent-Type: text/calendar; charset=utf-8\r\n\r\n" + strings.ReplaceAll(weekly, "METHOD:REQUEST\r\n", "") + "\r\n")
	for i, data := range [][]byte{att, bigData(4<<20, 2)} {
		fmt.Fprintf(&b, "--=_i\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"a%d.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", i)
		enc := base64.StdEncoding.EncodeToString(data)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	b.WriteString("--=_i--\r\n\r\n--=_d--\r\n")
	appt := zimbratest.Item{ID: 400, Type: zimbratest.TypeAppointment, Folder: "/Calendar", FolderID: 10, Subject: "big", Date: day,
		Blob: []byte(b.String()), Metadata: metadata.Encode(metadata.Map{"u": "weekly-1", "v": 10, "inv": metadata.List{metadata.Map{"mid": 401}}})}
	contact := zimbratest.Contact(410, "/Contacts", 7, "Big, Photo", day, map[string]string{"firstName": "Photo"},
		zimbratest.Attachment{Field: "image", Name: "p.jpg", ContentType: "image/jpeg", Data: att})
	s := run(t, export.Options{}, write(t, t.TempDir(), "big.tgz", zimbratest.Options{}, append(zimbratest.SystemFolders(), appt, contact)...))
	if len(s.Items) != 2 || len(s.Errors) != 0 {
		t.Fatalf("%d of 2 items, errors %v", len(s.Items), s.Errors)
	}
	ev := cal(t, s.Items[0].Body).Events()
	if len(ev) != 1 || len(ev[0].Props[ical.PropAttach]) != 1 {
		t.Fatalf("event %+v", ev)
	}
	if got, err := ev[0].Props[ical.PropAttach][0].Binary(); err != nil || !bytes.Equal(got, att) {
		t.Errorf("the 13 MiB attachment is not carried whole: %d bytes, %v", len(got), err)
	}
	if len(s.Items[0].Notes) != 1 || !strings.Contains(s.Items[0].Notes[0], "a1.pdf not carried") {
		t.Errorf("event notes %q; want the second attachment, past the item's budget, noted", s.Items[0].Notes)
	}
	// go-vcard takes minutes to unfold a 17 MiB line: the card is
	// unfolded here and its photo found by its encoding.
	unfolded := bytes.ReplaceAll(s.Items[1].Body, []byte("\r\n "), nil)
	if s.Items[1].UID != convert.ContactUID("", 410) || !bytes.Contains(unfolded, []byte(":"+base64.StdEncoding.EncodeToString(att)+"\r\n")) {
		t.Errorf("contact %s: the 13 MiB photo is not carried whole", s.Items[1].UID)
	}
}

var testBig = 13 << 20

// Non-ASCII folder, subject and File-As names, as Zimbra writes them in
// the tar headers, come through with meta=1 and meta=0 alike.
func TestNonASCIINames(t *testing.T) {
	folder := zimbratest.Item{ID: 300, Type: zimbratest.TypeFolder, Folder: "/", FolderID: 1, Name: "Entwürfe", Date: day}
	m := msg(301, "/Entwürfe", 300, "Grüße")
	c := zimbratest.Contact(302, "/Contacts", 7, "Müller, Jürgen", day, map[string]string{"firstName": "Jürgen", "lastName": "Müller"})
	s := run(t, export.Options{}, write(t, t.TempDir(), "u.tgz", zimbratest.Options{}, append(zimbratest.SystemFolders(), folder, m, c)...))
	if len(s.Items) != 2 || len(s.Errors) != 0 || s.Folder("Entwürfe") == nil {
		t.Fatalf("%d items, errors %v, folders %v", len(s.Items), s.Errors, s.Folders)
	}
	if it := s.Items[0]; it.Folder != "Entwürfe" || !bytes.Equal(it.Body, m.Blob) {
		t.Errorf("message %+v", it.Item)
	}
	if n := card(t, s.Items[1].Body).Name(); n == nil || n.GivenName != "Jürgen" || n.FamilyName != "Müller" {
		t.Errorf("contact name %+v", n)
	}
	vcf := zimbratest.Item{ID: 302, Type: zimbratest.TypeContact, Folder: "/Contacts", FolderID: 7, FileAs: "Müller, Jürgen", Date: day,
		Blob: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u-302\r\nFN:Jürgen Müller\r\nEND:VCARD\r\n")}
	s = run(t, export.Options{}, write(t, t.TempDir(), "u0.tgz", zimbratest.Options{NoMeta: true}, m, vcf))
	if len(s.Items) != 2 || len(s.Errors) != 0 || s.Items[0].Folder != "Entwürfe" || s.Items[1].SourceID != "zimbra:/Contacts/Müller, Jürgen.vcf" {
		t.Errorf("meta=0: %d items, errors %v, %+v", len(s.Items), s.Errors, s.Items)
	}
}

// An appointment whose metadata lists an exception its blob lacks, and
// which the metadata cannot rebuild, is kept without it, and the lost
// instance is an error naming the item: exporting nothing of it would
// lose more, and a warning alone would hide the loss.
func TestInviteLostFromBlobKeepsTheRest(t *testing.T) {
	appt := zimbratest.Calendar(zimbratest.TypeAppointment, 400, "/Calendar", 10, "Weekly", "weekly-1", day, nil,
		zimbratest.Invite{ID: 401, ICS: weekly})
	md, err := metadata.Decode(appt.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	inv, _ := md.List("inv")
	md["inv"] = append(inv, metadata.Map{"mid": 402, "u": "weekly-1", "rid": metadata.Map{"dt": "20240115T090000Z"}})
	appt.Metadata = metadata.Encode(md)
	s := run(t, export.Options{}, write(t, t.TempDir(), "p.tgz", zimbratest.Options{}, append(zimbratest.SystemFolders(), appt)...))
	if len(s.Items) != 1 || s.Items[0].UID != "weekly-1" {
		t.Fatalf("%d items %+v, want the appointment kept", len(s.Items), s.Items)
	}
	if len(s.Errors) != 1 || !strings.Contains(s.Errors[0].Reason, "invite 402") || !strings.Contains(s.Errors[0].Item, `appointment 400 "Weekly"`) {
		t.Errorf("errors %+v, want the lost invite 402 of appointment 400", s.Errors)
	}
}
