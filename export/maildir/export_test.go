package maildir

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/format"
	mdir "github.com/mailhaul/mailhaul/mailbox/maildir"
	"github.com/mailhaul/mailhaul/progress"
)

// maildirPP is a Maildir++ tree exercising folders, flags, keywords,
// subscriptions and the files an exporter must leave alone.
func maildirPP(t *testing.T) string {
	root := t.TempDir()
	writeTree(t, root,
		file{path: "cur/1700000001.M1P1.host:2,S", body: msg("<one@x>", "one")},
		file{path: "cur/1700000003.M3P1.host:2,FRSab", body: msg("<three@x>", "three")},
		file{path: "new/1700000002.M2P1.host", body: "Message-ID:\n <two@x>\n\ntwo\n"},
		file{path: "tmp/1700000009.M9P1.host", body: msg("<tmp@x>", "in delivery")},
		file{path: "cur/.hidden", body: "not a message"},
		file{path: "dovecot-keywords", body: "0 $Label1\n1 Work\n"},
		file{path: "dovecot-uidlist", body: "3 V1 N4\n1 :1700000001.M1P1.host\n"},
		file{path: "dovecot.index.log", body: "\x00\x01binary"},
		file{path: "subscriptions", body: "V\t2\n\nINBOX\nSent\nWork\t2024\n&AMQ-rger\n"},
		file{path: ".Sent/cur/1700000100.M1P1.host:2,S", body: msg("<sent@x>", "sent")},
		file{path: ".Drafts/maildirfolder"}, // an empty folder: only its marker
		file{path: ".Work/new/1700000200.M1P1.host", body: msg("<w1@x>", "work")},
		file{path: ".Work.2024/cur/1700000300.M1P1.host:2,T", body: msg("<w2@x>", "work 2024")},
		file{path: ".&AMQ-rger/cur/1700000400.M1P1.host:2,S", body: msg("<a@x>", "ärger")},
		file{path: ".Bad&Name/cur/1700000500.M1P1.host:2,", body: msg("<bad@x>", "bad name")},
		file{path: ".notmuch/xapian/flintlock", body: ""},
		file{path: "courierimapkeywords/"},
	)
	return root
}

func TestExportMaildirPP(t *testing.T) {
	root := maildirPP(t)
	s := run(t, &Source{Root: root}, export.Options{})

	wantFolders := []string{"INBOX", "Bad&Name", "Drafts", "Sent", "Work", "Work/2024", "Ärger"}
	if got := folderPaths(s); !slices.Equal(got, wantFolders) {
		t.Fatalf("folders = %q; want %q", got, wantFolders)
	}
	wantRole := map[string]format.Role{"INBOX": format.RoleInbox, "Sent": format.RoleSent, "Drafts": format.RoleDrafts}
	wantSub := map[string]bool{"INBOX": true, "Sent": true, "Work/2024": true, "Ärger": true}
	for _, f := range s.Folders {
		if f.Kind != format.FolderMail || f.Role != wantRole[f.Path] || f.Subscribed != wantSub[f.Path] {
			t.Errorf("folder %q: kind %q role %q subscribed %v; want mail, %q, %v",
				f.Path, f.Kind, f.Role, f.Subscribed, wantRole[f.Path], wantSub[f.Path])
		}
	}

	// INBOX: cur and new merged in file-name order; tmp and dot files left out.
	wantInbox := []string{"INBOX/1700000001.M1P1.host", "INBOX/1700000002.M2P1.host", "INBOX/1700000003.M3P1.host"}
	if got := itemIDs(s, "INBOX"); !slices.Equal(got, wantInbox) {
		t.Errorf("INBOX items = %q; want %q", got, wantInbox)
	}
	tests := []struct {
		id        string
		flags     []string
		messageID string
		received  int64
	}{
		{"INBOX/1700000001.M1P1.host", []string{`\Seen`}, "one@x", 1700000001},
		{"INBOX/1700000002.M2P1.host", nil, "two@x", 1700000002}, // in new/: unseen
		{"INBOX/1700000003.M3P1.host", []string{`\Flagged`, `\Answered`, `\Seen`, "$Label1", "Work"}, "three@x", 1700000003},
		{"Sent/1700000100.M1P1.host", []string{`\Seen`}, "sent@x", 1700000100},
		{"Work/2024/1700000300.M1P1.host", []string{`\Deleted`}, "w2@x", 1700000300},
		{"Ärger/1700000400.M1P1.host", []string{`\Seen`}, "a@x", 1700000400},
		{"Bad&Name/1700000500.M1P1.host", nil, "bad@x", 1700000500},
	}
	for _, tt := range tests {
		it := itemBySource(t, s, tt.id)
		if !slices.Equal(it.Flags, tt.flags) || it.MessageID != tt.messageID || !it.Received.Equal(time.Unix(tt.received, 0)) {
			t.Errorf("%s: flags %q, Message-ID %q, received %v; want %q, %q, %v",
				tt.id, it.Flags, it.MessageID, it.Received, tt.flags, tt.messageID, time.Unix(tt.received, 0).UTC())
		}
		if it.Kind != format.KindMessage {
			t.Errorf("%s: kind %q", tt.id, it.Kind)
		}
	}
	if n := len(s.Items); n != 8 {
		t.Errorf("%d items; want 8", n)
	}
	if len(s.Errors) != 0 {
		t.Errorf("errors: %+v", s.Errors)
	}
	// One warning: the folder name that is not modified UTF-7.
	if len(s.Warnings) != 1 || s.Warnings[0].Folder != "Bad&Name" || s.Warnings[0].Item != ".Bad&Name" {
		t.Errorf("warnings = %+v; want one about .Bad&Name", s.Warnings)
	}
	assertBodiesMatchFiles(t, root, s)
}

