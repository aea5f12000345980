package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export/zimbra/zimbratest"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/report"
)

var zday = time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)

func zmsg(id int, folder string, folderID int, subject string) zimbratest.Item {
	return zimbratest.Message(id, folder, folderID, subject, zday.Add(time.Duration(id)*time.Hour))
}

// zimbraFiles writes a root export (folders, Inbox, Sent, a user folder)
// and a /Trash export, as an administrator would fetch them.
func zimbraFiles(t *testing.T) (root, trash string, msgs []zimbratest.Item) {
	t.Helper()
	dir := t.TempDir()
	unread := zmsg(300, "/Inbox", 2, "unread")
	unread.Unread = 1
	answered := zmsg(301, "/Inbox", 2, "answered")
	answered.Flags, answered.Tags = zimbratest.FlagReplied|zimbratest.FlagFlagged, []string{"Work"}
	sent := zmsg(302, "/Sent", 5, "sent")
	sent.Flags, sent.Digest = zimbratest.FlagSent|zimbratest.FlagForwarded, zimbratest.SHA1
	proj := zmsg(303, "/Projects", 257, "project")
	deleted := zmsg(310, "/Trash", 3, "deleted")
	sys := zimbratest.SystemFolders()
	items := append(sys, zimbratest.Item{ID: 257, Type: zimbratest.TypeFolder, Folder: "/", FolderID: 1, Name: "Projects", Date: zday},
		zimbratest.Item{ID: 258, Type: zimbratest.TypeFolder, Folder: "/Projects", FolderID: 257, Name: "Empty", Date: zday},
		unread, answered, sent, proj)
	root = filepath.Join(dir, "root.tgz")
	trash = filepath.Join(dir, "trash.tgz")
	os.WriteFile(root, zimbratest.Build(t, zimbratest.Options{}, items...), 0o600)
	os.WriteFile(trash, zimbratest.Build(t, zimbratest.Options{}, sys[len(sys)-1], deleted, answered), 0o600)
	return root, trash, []zimbratest.Item{unread, answered, sent, proj, deleted}
}

func TestExportZimbraTgz(t *testing.T) {
	root, trash, msgs := zimbraFiles(t)
	out := t.TempDir()
	// --from-tgz followed by more files, as a shell glob gives them.
	mustRun(t, "-q", "export", "zimbra", "--from-tgz", root, trash, "--user", "zed@example.org", "--out", out)
	archive := filepath.Join(out, "zed@example.org.tgz")
	items, bodies := archiveItems(t, archive)
	if len(items) != len(msgs) {
		t.Fatalf("%d items in the archive, want %d", len(items), len(msgs))
	}
	for _, m := range msgs {
		id := fmt.Sprint("zimbra:", m.ID)
		if string(bodies[id]) != string(m.Blob) || !items[id].Received.Equal(m.Date) {
			t.Errorf("%s: body %q received %v; want the blob and %v", id, bodies[id], items[id].Received, m.Date)
		}
	}
	if f := items["zimbra:301"].Flags; !slices.Equal(f, []string{`\Seen`, `\Answered`, `\Flagged`, "Work"}) {
		t.Errorf("flags %q", f)
	}
	if f := items["zimbra:300"].Flags; len(f) != 0 {
		t.Errorf("unread message flags %q", f)
	}
	ins := inspectJSON(t, archive)
	folders := map[string]format.Role{}
	for _, f := range ins.Folders {
		if f.Kind == format.FolderMail {
			folders[f.Path] = f.Role
		}
	}
	for p, role := range map[string]format.Role{"INBOX": format.RoleInbox, "Sent": format.RoleSent, "Trash": format.RoleTrash,
		"Junk": format.RoleJunk, "Drafts": format.RoleDrafts, "Projects": "", "Projects/Empty": ""} {
		if r, ok := folders[p]; !ok || r != role {
			t.Errorf("folder %q: role %q present %v; want %q", p, r, ok, role)
		}
	}
	if ins.Source.Kind != "zimbra" || ins.Skipped["in more than one Zimbra export file (exported once)"] != 1 {
		t.Errorf("source %+v skipped %v", ins.Source, ins.Skipped)
	}
}

