package zimbra

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/export/zimbra/metadata"
	"github.com/mailhaul/mailhaul/export/zimbra/zimbratest"
	"github.com/mailhaul/mailhaul/format"
)

var day = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func msg(id int, folder string, folderID int, subject string) zimbratest.Item {
	return zimbratest.Message(id, folder, folderID, subject, day.Add(time.Duration(id)*time.Minute))
}

// write writes an export to a file in dir.
func write(t *testing.T, dir, name string, opt zimbratest.Options, items ...zimbratest.Item) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, zimbratest.Build(t, opt, items...), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, opt export.Options, files ...string) *exporttest.Sink {
	t.Helper()
	arch, err := exporttest.NewArchive()
	if err != nil {
		t.Fatal(err)
	}
	sink := &exporttest.Sink{Archive: arch}
	if err := (&Source{Files: files}).Export(context.Background(), sink, opt); err != nil {
		t.Fatal(err)
	}
	return sink
}

func item(t *testing.T, s *exporttest.Sink, sourceID string) exporttest.Item {
	t.Helper()
	for _, it := range s.Items {
		if it.SourceID == sourceID {
			return it
		}
	}
	t.Fatalf("no item %s among %d", sourceID, len(s.Items))
	return exporttest.Item{}
}

func TestFullExport(t *testing.T) {
	dir := t.TempDir()
	unread := msg(300, "/Inbox", 2, "unread")
	unread.Unread = 1
	replied := msg(301, "/Inbox", 2, "RE: replied")
	replied.Flags, replied.Tags = zimbratest.FlagReplied|zimbratest.FlagAttached|zimbratest.FlagFlagged, []string{"Work", "my tag", `a:b`}
	fwd := msg(302, "/Sent", 5, "fwd")
	fwd.Flags, fwd.Digest = zimbratest.FlagSent|zimbratest.FlagForwarded|zimbratest.FlagNotified, zimbratest.SHA1
	items := append(zimbratest.SystemFolders(),
		zimbratest.Item{ID: 257, Type: zimbratest.TypeFolder, Folder: "/Inbox", FolderID: 2, Name: "Empty", Date: day},
		zimbratest.Item{ID: 258, Type: zimbratest.TypeFolder, Folder: "/", FolderID: 1, Name: "Archive", Date: day},
		zimbratest.Item{ID: 259, Type: zimbratest.TypeTag, Folder: "/Tags", FolderID: 8, Name: "Work", Date: day},
		unread, replied, fwd, msg(303, "/Archive", 258, "old"))
	s := run(t, export.Options{}, write(t, dir, "u.tgz", zimbratest.Options{}, items...))
	if len(s.Errors) != 0 || len(s.Warnings) != 0 {
		t.Fatalf("errors %v warnings %v", s.Errors, s.Warnings)
	}
	wantFolders := map[string]struct {
		kind format.FolderKind
		role format.Role
	}{
		"INBOX": {format.FolderMail, format.RoleInbox}, "Sent": {format.FolderMail, format.RoleSent},
		"Drafts": {format.FolderMail, format.RoleDrafts}, "Trash": {format.FolderMail, format.RoleTrash},
		"Junk": {format.FolderMail, format.RoleJunk}, "INBOX/Empty": {format.FolderMail, ""},
		"Archive": {format.FolderMail, format.RoleArchive}, "Contacts": {format.FolderContacts, ""},
		"Emailed Contacts": {format.FolderContacts, ""}, "Calendar": {format.FolderCalendar, ""},
		"Tasks": {format.FolderCalendar, ""},
	}
	for _, f := range s.Folders {
		w, ok := wantFolders[f.Path]
		if !ok || w.kind != f.Kind || w.role != f.Role {
			t.Errorf("folder %+v unexpected", f)
		}
		delete(wantFolders, f.Path)
	}
	if len(wantFolders) != 0 {
		t.Errorf("folders missing: %v", wantFolders)
	}
	if n := s.Skipped[fmt.Sprintf(skipNotMigrated, "folder of documents, chats or wiki pages")]; n != 2 {
		t.Errorf("Briefcase and Chats: %d skipped (%v)", n, s.Skipped)
	}
	if len(s.Items) != 4 {
		t.Fatalf("%d items", len(s.Items))
	}
	for _, c := range []struct {
		it     zimbratest.Item
		folder string
		flags  []string
	}{
		{unread, "INBOX", nil},
		{replied, "INBOX", []string{`\Seen`, `\Answered`, `\Flagged`, "Work", "my_tag", "a:b"}},
		{fwd, "Sent", []string{`\Seen`, "$Forwarded", "$MDNSent"}},
	} {
		got := item(t, s, fmt.Sprint("zimbra:", c.it.ID))
		if string(got.Body) != string(c.it.Blob) || got.Folder != c.folder || !got.Received.Equal(c.it.Date) ||
			got.Kind != format.KindMessage || !slices.Equal(got.Flags, c.flags) {
			t.Errorf("item %d: folder %q received %v flags %q body %q; want %q %v %q", c.it.ID, got.Folder, got.Received, got.Flags, got.Body, c.folder, c.it.Date, c.flags)
		}
	}
	if n := item(t, s, "zimbra:301").Notes; len(n) != 1 || !strings.Contains(n[0], `"my tag"`) {
		t.Errorf("notes %q", n)
	}
}