// assertBodiesMatchFiles checks the round-trip property: every exported
// body is byte-identical to a file of the tree, and no file is used twice.
func assertBodiesMatchFiles(t *testing.T, root string, s *exporttest.Sink) {
	t.Helper()
	files := map[string][]byte{}
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && (filepath.Base(filepath.Dir(p)) == "cur" || filepath.Base(filepath.Dir(p)) == "new") {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			files[p] = b
		}
		return nil
	})
	for _, it := range s.Items {
		found := ""
		for p, b := range files {
			base := filepath.Base(p)
			unique, _, _ := mdir.SplitInfo(base)
			if strings.HasSuffix(it.SourceID, "/"+unique) && bytes.Equal(b, it.Body) {
				found = p
				break
			}
		}
		if found == "" {
			t.Errorf("item %s: body (%d bytes) matches no file", it.SourceID, len(it.Body))
			continue
		}
		delete(files, found)
	}
}

func TestExportFSLayout(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root,
		file{path: "INBOX/cur/1700000001.M1P1.host:2,S", body: msg("<in@x>", "inbox")},
		file{path: "Work/2024/cur/1700000002.M1P1.host:2,R", body: msg("<w@x>", "work")},
		file{path: "Work/2024/Q1/new/1700000003.M1P1.host", body: msg("<q@x>", "q1")},
		file{path: "Sent Items/cur/1700000004.M1P1.host:2,S", body: msg("<s@x>", "sent")},
		file{path: "Entw&APw-rfe/tmp/"}, // Drafts, empty
		file{path: "Archive/maildirfolder"},
		file{path: "Projects/Archive/cur/1700000005.M1P1.host:2,S", body: msg("<p@x>", "project")},
		file{path: "INBOX/Sub/new/1700000006.M1P1.host", body: msg("<sub@x>", "sub")},
		file{path: "subscriptions", body: "Work/2024\nSent Items\n"},
		file{path: ".notmuch/xapian/flintlock", body: ""},
	)
	for _, layout := range []Layout{LayoutAuto, LayoutFS} {
		s := run(t, &Source{Root: root, Layout: layout}, export.Options{})
		want := []string{"INBOX", "INBOX/Sub", "Archive", "Entwürfe", "Projects/Archive", "Sent Items", "Work/2024", "Work/2024/Q1"}
		if got := folderPaths(s); !slices.Equal(got, want) {
			t.Fatalf("layout %v: folders = %q; want %q", layout, got, want)
		}
		roles := map[string]format.Role{}
		subs := map[string]bool{}
		for _, f := range s.Folders {
			roles[f.Path] = f.Role
			subs[f.Path] = f.Subscribed
		}
		wantRoles := map[string]format.Role{
			"INBOX": format.RoleInbox, "Archive": format.RoleArchive, "Entwürfe": format.RoleDrafts,
			"Sent Items": format.RoleSent, // "Projects/Archive" is nested: no role
		}
		for p, r := range wantRoles {
			if roles[p] != r {
				t.Errorf("layout %v: role of %q = %q; want %q", layout, p, roles[p], r)
			}
		}
		if roles["Projects/Archive"] != "" {
			t.Errorf("layout %v: nested Projects/Archive got role %q", layout, roles["Projects/Archive"])
		}
		if !subs["Work/2024"] || !subs["Sent Items"] || subs["INBOX"] || subs["Work/2024/Q1"] {
			t.Errorf("layout %v: subscribed = %v", layout, subs)
		}
		if got := itemIDs(s, "Work/2024/Q1"); !slices.Equal(got, []string{"Work/2024/Q1/1700000003.M1P1.host"}) {
			t.Errorf("layout %v: Work/2024/Q1 items = %q", layout, got)
		}
		if len(s.Items) != 6 || len(s.Errors) != 0 || len(s.Warnings) != 0 {
			t.Errorf("layout %v: %d items, errors %+v, warnings %+v; want 6 items, no problems", layout, len(s.Items), s.Errors, s.Warnings)
		}
		assertBodiesMatchFiles(t, root, s)
	}
}