func TestExportZimbraDamagedIsPartial(t *testing.T) {
	dir := t.TempDir()
	bad := zmsg(301, "/Inbox", 2, "bad")
	bad.BadDigest = true
	contact := zimbratest.Item{ID: 400, Type: zimbratest.TypeContact, Folder: "/Contacts", FolderID: 7, FileAs: "Doe, Jane", Date: zday}
	p := filepath.Join(dir, "d.tgz")
	os.WriteFile(p, zimbratest.Build(t, zimbratest.Options{}, zmsg(300, "/Inbox", 2, "good"), bad, contact), 0o600)
	out := t.TempDir()
	code, _, stderr := mailhaul(t, "-q", "export", "zimbra", "--from-tgz", p, "--user", "zed@example.org", "--out", out)
	if code != exitPartial {
		t.Fatalf("exit %d, want %d\n%s", code, exitPartial, stderr)
	}
	for _, want := range []string{"Inbox/0000000301-bad.eml", "blob_digest", `contact 400 \"Doe, Jane\"`} {
		if !strings.Contains(stderr, want) && !strings.Contains(stderr, strings.ReplaceAll(want, `\"`, `"`)) {
			t.Errorf("stderr does not name %s:\n%s", want, stderr)
		}
	}
	var rep report.Export
	b, err := os.ReadFile(filepath.Join(out, "zed@example.org.tgz.report.json"))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(b, &rep)
	if rep.Status != "partial" || len(rep.Errors) != 2 || rep.Counts.Messages != 1 {
		t.Errorf("report: status %q, %d errors, %d messages", rep.Status, len(rep.Errors), rep.Counts.Messages)
	}
}

func TestExportZimbraAfter(t *testing.T) {
	root, trash, _ := zimbraFiles(t)
	out := t.TempDir()
	// Messages 300..303 are received at zday+300h..+303h, 310 at +310h.
	after := zday.Add(303 * time.Hour).Format(time.RFC3339)
	mustRun(t, "-q", "export", "zimbra", "--from-tgz", root, "--from-tgz", trash, "--user", "zed@example.org", "--out", out, "--after", after)
	archives, _ := filepath.Glob(filepath.Join(out, "zed@example.org.after-*.tgz"))
	if len(archives) != 1 {
		t.Fatalf("archives %v", archives)
	}
	items, _ := archiveItems(t, archives[0])
	if len(items) != 2 || items["zimbra:303"].Folder != "Projects" || items["zimbra:310"].Folder != "Trash" {
		t.Errorf("delta items %v", items)
	}
}