// The root export plus /Trash and /Junk, and a root export taken again:
// one archive, every item once.
func TestMergeWithoutDuplicates(t *testing.T) {
	dir := t.TempDir()
	sys := zimbratest.SystemFolders()
	trashMeta := sys[len(sys)-1]
	root := write(t, dir, "root.tgz", zimbratest.Options{}, append(sys, msg(300, "/Inbox", 2, "a"), msg(301, "/Inbox", 2, "b"))...)
	trash := write(t, dir, "trash.tgz", zimbratest.Options{}, trashMeta, msg(310, "/Trash", 3, "deleted"))
	// A queried export (no folder entries) of Junk, overlapping the root.
	junk := write(t, dir, "junk.tgz", zimbratest.Options{}, msg(320, "/Junk", 4, "spam"), msg(301, "/Inbox", 2, "b"))
	s := run(t, export.Options{}, root, trash, junk)
	var ids []string
	for _, it := range s.Items {
		ids = append(ids, it.SourceID+"@"+it.Folder)
	}
	want := []string{"zimbra:300@INBOX", "zimbra:301@INBOX", "zimbra:310@Trash", "zimbra:320@Junk"}
	if !slices.Equal(ids, want) || s.Skipped[SkipDuplicate] != 1 || len(s.Errors) != 0 {
		t.Errorf("items %q (skipped %v, errors %v), want %q", ids, s.Skipped, s.Errors, want)
	}
	if f := s.Folder("Junk"); f == nil || f.Role != format.RoleJunk {
		t.Errorf("Junk folder %+v", f)
	}
}

// A queried export has no folder entries: folders come from the items'
// paths, roles from Zimbra's fixed names.
func TestFoldersFromItemPaths(t *testing.T) {
	s := run(t, export.Options{}, write(t, t.TempDir(), "q.tgz", zimbratest.Options{},
		msg(300, "/Inbox/Sub: x", 500, "a"), msg(301, "/Sent", 5, "b"), msg(302, "/Projects", 600, "c")))
	for _, c := range []struct {
		path string
		role format.Role
	}{{"INBOX/Sub: x", ""}, {"Sent", format.RoleSent}, {"Projects", ""}} {
		if f := s.Folder(c.path); f == nil || f.Role != c.role || f.Kind != format.FolderMail {
			t.Errorf("folder %q: %+v", c.path, f)
		}
	}
}