func TestExportFSInboxRootAndDir(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root,
		file{path: "cur/1700000002.M1P1.host:2,S", body: msg("<r@x>", "root")},
		file{path: "inbox/new/1700000001.M1P1.host", body: msg("<d@x>", "dir")},
		file{path: "Work/cur/1700000003.M1P1.host", body: msg("<w@x>", "work")},
		// Hidden directories are not folders in LAYOUT=fs, even maildirs.
		file{path: ".hidden/cur/1700000004.M1P1.host", body: msg("<h@x>", "hidden")},
	)
	s := run(t, &Source{Root: root, Layout: LayoutFS}, export.Options{})
	if got, want := folderPaths(s), []string{"INBOX", "Work"}; !slices.Equal(got, want) {
		t.Fatalf("folders = %q; want %q", got, want)
	}
	want := []string{"INBOX/1700000001.M1P1.host", "INBOX/1700000002.M1P1.host"}
	if got := itemIDs(s, "INBOX"); !slices.Equal(got, want) {
		t.Errorf("INBOX items = %q; want %q (root and inbox/ merged, name order)", got, want)
	}
	if len(s.Warnings) != 1 || s.Warnings[0].Folder != "INBOX" {
		t.Errorf("warnings = %+v; want one about the merged INBOX", s.Warnings)
	}
}

func TestDetectLayout(t *testing.T) {
	tests := []struct {
		name  string
		files []file
		want  Layout
		paths []string
	}{
		{"plain", []file{{path: "cur/1.x:2,S", body: "a"}, {path: "tmp/"}}, LayoutMaildirPP, []string{"INBOX"}},
		{"maildir++", []file{{path: "cur/"}, {path: ".A.B/new/1.x", body: "a"}}, LayoutMaildirPP, []string{"INBOX", "A/B"}},
		{"fs", []file{{path: "cur/"}, {path: "A/B/new/1.x", body: "a"}}, LayoutFS, []string{"INBOX", "A/B"}},
		{"fs with an INBOX directory", []file{{path: "INBOX/new/"}, {path: "A/B/new/1.x", body: "a"}}, LayoutFS, []string{"INBOX", "A/B"}},
		// No evidence of a Maildir at the root: nothing below is walked.
		{"fs without INBOX", []file{{path: "A/B/new/1.x", body: "a"}}, LayoutMaildirPP, []string{"INBOX"}},
		{"tmp alone", []file{{path: "tmp/"}, {path: "A/new/1.x", body: "a"}}, LayoutMaildirPP, []string{"INBOX"}},
		{"both: dot folders win", []file{{path: ".A/cur/"}, {path: "B/cur/1.x", body: "a"}}, LayoutMaildirPP, []string{"INBOX", "A"}},
		{"empty root", nil, LayoutMaildirPP, []string{"INBOX"}},
		{"inbox child in maildir++", []file{{path: ".INBOX.Sent/cur/"}}, LayoutMaildirPP, []string{"INBOX", "INBOX/Sent"}},
		{"empty level kept whole", []file{{path: ".A..B/cur/"}}, LayoutMaildirPP, []string{"INBOX", "A..B"}},
	}
	for _, tt := range tests {
		root := t.TempDir()
		writeTree(t, root, tt.files...)
		got, tr, err := discover(openRoot(t, root), LayoutAuto)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var paths []string
		for _, f := range tr.sorted() {
			paths = append(paths, f.path)
		}
		if got != tt.want || !slices.Equal(paths, tt.paths) {
			t.Errorf("%s: layout %v folders %q; want %v %q", tt.name, got, paths, tt.want, tt.paths)
		}
	}
}

