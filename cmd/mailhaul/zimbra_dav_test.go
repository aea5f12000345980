package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-vcard"

	"github.com/mailhaul/mailhaul/export/zimbra/metadata"
	"github.com/mailhaul/mailhaul/export/zimbra/zimbratest"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// zimbraPIM is what the PIM export of a Zimbra mailbox holds, as Zimbra's
// metadata and blobs (meta=1) or its .vcf/.ics/.task entries (meta=0).
type zimbraPIM struct {
	photo []byte
	items []zimbratest.Item
}

var (
	zJane = map[string]string{"firstName": "Zoë", "lastName": "Þórsdóttir", "email": "zoe@example.is", "mobilePhone": "+354 555 1234",
		"company": "Fyrirtæki hf", "jobTitle": "Forstjóri", "notes": "line one\nline two", "birthday": "1980-02-29", "homeURL": "https://home.example"}
	zWeekly = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Zimbra//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:weekly-1\r\nSUMMARY:Wöchentlich\r\n" +
		"LOCATION:Raum 1\r\nDTSTART:20240108T090000Z\r\nDTEND:20240108T100000Z\r\nRRULE:FREQ=WEEKLY;COUNT=5\r\nDTSTAMP:20240101T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	zMoved = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Zimbra//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:weekly-1\r\nSUMMARY:Verschoben\r\n" +
		"RECURRENCE-ID:20240115T090000Z\r\nDTSTART:20240115T110000Z\r\nDTEND:20240115T120000Z\r\nDTSTAMP:20240102T000000Z\r\nSEQUENCE:1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	zSingle = metadata.Map{"u": "single-1", "st": "20240708T090000Z", "et": "20240708T100000Z", "n": "Einzeln", "l": "Büro",
		"dts": int64(1704067200000)}
	zTask = metadata.Map{"it": 15, "u": "task-1", "n": "Erledigen", "et": "20240401T120000Z", "dts": int64(1704067200000), "status": "INPR",
		"pctcompl": "50"}
)

// zimbraPIMItems are a contact with a photo, a group naming it and an
// inline address, a recurring appointment with a moved instance (a blob),
// an appointment and a task with only metadata, in a user-made calendar.
func zimbraPIMItems() zimbraPIM {
	photo := bytes.Repeat([]byte("\xff\xd8\xff\xe0 JFIF \x00\x01"), 40)
	jane := zimbratest.Contact(300, "/Contacts", 7, "Thorsdottir, Zoe", zday, zJane,
		zimbratest.Attachment{Field: "image", Name: "zoe.jpg", ContentType: "image/jpeg", Data: photo})
	group := zimbratest.Contact(301, "/Contacts", 7, "Team", zday, map[string]string{"type": "group", "fileAs": "8:Team", "nickname": "Team",
		"groupMember": metadata.Encode(metadata.Map{"m": metadata.List{metadata.Map{"t": "C", "v": "300"}, metadata.Map{"t": "I", "v": "Bob <bob@example.org>"}}})})
	weekly := zimbratest.Calendar(zimbratest.TypeAppointment, 400, "/Work", 700, "Weekly", "weekly-1", zday, nil,
		zimbratest.Invite{ID: 401, ICS: zWeekly}, zimbratest.Invite{ID: 402, ICS: zMoved})
	single := zimbratest.Calendar(zimbratest.TypeAppointment, 403, "/Calendar", 10, "Einzeln", "single-1", zday, zSingle)
	task := zimbratest.Calendar(zimbratest.TypeTask, 404, "/Tasks", 15, "Erledigen", "task-1", zday, zTask)
	work := zimbratest.Item{ID: 700, Type: zimbratest.TypeFolder, Folder: "/", FolderID: 1, Name: "Work", Date: zday,
		Metadata: metadata.Encode(metadata.Map{"vt": 11, "c": 0x01000000 | 0x336699})}
	return zimbraPIM{photo: photo, items: append(zimbratest.SystemFolders(), work, jane, group, weekly, single, task)}
}