func TestNoMeta(t *testing.T) {
	var items []zimbratest.Item
	for i := range 1001 {
		items = append(items, msg(1000+i, "/Inbox", 2, "m"))
	}
	unread := msg(3000, "/Work", 600, "w")
	items = append(items, unread)
	s := run(t, export.Options{}, write(t, t.TempDir(), "m0.tgz", zimbratest.Options{NoMeta: true}, items...))
	if len(s.Items) != 1002 || len(s.Errors) != 0 {
		t.Fatalf("%d items, errors %v", len(s.Items), s.Errors)
	}
	if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0].Reason, "meta=0") || s.Warnings[0].Item != "m0.tgz" {
		t.Errorf("warnings %v; want one saying what a meta=0 export lacks", s.Warnings)
	}
	folders := map[string]int{}
	for _, it := range s.Items {
		folders[it.Folder]++
		// The entry's mtime: msg dates item id N at day + N minutes.
		var id int
		if _, err := fmt.Sscanf(path.Base(it.SourceID), "%010d-", &id); err != nil {
			t.Fatalf("%s: %v", it.SourceID, err)
		}
		if want := day.Add(time.Duration(id) * time.Minute); !it.Received.Equal(want) {
			t.Errorf("%s: received %v, want %v", it.SourceID, it.Received, want)
		}
	}
	if folders["INBOX"] != 1001 || folders["Work"] != 1 || len(folders) != 2 {
		t.Errorf("folders %v: the !N split must be undone", folders)
	}
	if f := s.Folder("INBOX"); f == nil || f.Role != format.RoleInbox {
		t.Errorf("INBOX %+v", f)
	}
	got := s.Items[len(s.Items)-1]
	if !got.Received.Equal(unread.Date) || string(got.Body) != string(unread.Blob) {
		t.Errorf("meta=0 item: received %v body %q", got.Received, got.Body)
	}
}

func TestOtherItemsReported(t *testing.T) {
	items := append(zimbratest.SystemFolders(),
		zimbratest.Item{ID: 400, Type: zimbratest.TypeContact, Folder: "/Contacts", FolderID: 7, FileAs: "Doe, Jane", Date: day},
		zimbratest.Item{ID: 401, Type: zimbratest.TypeAppointment, Folder: "/Calendar", FolderID: 10, Subject: "Meeting", Date: day, Blob: []byte("MIME")},
		zimbratest.Item{ID: 402, Type: zimbratest.TypeTask, Folder: "/Tasks", FolderID: 15, Subject: "Do it", Date: day},
		zimbratest.Item{ID: 403, Type: zimbratest.TypeDocument, Folder: "/Briefcase", FolderID: 16, Name: "a.pdf", Date: day, Blob: []byte("%PDF")},
		zimbratest.Item{ID: 404, Type: zimbratest.TypeSearchFolder, Folder: "/", FolderID: 1, Name: "Unread", Date: day},
		zimbratest.Item{ID: 405, Type: zimbratest.TypeMountpoint, Folder: "/", FolderID: 1, Name: "Shared", Date: day},
		zimbratest.Item{ID: 406, Type: zimbratest.TypeNote, Folder: "/Inbox", FolderID: 2, Subject: "note", Date: day, Blob: []byte("n")},
		zimbratest.Item{ID: 407, Type: zimbratest.TypeConversation, Folder: "/Conversations", FolderID: 9, Subject: "c", Date: day},
		zimbratest.Item{ID: 8, Type: zimbratest.TypeFolder, Folder: "/", FolderID: 11, Name: "Tags", Date: day},
	)
	s := run(t, export.Options{}, write(t, t.TempDir(), "o.tgz", zimbratest.Options{Style: zimbratest.ZCS5}, items...))
	// Contacts, appointments and tasks that cannot be converted are
	// reported by file, id, folder and subject, with the reason.
	want := []format.Problem{
		{Folder: "Contacts", Item: `o.tgz: contact 400 "Doe, Jane"`, Reason: "not converted: contact: no fields"},
		{Folder: "Calendar", Item: `o.tgz: appointment 401 "Meeting"`, Reason: "not converted: calendar blob: "},
		{Folder: "Tasks", Item: `o.tgz: task 402 "Do it"`, Reason: "not converted: calendar metadata: no invites"},
	}
	if len(s.Errors) != len(want) {
		t.Fatalf("errors %+v, want %+v", s.Errors, want)
	}
	for i, w := range want {
		if e := s.Errors[i]; e.Folder != w.Folder || e.Item != w.Item || !strings.HasPrefix(e.Reason, w.Reason) {
			t.Errorf("error %+v, want %+v", e, w)
		}
	}
	for _, what := range []string{"document", "search folder", "mountpoint", "note"} {
		if s.Skipped[fmt.Sprintf(skipNotMigrated, what)] != 1 {
			t.Errorf("%s not counted: %v", what, s.Skipped)
		}
	}
	if s.Folder("Tags") != nil || s.Skipped[skipInternal] != 1 {
		t.Errorf("Tags folder: %+v, skipped %v", s.Folder("Tags"), s.Skipped)
	}
	if s.Skipped[skipConversation] != 1 || len(s.Items) != 0 {
		t.Errorf("skipped %v, %d items", s.Skipped, len(s.Items))
	}
}