func TestInfoSeparatorsAndKeywordWarning(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root,
		file{path: "cur/1700000001.M1P1.host;2,RS", body: msg("<a@x>", "semicolon")},
		file{path: "cur/1700000002.M1P1.host!2,F", body: msg("<b@x>", "bang")},
		file{path: "cur/1700000003.M1P1.host:2,Sxa", body: msg("<c@x>", "keywords")},
		file{path: "cur/1700000004.M1P1.host:2,SyZ", body: msg("<d@x>", "more")},
		file{path: "dovecot-keywords", body: "0 $Important\n"},
	)
	s := run(t, &Source{Root: root}, export.Options{})
	want := map[string][]string{
		"INBOX/1700000001.M1P1.host": {`\Answered`, `\Seen`},
		"INBOX/1700000002.M1P1.host": {`\Flagged`},
		"INBOX/1700000003.M1P1.host": {`\Seen`, "$Important"},
		"INBOX/1700000004.M1P1.host": {`\Seen`},
	}
	for id, flags := range want {
		if got := itemBySource(t, s, id).Flags; !slices.Equal(got, flags) {
			t.Errorf("%s: flags %q; want %q", id, got, flags)
		}
	}
	// Letters x, y (no keyword) and Z (not a flag): one warning for the folder.
	if len(s.Warnings) != 1 {
		t.Fatalf("warnings = %+v; want exactly one", s.Warnings)
	}
	w := s.Warnings[0]
	if w.Folder != "INBOX" || w.Item != "cur/1700000003.M1P1.host:2,Sxa" || !strings.Contains(w.Reason, `"Zxy"`) || !strings.Contains(w.Reason, "2 message") {
		t.Errorf("warning = %+v; want INBOX, first file, letters \"Zxy\", 2 messages", w)
	}
}

func TestEmptyAndUnreadableFiles(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root,
		file{path: "cur/1700000001.M1P1.host:2,S", body: msg("<ok@x>", "ok")},
		file{path: "cur/1700000002.M1P1.host:2,S", body: ""}, // empty
		file{path: "cur/1700000003.M1P1.host:2,S/"},          // a directory
		file{path: "new/1700000005.M1P1.host", body: msg("<ok2@x>", "ok too")},
	)
	// Symbolic links are never followed, dangling or not (issue 9, 10).
	if err := os.Symlink(filepath.Join(root, "gone"), filepath.Join(root, "cur", "1700000004.M1P1.host:2,S")); err != nil {
		t.Fatal(err)
	}
	// A FIFO must be reported, never opened (opening would block).
	if err := syscall.Mkfifo(filepath.Join(root, "new", "1700000006.M1P1.host"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Not even one to a good file inside the source.
	if err := os.Symlink(filepath.Join(root, "cur", "1700000001.M1P1.host:2,S"), filepath.Join(root, "new", "1700000007.M1P1.host")); err != nil {
		t.Fatal(err)
	}
	s := run(t, &Source{Root: root}, export.Options{})
	if got, want := itemIDs(s, "INBOX"), []string{"INBOX/1700000001.M1P1.host", "INBOX/1700000005.M1P1.host"}; !slices.Equal(got, want) {
		t.Errorf("exported %q; want %q", got, want)
	}
	want := []format.Problem{
		{Folder: "INBOX", Item: "cur/1700000002.M1P1.host:2,S", Reason: "empty file"},
		{Folder: "INBOX", Item: "cur/1700000003.M1P1.host:2,S", Reason: "is a directory, not a message"},
		{Folder: "INBOX", Item: "cur/1700000004.M1P1.host:2,S", Reason: "symbolic link, not followed: nothing outside the source is exported"},
		{Folder: "INBOX", Item: "new/1700000006.M1P1.host", Reason: "not a regular file (named pipe), not opened"},
		{Folder: "INBOX", Item: "new/1700000007.M1P1.host", Reason: "symbolic link, not followed: nothing outside the source is exported"},
	}
	if !slices.Equal(s.Errors, want) {
		t.Errorf("errors:\n got %+v\nwant %+v", s.Errors, want)
	}
}

func TestVanishedBetweenListingAndOpen(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root,
		file{path: "cur/1700000001.M1P1.host:2,S", body: msg("<a@x>", "a")},
		file{path: "cur/1700000002.M1P1.host:2,S", body: msg("<b@x>", "b")},
	)
	writeTree(t, root, file{path: "cur/1700000003.M1P1.host:2,S", body: msg("<c@x>", "c")})
	// Remove the second file just before it is opened, as a concurrent
	// expunge would (reported as expunged, not as a failure); make the
	// third fail on its first read.
	hookOpen(t, func(name string, open func() (*os.File, error)) (*os.File, error) {
		switch {
		case strings.Contains(name, "1700000002"):
			os.Remove(name)
		case strings.Contains(name, "1700000003"):
			return os.Open(root) // a directory: Read fails with EISDIR
		}
		return open()
	})
	s := run(t, &Source{Root: root}, export.Options{})
	want := []format.Problem{
		{Folder: "INBOX", Item: "cur/1700000003.M1P1.host:2,S", Reason: "read: is a directory"},
	}
	if len(s.Items) != 1 || !slices.Equal(s.Errors, want) || s.Skipped[export.SkipExpunged] != 1 {
		t.Errorf("items %d, errors %+v, skipped %v; want 1 item, errors %+v and 1 expunged", len(s.Items), s.Errors, s.Skipped, want)
	}
}