func TestInspectZimbraTgz(t *testing.T) {
	root, _, _ := zimbraFiles(t)
	var got struct {
		Kind   string         `json:"kind"`
		Meta   bool           `json:"meta"`
		Naming string         `json:"naming"`
		Types  map[string]int `json:"types"`
		Counts format.Counts  `json:"counts"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "inspect", "--json", root)), &got); err != nil {
		t.Fatal(err)
	}
	if got.Kind != "zimbra-tgz" || !got.Meta || got.Naming != "ZCS 8+" || got.Types["message"] != 4 ||
		got.Types["folder"] != 15 || got.Counts.Messages != 4 {
		t.Errorf("inspect: %+v", got)
	}
	text := mustRun(t, "inspect", root)
	if !strings.Contains(text, "Zimbra export") || !strings.Contains(text, "meta=1") || !strings.Contains(text, "would export") {
		t.Errorf("inspect text:\n%s", text)
	}
	dir := t.TempDir()
	m0 := filepath.Join(dir, "m0.tgz")
	os.WriteFile(m0, zimbratest.Build(t, zimbratest.Options{NoMeta: true, Style: zimbratest.ZCS5}, zmsg(5, "/Inbox", 2, "x")), 0o600)
	if err := json.Unmarshal([]byte(mustRun(t, "inspect", "--json", m0)), &got); err != nil {
		t.Fatal(err)
	}
	if got.Meta || got.Naming != "ZCS 5/6" || got.Counts.Messages != 1 {
		t.Errorf("inspect meta=0: %+v", got)
	}
	// Contacts, appointments and tasks count as converted, an unconvertible
	// one as an error.
	pim := filepath.Join(dir, "pim.tgz")
	broken := zimbratest.Item{ID: 500, Type: zimbratest.TypeContact, Folder: "/Contacts", FolderID: 7, FileAs: "Empty", Date: zday}
	os.WriteFile(pim, zimbratest.Build(t, zimbratest.Options{}, append(zimbraPIMItems().items, broken)...), 0o600)
	var pins struct {
		Types  map[string]int   `json:"types"`
		Counts format.Counts    `json:"counts"`
		Errors []format.Problem `json:"errors"`
	}
	code, out, _ := mailhaul(t, "inspect", "--json", pim)
	if err := json.Unmarshal([]byte(out), &pins); err != nil || code != exitPartial {
		t.Fatalf("inspect --json: exit %d, %v\n%s", code, err, out)
	}
	if pins.Types["contact"] != 3 || pins.Types["appointment"] != 2 || pins.Types["task"] != 1 ||
		pins.Counts.Contacts != 2 || pins.Counts.Events != 2 || pins.Counts.Tasks != 1 ||
		len(pins.Errors) != 1 || !strings.Contains(pins.Errors[0].Item, "contact 500") {
		t.Errorf("inspect PIM: %+v", pins)
	}
	if _, text, _ := mailhaul(t, "inspect", pim); !strings.Contains(text, "2 contacts, 2 events, 1 tasks") {
		t.Errorf("inspect PIM text:\n%s", text)
	}
}

// A Zimbra export, through mailhaul's archive, into the real Dovecot:
// every message byte for byte, with its flags, keywords and received date.
func TestZimbraTgzIntoDovecot(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"zed": "zed-secret"})
	root, trash, msgs := zimbraFiles(t)
	out := t.TempDir()
	mustRun(t, "-q", "export", "zimbra", "--from-tgz", root, "--from-tgz", trash, "--user", "zed", "--out", out)
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("zed-secret\n"), 0o600)
	code, stdout, stderr := mailhaul(t, "-q", "import", "imap", filepath.Join(out, "zed.tgz"), "--url", "imap://"+d.Addr,
		"--user", "zed", "--password-file", pw, "--state", t.TempDir())
	if code != exitOK {
		t.Fatalf("import: exit %d\n%s\n%s", code, stdout, stderr)
	}
	type seen struct {
		mailbox string
		msg     testservers.Message
	}
	bySum := map[[32]byte]seen{}
	names := []string{}
	for _, mb := range testservers.ReadMailboxes(t, d.Addr, "zed", "zed-secret") {
		names = append(names, mb.Name)
		for _, m := range mb.Messages {
			bySum[m.SHA256] = seen{mb.Name, m}
		}
	}
	want := zimbraWant
	if len(bySum) != len(msgs) {
		t.Errorf("%d messages on the server, want %d (mailboxes %q)", len(bySum), len(msgs), names)
	}
	for _, m := range msgs {
		got, ok := bySum[sha256.Sum256(m.Blob)]
		w := want[m.ID]
		if !ok {
			t.Errorf("message %d is not on the server byte for byte", m.ID)
			continue
		}
		flags := slices.DeleteFunc(slices.Clone(got.msg.Flags), func(f string) bool { return f == `\Recent` })
		if got.mailbox != w.mailbox || !slices.Equal(flags, w.flags) || !got.msg.Date.Equal(m.Date) {
			t.Errorf("message %d: in %q flags %q date %v; want %q %q %v", m.ID, got.mailbox, flags, got.msg.Date, w.mailbox, w.flags, m.Date)
		}
	}
	for _, n := range []string{"Projects.Empty", "Junk", "Drafts"} {
		if !slices.Contains(names, n) {
			t.Errorf("mailbox %q missing: %q", n, names)
		}
	}
}

// inspect on a Zimbra tgz whose first item is damaged reports that item
// (it is a Zimbra export all the same), naming the file once per line.
func TestInspectZimbraTgzFirstItemDamaged(t *testing.T) {
	noData := zmsg(5, "/Inbox", 2, "bad") // a .meta whose blob is missing
	noData.NoData = true
	badDigest := zmsg(7, "/Inbox", 2, "bad")
	badDigest.BadDigest = true
	p := filepath.Join(t.TempDir(), "first-bad.tgz")
	os.WriteFile(p, zimbratest.Build(t, zimbratest.Options{}, noData, zmsg(6, "/Inbox", 2, "good"), badDigest), 0o600)
	code, out, errs := mailhaul(t, "inspect", p)
	if code != exitPartial || !strings.Contains(out, "would export") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "error: ") && (strings.Count(line, "first-bad.tgz") != 1 || !strings.Contains(line, "-bad.eml")) {
			t.Errorf("error line %q: want the file named once, and the item", line)
		}
	}
	if strings.Count(out, "error: ") != 2 || !strings.Contains(out, "1 messages") {
		t.Errorf("want two error lines and one message:\n%s", out)
	}
}