func TestDamageReportedRestExported(t *testing.T) {
	dir := t.TempDir()
	short := msg(301, "/Inbox", 2, "short")
	short.Short = 2
	lost := msg(302, "/Inbox", 2, "lost")
	lost.NoData = true
	bad := msg(303, "/Inbox", 2, "bad")
	bad.BadDigest = true
	damaged := write(t, dir, "d.tgz", zimbratest.Options{}, msg(300, "/Inbox", 2, "ok"), short, lost, bad, msg(304, "/Inbox", 2, "ok2"))
	// A second file cut in the middle, and a third that is whole.
	var many []zimbratest.Item
	for i := range 40 {
		m := msg(500+i, "/Junk", 4, fmt.Sprint("j", i))
		m.Blob = []byte(strings.Repeat(fmt.Sprintf("line %d of junk\r\n", i), 300))
		many = append(many, m)
	}
	whole := zimbratest.Build(t, zimbratest.Options{}, many...)
	cut := filepath.Join(dir, "cut.tgz")
	os.WriteFile(cut, whole[:len(whole)/2], 0o600)
	last := write(t, dir, "last.tgz", zimbratest.Options{}, msg(600, "/Trash", 3, "t"))
	s := run(t, export.Options{}, damaged, cut, last)
	var errs []string
	for _, e := range s.Errors {
		errs = append(errs, e.Item+" | "+e.Reason)
	}
	all := strings.Join(errs, "\n")
	for _, want := range []string{"d.tgz: Inbox/0000000301-short.eml", ".err", "d.tgz: Inbox/0000000302-lost.eml",
		"missing", "d.tgz: Inbox/0000000303-bad.eml", "blob_digest", "cut.tgz", "ends early"} {
		if !strings.Contains(all, want) {
			t.Errorf("errors do not name %q:\n%s", want, all)
		}
	}
	got := map[string]bool{}
	for _, it := range s.Items {
		got[it.SourceID] = true
	}
	if !got["zimbra:300"] || !got["zimbra:304"] || !got["zimbra:600"] || !got["zimbra:500"] || got["zimbra:301"] || got["zimbra:303"] {
		t.Errorf("exported %v", got)
	}
	if got["zimbra:539"] {
		t.Error("an item after the cut was exported")
	}
}

func TestCutoff(t *testing.T) {
	s := run(t, export.Options{After: day.Add(301 * time.Minute)}, write(t, t.TempDir(), "c.tgz", zimbratest.Options{},
		msg(300, "/Inbox", 2, "old"), msg(301, "/Inbox", 2, "at"), msg(302, "/Inbox", 2, "new")))
	if len(s.Items) != 2 || s.Items[0].SourceID != "zimbra:301" || s.Skipped[export.SkipBeforeCutoff] != 1 {
		t.Errorf("items %d, skipped %v", len(s.Items), s.Skipped)
	}
}

func TestNotAZimbraExport(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.tgz")
	os.WriteFile(p, []byte("this is not an archive at all, just some text that is long enough"), 0o600)
	err := (&Source{Files: []string{p}}).Export(context.Background(), &exporttest.Sink{}, export.Options{})
	if err == nil || !strings.Contains(err.Error(), "not a Zimbra export") {
		t.Errorf("got %v", err)
	}
}

func TestOtherTarRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.tgz")
	os.WriteFile(p, zimbratest.Rewrite(t, []zimbratest.RawEntry{{Header: &tar.Header{Name: "manifest.json", Mode: 0o644, Size: 2}, Data: []byte("{}")}}), 0o600)
	err := (&Source{Files: []string{p}}).Export(context.Background(), &exporttest.Sink{}, export.Options{})
	if err == nil || !strings.Contains(err.Error(), "not a Zimbra export") {
		t.Errorf("got %v", err)
	}
}