func TestAfterCutoffReadsOnlyTheDelta(t *testing.T) {
	cutoff := time.Unix(1700000000, 0)
	old := cutoff.Add(-time.Hour)
	root := t.TempDir()
	writeTree(t, root,
		file{path: "cur/1600000000.M1P1.host:2,S", body: msg("<old1@x>", "old")},
		file{path: "cur/1699999999.M1P1.host:2,S", body: msg("<old2@x>", "old")},
		file{path: "cur/1700000000.M1P1.host:2,S", body: msg("<edge@x>", "at the cutoff")},
		file{path: "new/1700000500.M1P1.host", body: msg("<new@x>", "new")},
		// No timestamp in the name: the mtime decides.
		file{path: "cur/nostamp-old:2,S", body: msg("<m-old@x>", "old mtime"), mtime: old},
		file{path: "cur/nostamp-new:2,S", body: msg("<m-new@x>", "new mtime"), mtime: cutoff.Add(time.Hour)},
		file{path: ".Archive/cur/1500000000.M1P1.host:2,S", body: msg("<arch@x>", "old")},
	)
	var opened []string
	hookOpen(t, func(name string, open func() (*os.File, error)) (*os.File, error) {
		opened = append(opened, filepath.Base(name))
		return open()
	})
	s := run(t, &Source{Root: root}, export.Options{After: cutoff})
	wantIDs := []string{"INBOX/1700000000.M1P1.host", "INBOX/1700000500.M1P1.host", "INBOX/nostamp-new"}
	if got := itemIDs(s, "INBOX"); !slices.Equal(got, wantIDs) {
		t.Errorf("exported %q; want %q", got, wantIDs)
	}
	if got := itemBySource(t, s, "INBOX/nostamp-new").Received; !got.Equal(cutoff.Add(time.Hour)) {
		t.Errorf("received from mtime = %v; want %v", got, cutoff.Add(time.Hour))
	}
	if got := s.Skipped[export.SkipBeforeCutoff]; got != 4 {
		t.Errorf("skipped %d; want 4 (%v)", got, s.Skipped)
	}
	wantOpened := []string{"1700000000.M1P1.host:2,S", "1700000500.M1P1.host", "nostamp-new:2,S"}
	if !slices.Equal(sortedCopy(opened), wantOpened) {
		t.Errorf("opened %q; want only the delta %q", opened, wantOpened)
	}
	// Empty folders are still sent under a cutoff.
	if s.Folder("Archive") == nil {
		t.Error("folder Archive missing under a cutoff")
	}
}