// radicaleObjects reads what Radicale stores for user: each collection's
// display name and its objects' text.
func radicaleObjects(t *testing.T, r *testservers.Radicale, user string) map[string][][]byte {
	t.Helper()
	root := filepath.Join(r.Storage, "collection-root", user)
	cols, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][][]byte{}
	for _, c := range cols {
		if !c.IsDir() {
			continue
		}
		var props map[string]string
		b, _ := os.ReadFile(filepath.Join(root, c.Name(), ".Radicale.props"))
		json.Unmarshal(b, &props)
		name := props["D:displayname"]
		files, _ := os.ReadDir(filepath.Join(root, c.Name()))
		for _, f := range files {
			if f.IsDir() || strings.HasPrefix(f.Name(), ".") {
				continue
			}
			b, err := os.ReadFile(filepath.Join(root, c.Name(), f.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[name] = append(out[name], b)
		}
	}
	return out
}

// exportZimbraIntoRadicale exports a Zimbra tgz and imports the archive
// into a fresh Radicale, returning the stored objects.
func exportZimbraIntoRadicale(t *testing.T, opt zimbratest.Options, items []zimbratest.Item) map[string][][]byte {
	t.Helper()
	r := testservers.StartRadicale(t, map[string]string{"zed": "zed-secret"})
	p := filepath.Join(t.TempDir(), "z.tgz")
	os.WriteFile(p, zimbratest.Build(t, opt, items...), 0o600)
	out := t.TempDir()
	mustRun(t, "-q", "export", "zimbra", "--from-tgz", p, "--user", "zed", "--out", out)
	importIntoRadicale(t, r, filepath.Join(out, "zed.tgz"))
	return radicaleObjects(t, r, "zed")
}

// importIntoRadicale imports archives, in order and with one state
// directory, into r for zed.
func importIntoRadicale(t *testing.T, r *testservers.Radicale, archives ...string) {
	t.Helper()
	pw, state := writePassword(t, "zed-secret"), t.TempDir()
	for _, a := range archives {
		if code, stdout, stderr := mailhaul(t, "-q", "import", "dav", a, "--url", r.URL, "--user", "zed",
			"--password-file", pw, "--state", state); code != exitOK {
			t.Fatalf("import %s: exit %d\n%s\n%s", a, code, stdout, stderr)
		}
	}
}

func decodeCards(t *testing.T, objs [][]byte) map[string]vcard.Card {
	t.Helper()
	cards := map[string]vcard.Card{}
	for _, b := range objs {
		c, err := vcard.NewDecoder(bytes.NewReader(b)).Decode()
		if err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		cards[c.Value(vcard.FieldUID)] = c
	}
	return cards
}

func decodeEvents(t *testing.T, objs [][]byte) map[string][]*ical.Component {
	t.Helper()
	comps := map[string][]*ical.Component{}
	for _, b := range objs {
		cal, err := ical.NewDecoder(bytes.NewReader(b)).Decode()
		if err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		for _, c := range cal.Children {
			if c.Name == ical.CompEvent || c.Name == ical.CompToDo {
				comps[c.Props.Get(ical.PropUID).Value] = append(comps[c.Props.Get(ical.PropUID).Value], c)
			}
		}
	}
	return comps
}

func prop(c *ical.Component, name string) string {
	if p := c.Props.Get(name); p != nil {
		return p.Value
	}
	return ""
}

// checkZimbraCalendars compares the server's events and task with what
// the Zimbra items said.
func checkZimbraCalendars(t *testing.T, got map[string][][]byte, calendar, work, tasks string) {
	t.Helper()
	weekly := decodeEvents(t, got[work])["weekly-1"]
	if len(weekly) != 2 {
		t.Fatalf("weekly-1 in %q: %d components", work, len(weekly))
	}
	master, moved := weekly[0], weekly[1]
	if master.Props.Get(ical.PropRecurrenceID) != nil {
		master, moved = moved, master
	}
	for _, c := range []struct{ got, want string }{
		{prop(master, ical.PropSummary), "Wöchentlich"}, {prop(master, ical.PropLocation), "Raum 1"},
		{prop(master, ical.PropDateTimeStart), "20240108T090000Z"}, {prop(master, ical.PropDateTimeEnd), "20240108T100000Z"},
		{prop(master, ical.PropRecurrenceRule), "FREQ=WEEKLY;COUNT=5"}, {prop(moved, ical.PropSummary), "Verschoben"},
		{prop(moved, ical.PropRecurrenceID), "20240115T090000Z"}, {prop(moved, ical.PropDateTimeStart), "20240115T110000Z"},
	} {
		if c.got != c.want {
			t.Errorf("weekly-1: %q, want %q", c.got, c.want)
		}
	}
	single := decodeEvents(t, got[calendar])["single-1"]
	if len(single) != 1 || prop(single[0], ical.PropSummary) != zSingle["n"] || prop(single[0], ical.PropLocation) != zSingle["l"] ||
		prop(single[0], ical.PropDateTimeStart) != zSingle["st"] || prop(single[0], ical.PropDateTimeEnd) != zSingle["et"] {
		t.Errorf("single-1 in %q: %+v", calendar, single)
	}
	task := decodeEvents(t, got[tasks])["task-1"]
	if len(task) != 1 || task[0].Name != ical.CompToDo || prop(task[0], ical.PropSummary) != zTask["n"] ||
		prop(task[0], ical.PropDue) != zTask["et"] || prop(task[0], ical.PropStatus) != "IN-PROCESS" || prop(task[0], ical.PropPercentComplete) != "50" {
		t.Errorf("task-1 in %q: %+v", tasks, task)
	}
}

// A Zimbra export (meta=1: contact fields only in the metadata, a photo
// blob, a group, appointments from a blob and from metadata, a task),
// through mailhaul's archive, into the real Radicale: each contact and
// event equal field by field to what Zimbra's metadata said.
func TestZimbraTgzIntoRadicale(t *testing.T) {
	z := zimbraPIMItems()
	got := exportZimbraIntoRadicale(t, zimbratest.Options{}, z.items)
	if cards := checkZimbraContacts(t, got["Contacts"], z, "zimbra-300", "zimbra-301"); len(cards) != 2 {
		t.Errorf("%d cards in Contacts, want 2", len(cards))
	}
	checkZimbraCalendars(t, got, "Calendar", "Work", "Tasks")
}

// checkZimbraContacts compares the server's address book with the
// contacts of zimbraPIMItems (contact 300 and group 301, by the UIDs
// the export gave them) and gives its cards by UID.
func checkZimbraContacts(t *testing.T, objs [][]byte, z zimbraPIM, uid300, uid301 string) map[string]vcard.Card {
	t.Helper()
	cards := decodeCards(t, objs)
	jane, ok := cards[uid300]
	if _, group := cards[uid301]; !ok || !group {
		t.Fatalf("cards in Contacts: %v, want %s and %s", slices.Sorted(maps.Keys(cards)), uid300, uid301)
	}
	n := jane.Name()
	for _, c := range []struct{ got, want string }{
		{n.GivenName, zJane["firstName"]}, {n.FamilyName, zJane["lastName"]}, {jane.Value(vcard.FieldEmail), zJane["email"]},
		{jane.Value(vcard.FieldTelephone), zJane["mobilePhone"]}, {jane.Value(vcard.FieldOrganization), zJane["company"]},
		{jane.Value(vcard.FieldTitle), zJane["jobTitle"]}, {jane.Value(vcard.FieldNote), zJane["notes"]},
		{jane.Value(vcard.FieldBirthday), zJane["birthday"]}, {jane.Value(vcard.FieldURL), zJane["homeURL"]},
	} {
		if c.got != c.want {
			t.Errorf("contact 300: %q, want %q", c.got, c.want)
		}
	}
	if p := jane.Get(vcard.FieldPhoto); p == nil {
		t.Error("contact 300: no photo on the server")
	} else if b, err := base64.StdEncoding.DecodeString(p.Value); err != nil || !bytes.Equal(b, z.photo) {
		t.Errorf("contact 300: photo differs (%v)", err)
	}
	var members []string
	for _, f := range cards[uid301]["X-ADDRESSBOOKSERVER-MEMBER"] {
		members = append(members, f.Value)
	}
	if slices.Sort(members); !slices.Equal(members, []string{"mailto:bob@example.org", "urn:uuid:" + uid300}) {
		t.Errorf("group members on the server: %q", members)
	}
	return cards
}

// The same through a meta=0 export: its .vcf, .ics and .task entries.
func TestZimbraTgzNoMetaIntoRadicale(t *testing.T) {
	vcf := "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:acct-1:300\r\nFN:Zoë Þórsdóttir\r\nN:Þórsdóttir;Zoë;;;\r\nEMAIL;TYPE=internet:zoe@example.is\r\n" +
		"TEL;TYPE=cell:+354 555 1234\r\nORG:Fyrirtæki hf\r\nEND:VCARD\r\n"
	single := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Zimbra//EN\r\nBEGIN:VEVENT\r\nUID:single-1\r\nSUMMARY:Einzeln\r\nLOCATION:Büro\r\n" +
		"DTSTART:20240708T090000Z\r\nDTEND:20240708T100000Z\r\nDTSTAMP:20240101T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	task := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Zimbra//EN\r\nBEGIN:VTODO\r\nUID:task-1\r\nSUMMARY:Erledigen\r\nDUE:20240401T120000Z\r\n" +
		"STATUS:IN-PROCESS\r\nPERCENT-COMPLETE:50\r\nDTSTAMP:20240101T000000Z\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
	weekly := strings.Replace(zWeekly, "END:VCALENDAR\r\n", "", 1) + zMoved[strings.Index(zMoved, "BEGIN:VEVENT"):]
	weekly = strings.Replace(weekly, "METHOD:REQUEST\r\n", "", 1)
	items := []zimbratest.Item{
		{ID: 300, Type: zimbratest.TypeContact, Folder: "/Contacts", FolderID: 7, FileAs: "Thorsdottir, Zoe", Date: zday, Blob: []byte(vcf)},
		{ID: 400, Type: zimbratest.TypeAppointment, Folder: "/Work", FolderID: 700, Subject: "Weekly", Date: zday, Blob: []byte(weekly)},
		{ID: 403, Type: zimbratest.TypeAppointment, Folder: "/Calendar", FolderID: 10, Subject: "Einzeln", Date: zday, Blob: []byte(single)},
		{ID: 404, Type: zimbratest.TypeTask, Folder: "/Tasks", FolderID: 15, Subject: "Erledigen", Date: zday, Blob: []byte(task)},
	}
	got := exportZimbraIntoRadicale(t, zimbratest.Options{NoMeta: true}, items)
	c, ok := decodeCards(t, got["Contacts"])["acct-1:300"]
	if !ok || c.Name().GivenName != "Zoë" || c.Name().FamilyName != "Þórsdóttir" || c.Value(vcard.FieldEmail) != "zoe@example.is" ||
		c.Value(vcard.FieldTelephone) != "+354 555 1234" || c.Value(vcard.FieldOrganization) != "Fyrirtæki hf" {
		t.Errorf("contact on the server: %+v", c)
	}
	checkZimbraCalendars(t, got, "Calendar", "Work", "Tasks")
}

// A contact without a UID of its own takes zimbra-<id> from a tgz, and
// with --account-id the <zimbraId>:<id> a live export gives it, so that a
// tgz pre-migration and a live cutover name it alike.
func TestExportZimbraTgzAccountID(t *testing.T) {
	p := filepath.Join(t.TempDir(), "z.tgz")
	os.WriteFile(p, zimbratest.Build(t, zimbratest.Options{}, zimbraPIMItems().items...), 0o600)
	for _, c := range []struct{ flag, want string }{{"", "zimbra-300"}, {"8d2c-acct", "8d2c-acct:300"}} {
		out := t.TempDir()
		args := []string{"-q", "export", "zimbra", "--from-tgz", p, "--user", "zed", "--out", out}
		if c.flag != "" {
			args = append(args, "--account-id", c.flag)
		}
		mustRun(t, args...)
		items, _ := archiveItems(t, filepath.Join(out, "zed.tgz"))
		var uids []string
		for _, it := range items {
			if it.Kind == format.KindContact {
				uids = append(uids, it.UID)
			}
		}
		if !slices.Contains(uids, c.want) {
			t.Errorf("--account-id %q: contact UIDs %q, want %q among them", c.flag, uids, c.want)
		}
	}
	if code, _, stderr := mailhaul(t, "export", "zimbra", "--url", "https://127.0.0.1:1", "--user", "zed", "--account-id", "x",
		"--out", t.TempDir()); code == exitOK || !strings.Contains(stderr, "--account-id is for --from-tgz") {
		t.Errorf("--account-id with --url: exit %d, %s", code, stderr)
	}
}

// startLivePIM serves zimbraPIMItems from a fake live Zimbra, the Work
// calendar's view in its folder tree as Zimbra gives it.
func startLivePIM(t *testing.T) (*liveZimbra, zimbraPIM) {
	t.Helper()
	z := zimbraPIMItems()
	lz := startLiveZimbra(t, "zed", zimbratest.ServerOptions{}, z.items...)
	lz.mu.Lock()
	lz.mb.Views = map[int]string{700: "appointment"}
	lz.mu.Unlock()
	lz.add("zed")
	return lz, z
}

// From a live Zimbra (the fake, over verified TLS: contacts with
// non-ASCII names and a photo, a group, appointments, a task), through
// the archive, into the real Radicale: each contact and event equal
// field by field to what the fake holds. A live export names contacts
// <zimbraId>:<id>, as Zimbra's own vCards do.
func TestExportZimbraLiveIntoRadicale(t *testing.T) {
	lz, z := startLivePIM(t)
	out := t.TempDir()
	mustRun(t, append([]string{"-q", "export", "zimbra", "--user", "zed", "--out", out}, lz.args...)...)
	r := testservers.StartRadicale(t, map[string]string{"zed": "zed-secret"})
	importIntoRadicale(t, r, filepath.Join(out, "zed.tgz"))
	got := radicaleObjects(t, r, "zed")
	if cards := checkZimbraContacts(t, got["Contacts"], z, "zid-zed:300", "zid-zed:301"); len(cards) != 2 {
		t.Errorf("%d cards in Contacts, want 2", len(cards))
	}
	checkZimbraCalendars(t, got, "Calendar", "Work", "Tasks")
	if n := len(got["Calendar"]) + len(got["Work"]) + len(got["Tasks"]); n != 3 {
		t.Errorf("%d calendar objects on the server, want 3", n)
	}
}

// A live pre-migration, then a contact and an appointment arrive, then
// an --after delta: both archives imported into Radicale give exactly
// the union, each object once.
func TestExportZimbraLivePIMDeltaUnion(t *testing.T) {
	lz, z := startLivePIM(t)
	pre, delta := t.TempDir(), t.TempDir()
	mustRun(t, append([]string{"-q", "export", "zimbra", "--user", "zed", "--out", pre}, lz.args...)...)
	later := zday.Add(48 * time.Hour)
	newContact := zimbratest.Contact(310, "/Contacts", 7, "Ólafsson, Ásgeir", later,
		map[string]string{"firstName": "Ásgeir", "lastName": "Ólafsson", "email": "asgeir@example.is"})
	newEvent := zimbratest.Calendar(zimbratest.TypeAppointment, 410, "/Calendar", 10, "Später", "later-1", later,
		metadata.Map{"u": "later-1", "st": "20240801T090000Z", "et": "20240801T100000Z", "n": "Später", "dts": int64(1704067200000)})
	lz.add("zed", newContact, newEvent)
	mustRun(t, append([]string{"-q", "export", "zimbra", "--user", "zed", "--out", delta, "--after", zday.Add(time.Hour).Format(time.RFC3339)}, lz.args...)...)
	deltas, _ := filepath.Glob(filepath.Join(delta, "zed.after-*.tgz"))
	if len(deltas) != 1 {
		t.Fatalf("delta archives %v", deltas)
	}
	if items, _ := archiveItems(t, deltas[0]); len(items) != 2 {
		t.Errorf("the delta holds %d items, want the 2 new ones: %v", len(items), items)
	}
	r := testservers.StartRadicale(t, map[string]string{"zed": "zed-secret"})
	importIntoRadicale(t, r, filepath.Join(pre, "zed.tgz"), deltas[0])
	got := radicaleObjects(t, r, "zed")
	cards := checkZimbraContacts(t, got["Contacts"], z, "zid-zed:300", "zid-zed:301")
	if c, ok := cards["zid-zed:310"]; len(cards) != 3 || !ok || c.Name().GivenName != "Ásgeir" || c.Name().FamilyName != "Ólafsson" ||
		c.Value(vcard.FieldEmail) != "asgeir@example.is" {
		t.Errorf("%d cards in Contacts (%v), want 3 with the new one", len(cards), slices.Sorted(maps.Keys(cards)))
	}
	checkZimbraCalendars(t, got, "Calendar", "Work", "Tasks")
	events := decodeEvents(t, got["Calendar"])
	if l := events["later-1"]; len(events) != 2 || len(l) != 1 || prop(l[0], ical.PropSummary) != "Später" || prop(l[0], ical.PropDateTimeStart) != "20240801T090000Z" {
		t.Errorf("Calendar holds %d UIDs, later-1 %+v; want single-1 and later-1", len(events), l)
	}
	if n := len(got["Calendar"]) + len(got["Work"]) + len(got["Tasks"]); n != 4 {
		t.Errorf("%d calendar objects on the server, want the union of 4", n)
	}
}