// Views and colours come from the folders' Zimbra metadata: user-made
// address books, calendars and task lists become archive address books
// and calendars, with Zimbra's indexed and RGB colours.
func TestFolderInfo(t *testing.T) {
	md := func(m metadata.Map) string { return metadata.Encode(m) }
	f := func(id int, name, meta string) zimbratest.Item {
		return zimbratest.Item{ID: id, Type: zimbratest.TypeFolder, Folder: "/", FolderID: 1, Name: name, Date: day, Metadata: meta}
	}
	cal := f(10, "Calendar", md(metadata.Map{"vt": 11, "c": 5, "v": 10}))
	p := write(t, t.TempDir(), "f.tgz", zimbratest.Options{},
		f(700, "Clients", md(metadata.Map{"vt": 6, "c": 1, "v": 10})),
		f(701, "Files", md(metadata.Map{"vt": 8, "v": 10})),
		f(702, "Odd", "garbage"),
		f(703, "Team", md(metadata.Map{"vt": 11, "c": colorRGB | 0x12abef})),
		f(704, "Todo", md(metadata.Map{"vt": "15"})),
		f(705, "Mail", md(metadata.Map{"vt": 5, "c": 3})),
		f(706, "Notes", md(metadata.Map{"vt": 14})),
		f(707, "Bad view", md(metadata.Map{"vt": "x"})),
		cal)
	sink := run(t, export.Options{}, p)
	for _, w := range []struct {
		path  string
		kind  format.FolderKind
		color string
	}{
		{"Clients", format.FolderContacts, "#5b9bf2"}, {"Team", format.FolderCalendar, "#12abef"},
		{"Todo", format.FolderCalendar, ""}, {"Mail", format.FolderMail, ""}, {"Calendar", format.FolderCalendar, "#f66666"},
		{"Odd", format.FolderMail, ""}, {"Bad view", format.FolderMail, ""},
	} {
		got := sink.Folder(w.path)
		if got == nil || got.Kind != w.kind || got.Color != w.color || (w.kind != format.FolderMail) != (got.DisplayName == w.path) {
			t.Errorf("%s: %+v, want kind %s colour %q", w.path, got, w.kind, w.color)
		}
	}
	if sink.Folder("Files") != nil || sink.Folder("Notes") != nil || sink.Skipped[fmt.Sprintf(skipNotMigrated, "folder of documents, chats or wiki pages")] != 2 {
		t.Errorf("Files: %+v, Notes %+v, skipped %v", sink.Folder("Files"), sink.Folder("Notes"), sink.Skipped)
	}
	if len(sink.Warnings) != 2 || !strings.Contains(sink.Warnings[0].Reason+sink.Warnings[1].Reason, "view") {
		t.Errorf("warnings %v", sink.Warnings)
	}
}

// Without a meta Path, an item's folder is its folder .meta's, by id.
func TestFolderByIDWithoutPath(t *testing.T) {
	m := msg(300, "/Work/Deep", 700, "x")
	m.NoPath = true
	s := run(t, export.Options{}, write(t, t.TempDir(), "p.tgz", zimbratest.Options{},
		zimbratest.Item{ID: 699, Type: zimbratest.TypeFolder, Folder: "/", FolderID: 1, Name: "Work", Date: day},
		zimbratest.Item{ID: 700, Type: zimbratest.TypeFolder, Folder: "/Work", FolderID: 699, Name: "Deep", Date: day}, m))
	if len(s.Items) != 1 || s.Items[0].Folder != "Work/Deep" {
		t.Errorf("items %+v", s.Items)
	}
}