// copySink records like exporttest.Sink but drains bodies with io.Copy,
// which takes the reader's WriteTo path.
type copySink struct{ exporttest.Sink }

func (c *copySink) AddItem(it format.Item, body io.Reader) error {
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, body); err != nil {
		return err
	}
	return c.Sink.AddItem(it, &buf)
}

func TestLargeMessagesRoundTrip(t *testing.T) {
	root := t.TempDir()
	big := msg("<big@x>", strings.Repeat("0123456789abcdef", (prefixSize*3)/16+7))
	hugeHeader := "X-Pad: " + strings.Repeat("p", prefixSize+10) + "\nMessage-ID: <late@x>\n\nbody\n"
	crlf := strings.ReplaceAll(msg("<crlf@x>", "crlf"), "\n", "\r\n")
	writeTree(t, root,
		file{path: "cur/1700000001.M1P1.host:2,S", body: big},
		file{path: "cur/1700000002.M1P1.host:2,S", body: hugeHeader},
		file{path: "cur/1700000003.M1P1.host:2,S", body: crlf},
		file{path: "cur/1700000004.M1P1.host:2,S", body: "x"}, // one byte, no header
	)
	for _, sink := range []interface {
		export.Sink
		rec() *exporttest.Sink
	}{&readSink{}, &copySink{}} {
		if err := (&Source{Root: root}).Export(context.Background(), sink, export.Options{}); err != nil {
			t.Fatal(err)
		}
		s := sink.rec()
		assertBodiesMatchFiles(t, root, s)
		if len(s.Items) != 4 {
			t.Fatalf("%T: %d items; want 4", sink, len(s.Items))
		}
		ids := map[string]string{}
		for _, it := range s.Items {
			ids[it.SourceID] = it.MessageID
		}
		want := map[string]string{
			"INBOX/1700000001.M1P1.host": "big@x",
			"INBOX/1700000002.M1P1.host": "", // beyond the bounded header read
			"INBOX/1700000003.M1P1.host": "crlf@x",
			"INBOX/1700000004.M1P1.host": "",
		}
		for id, mid := range want {
			if ids[id] != mid {
				t.Errorf("%T: %s Message-ID %q; want %q", sink, id, ids[id], mid)
			}
		}
	}
}

type readSink struct{ exporttest.Sink }

func (r *readSink) rec() *exporttest.Sink { return &r.Sink }
func (c *copySink) rec() *exporttest.Sink { return &c.Sink }

func TestExportFailures(t *testing.T) {
	if err := (&Source{Root: filepath.Join(t.TempDir(), "missing")}).Export(context.Background(), &exporttest.Sink{}, export.Options{}); err == nil {
		t.Error("missing root: no error")
	}
	f := filepath.Join(t.TempDir(), "file")
	writeTree(t, filepath.Dir(f), file{path: "file", body: "x"})
	if err := (&Source{Root: f}).Export(context.Background(), &exporttest.Sink{}, export.Options{}); err == nil {
		t.Error("root is a file: no error")
	}

	root := maildirPP(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (&Source{Root: root}).Export(ctx, &exporttest.Sink{}, export.Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v; want context.Canceled", err)
	}

	// Cancelled mid-export: stops after the item in progress.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	var s exporttest.Sink
	err := (&Source{Root: root}).Export(ctx, export.WithProgress(&s, "", func(progress.Event) { cancel() }), export.Options{})
	if !errors.Is(err, context.Canceled) || len(s.Items) != 1 {
		t.Errorf("cancel after first item: err %v, %d items; want context.Canceled, 1", err, len(s.Items))
	}

	// A failing sink ends the export with its error.
	boom := errors.New("disk full")
	err = (&Source{Root: root}).Export(context.Background(), &failSink{err: boom}, export.Options{})
	if !errors.Is(err, boom) {
		t.Errorf("failing sink: err = %v; want %v", err, boom)
	}
}

type failSink struct {
	exporttest.Sink
	err error
}

func (f *failSink) AddItem(format.Item, io.Reader) error { return f.err }

func TestNoSubscriptionFileMeansAllSubscribed(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, file{path: "cur/"}, file{path: ".Work/cur/"})
	s := run(t, &Source{Root: root}, export.Options{})
	for _, f := range s.Folders {
		if !f.Subscribed {
			t.Errorf("folder %q not subscribed without a subscriptions file", f.Path)
		}
	}

	writeTree(t, root, file{path: "courierimapsubscribed", body: "INBOX.Work\n"})
	s = run(t, &Source{Root: root}, export.Options{})
	if f := s.Folder("Work"); f == nil || !f.Subscribed {
		t.Errorf("Work: %+v; want subscribed via courierimapsubscribed", f)
	}
	if f := s.Folder("INBOX"); f == nil || f.Subscribed {
		t.Errorf("INBOX: %+v; want not subscribed", f)
	}
}

func TestRoles(t *testing.T) {
	tests := []struct {
		path string
		want format.Role
	}{
		{"INBOX", format.RoleInbox},
		{"Sent", format.RoleSent},
		{"sent items", format.RoleSent},
		{"Sent Messages", format.RoleSent},
		{"INBOX/Sent", format.RoleSent},
		{"Drafts", format.RoleDrafts},
		{"Entwürfe", format.RoleDrafts},
		{"Trash", format.RoleTrash},
		{"Deleted Items", format.RoleTrash},
		{"Deleted Messages", format.RoleTrash},
		{"Papierkorb", format.RoleTrash},
		{"Junk", format.RoleJunk},
		{"SPAM", format.RoleJunk},
		{"Junk E-mail", format.RoleJunk},
		{"Archive", format.RoleArchive},
		{"Archives", format.RoleArchive},
		{"Work", format.RoleNone},
		{"Work/Sent", format.RoleNone},
		{"INBOX/Work/Sent", format.RoleNone},
	}
	for _, tt := range tests {
		if got := nameRole(tt.path); got != tt.want {
			t.Errorf("nameRole(%q) = %q; want %q", tt.path, got, tt.want)
		}
	}
	folders := []*folder{{path: "INBOX"}, {path: "Junk"}, {path: "Sent"}, {path: "Sent Items"}, {path: "Spam"}}
	assignRoles(folders)
	got := map[string]format.Role{}
	for _, f := range folders {
		got[f.path] = f.role
	}
	if got["Sent"] != format.RoleSent || got["Sent Items"] != "" || got["Junk"] != format.RoleJunk || got["Spam"] != "" {
		t.Errorf("assignRoles: %v; want each role on the first folder only", got)
	}
}

func TestUnreadableControlFilesAreWarnings(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root,
		file{path: "cur/1700000001.M1P1.host:2,Sa", body: msg("<a@x>", "a")},
		file{path: "dovecot-keywords/"}, // unreadable: a directory
		file{path: "subscriptions/"},
		file{path: ".Work/cur/"},
	)
	s := run(t, &Source{Root: root}, export.Options{})
	if len(s.Items) != 1 || len(s.Errors) != 0 {
		t.Fatalf("%d items, errors %+v; want the message exported", len(s.Items), s.Errors)
	}
	var items []string
	for _, w := range s.Warnings {
		items = append(items, w.Item)
	}
	// Subscriptions unknown (every folder subscribed), keywords dropped,
	// and so letter "a" has no meaning.
	want := []string{"subscriptions", keywordsFile, "cur/1700000001.M1P1.host:2,Sa"}
	if !slices.Equal(items, want) {
		t.Errorf("warnings %+v; want items %q", s.Warnings, want)
	}
	for _, f := range s.Folders {
		if !f.Subscribed {
			t.Errorf("folder %q not subscribed though subscriptions are unknown", f.Path)
		}
	}
}

func TestKeywordNameNotAnAtomIsKeptAndReported(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root,
		file{path: "cur/"},
		file{path: ".Work/cur/1700000001.M1P1.host:2,Sa", body: msg("<a@x>", "kw")},
		file{path: ".Work/dovecot-keywords", body: "0 to do\n"},
	)
	s := run(t, &Source{Root: root}, export.Options{})
	if got, want := itemBySource(t, s, "Work/1700000001.M1P1.host").Flags, []string{`\Seen`, "to_do"}; !slices.Equal(got, want) {
		t.Errorf("flags %q; want %q", got, want)
	}
	want := format.Problem{Folder: "Work", Item: keywordsFile,
		Reason: `keyword "to do" (letter a) is not an IMAP atom; kept as "to_do"`}
	if len(s.Warnings) != 1 || s.Warnings[0] != want {
		t.Errorf("warnings %+v; want exactly %+v", s.Warnings, want)
	}
}