func TestCancelled(t *testing.T) {
	p := write(t, t.TempDir(), "c.tgz", zimbratest.Options{}, msg(300, "/Inbox", 2, "x"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (&Source{Files: []string{p}}).Export(ctx, &exporttest.Sink{}, export.Options{}); !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "not a Zimbra export") {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

// A copy damaged in one file does not hide a sound copy in another, and
// once the sound copy is exported nothing is lost: the damaged copy is a
// warning naming both files, not an error (which would make the run
// partial). A damaged copy no sound copy replaces stays an error.
func TestDamagedCopyThenSoundCopy(t *testing.T) {
	dir := t.TempDir()
	bad := msg(301, "/Inbox", 2, "x")
	bad.BadDigest = true
	badContact := zimbratest.Contact(310, "/Contacts", 7, "Doe, Jane", day, map[string]string{"firstName": "Jane"},
		zimbratest.Attachment{Field: "image", Name: "p.png", ContentType: "image/png", Data: []byte("png")})
	badContact.BadDigest = true
	lost := msg(302, "/Inbox", 2, "y")
	lost.BadDigest = true
	s := run(t, export.Options{}, write(t, dir, "a.tgz", zimbratest.Options{}, bad, badContact, lost),
		write(t, dir, "b.tgz", zimbratest.Options{}, msg(301, "/Inbox", 2, "x"),
			zimbratest.Contact(310, "/Contacts", 7, "Doe, Jane", day, map[string]string{"firstName": "Jane"})))
	if len(s.Items) != 2 || s.Skipped[SkipDuplicate] != 0 {
		t.Fatalf("items %d, skipped %v", len(s.Items), s.Skipped)
	}
	if len(s.Errors) != 1 || !strings.Contains(s.Errors[0].Item, "a.tgz") || !strings.Contains(s.Errors[0].Item, "0000000302") {
		t.Errorf("errors %v; want only message 302, which no sound copy replaced", s.Errors)
	}
	var warned []string
	for _, w := range s.Warnings {
		if strings.Contains(w.Item, "a.tgz") && strings.Contains(w.Reason, "damaged copy") && strings.Contains(w.Reason, "b.tgz") {
			warned = append(warned, w.Item)
		}
	}
	if len(warned) != 2 {
		t.Errorf("warnings %v; want the damaged message and contact, each naming the sound copy's file", s.Warnings)
	}
}

// ZCS 5 names a message by its subject alone: three messages of one
// subject in one folder of a meta=0 export are three entries of one name,
// three items with three source ids.
func TestNoMetaSameSubjectDistinct(t *testing.T) {
	p := write(t, t.TempDir(), "z5.tgz", zimbratest.Options{NoMeta: true, Style: zimbratest.ZCS5},
		msg(300, "/Inbox", 2, "hello"), msg(301, "/Inbox", 2, "hello"), msg(302, "/Inbox", 2, "hello"))
	s := run(t, export.Options{}, p)
	ids := map[string]bool{}
	for _, it := range s.Items {
		ids[it.SourceID] = true
	}
	if len(s.Items) != 3 || len(ids) != 3 || s.Skipped[SkipDuplicate] != 0 {
		t.Errorf("%d items, source ids %v, skipped %v", len(s.Items), ids, s.Skipped)
	}
}

// Across meta=0 files an item is known by its folder and content: the
// same message in two files is exported once, another message of the
// same name in the same folder is exported too.
func TestNoMetaMergeByContent(t *testing.T) {
	dir := t.TempDir()
	opt := zimbratest.Options{NoMeta: true, Style: zimbratest.ZCS5}
	a := write(t, dir, "a.tgz", opt, msg(300, "/Inbox", 2, "hello"), msg(301, "/Inbox", 2, "other"))
	b := write(t, dir, "b.tgz", opt, msg(300, "/Inbox", 2, "hello"), msg(302, "/Inbox", 2, "hello"), msg(300, "/Work", 600, "hello"))
	s := run(t, export.Options{}, a, b)
	var got []string
	for _, it := range s.Items {
		got = append(got, it.Folder+":"+strings.TrimPrefix(string(it.Body[strings.LastIndex(string(it.Body), "body of "):]), "body of "))
	}
	want := []string{"INBOX:300\r\n", "INBOX:301\r\n", "INBOX:302\r\n", "Work:300\r\n"}
	if !slices.Equal(got, want) || s.Skipped[SkipDuplicate] != 1 || len(s.Errors) != 0 {
		t.Errorf("items %q, skipped %v, errors %v; want %q", got, s.Skipped, s.Errors, want)
	}
}

// meta=0: a Briefcase document named "settings.meta" is counted as not
// migrated, and the messages after it are exported.
func TestNoMetaDocumentNamedDotMeta(t *testing.T) {
	doc := zimbratest.Item{ID: 350, Type: zimbratest.TypeDocument, Folder: "/Briefcase", FolderID: 16, Name: "settings.meta", Date: day, Blob: []byte("user notes\n")}
	s := run(t, export.Options{}, write(t, t.TempDir(), "d.tgz", zimbratest.Options{NoMeta: true},
		msg(300, "/Inbox", 2, "a"), doc, msg(301, "/Inbox", 2, "b"), msg(302, "/Inbox", 2, "c")))
	if len(s.Items) != 3 || len(s.Errors) != 0 || s.Skipped[fmt.Sprintf(skipNotMigrated, "document")] != 1 {
		t.Errorf("%d of 3 messages, errors %v, skipped %v", len(s.Items), s.Errors, s.Skipped)
	}
}

// A contact whose File-As is over 4096 bytes (Zimbra neither cuts nor
// sanitises contact names) is reported by a clipped name, and the items
// after it are exported.
func TestLongContactNameDoesNotEndFile(t *testing.T) {
	long := strings.Repeat("Very Long Company Name Holding GmbH & Co. KG ", 100)
	c := zimbratest.Contact(310, "/Contacts", 7, long, day, map[string]string{"company": long},
		zimbratest.Attachment{Field: "image", Name: "p.png", ContentType: "image/png", Data: []byte("png")})
	items := append(zimbratest.SystemFolders(), c)
	for i := range 5 {
		items = append(items, msg(400+i, "/Inbox", 2, "after"))
	}
	s := run(t, export.Options{}, write(t, t.TempDir(), "l.tgz", zimbratest.Options{}, items...))
	if len(s.Items) != 5 || len(s.Errors) == 0 {
		t.Fatalf("%d of 5 messages, errors %v", len(s.Items), s.Errors)
	}
	for _, e := range s.Errors {
		if len(e.Item) > 300 || !strings.HasPrefix(e.Item, "l.tgz: Contacts/Very Long") || !strings.Contains(e.Reason, "4096") {
			t.Errorf("error %.400q", e)
		}
	}
}

// A plain tar (fmt=tar) cut between two items, without the zero blocks
// that end a tar, is reported as cut.
func TestPlainTarCutBetweenItems(t *testing.T) {
	b := zimbratest.Build(t, zimbratest.Options{}, append(zimbratest.SystemFolders(), msg(300, "/Inbox", 2, "a"), msg(301, "/Inbox", 2, "b"))...)
	entries := zimbratest.Entries(t, b)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries[:len(entries)-2] { // the last message's .meta and data left out
		if err := tw.WriteHeader(e.Header); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.Data)
	}
	tw.Flush() // no end-of-archive blocks: the stream was cut here
	p := filepath.Join(t.TempDir(), "p.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	s := run(t, export.Options{}, p)
	if len(s.Items) != 1 || len(s.Errors) != 1 || !strings.Contains(s.Errors[0].Reason, "end-of-archive") {
		t.Errorf("%d items, errors %v", len(s.Items), s.Errors)
	}
}

// A file cut in its gzip trailer, after the tar's end, lacks no item:
// that is a warning saying so, not an error claiming items are missing;
// a trailer whose CRC is wrong is an error saying every item was read.
func TestGzipTrailerAfterTheLastItem(t *testing.T) {
	b := zimbratest.Build(t, zimbratest.Options{}, append(zimbratest.SystemFolders(), msg(300, "/Inbox", 2, "a"), msg(301, "/Inbox", 2, "b"))...)
	dir := t.TempDir()
	cut := filepath.Join(dir, "cut.tgz")
	if err := os.WriteFile(cut, b[:len(b)-4], 0o600); err != nil {
		t.Fatal(err)
	}
	s := run(t, export.Options{}, cut)
	if len(s.Items) != 2 || len(s.Errors) != 0 || len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0].Reason, "every item was read") {
		t.Errorf("cut trailer: %d items, errors %v, warnings %v", len(s.Items), s.Errors, s.Warnings)
	}
	bad := bytes.Clone(b)
	bad[len(bad)-5] ^= 0xff // the CRC
	crc := filepath.Join(dir, "crc.tgz")
	if err := os.WriteFile(crc, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	s = run(t, export.Options{}, crc)
	if len(s.Items) != 2 || len(s.Errors) != 1 || !strings.Contains(s.Errors[0].Reason, "every item was read") || strings.Contains(s.Errors[0].Reason, "missing") {
		t.Errorf("bad CRC: %d items, errors %v", len(s.Items), s.Errors)
	}
}
