package mbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/mailbox/mbox"
)

// writeFiles creates files (slash paths) below dir.
// sep is a separator line as mbox writers put it.
const sep = "From a@example.com Wed Nov 28 12:00:00 2026\n"

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func exportDir(t *testing.T, path string, opt export.Options) *exporttest.Sink {
	t.Helper()
	var sink exporttest.Sink
	if err := (&Source{Path: path}).Export(t.Context(), &sink, opt); err != nil {
		t.Fatalf("Export: %v", err)
	}
	return &sink
}

func msg(subject string) string {
	return sep + "Subject: " + subject + "\n\nbody\n\n"
}

// headerIdent is the identity of msg(subject) (identity.go): a digest of
// its one header field.
func headerIdent(subject string) string {
	h := sha256.Sum256([]byte("subject\x00" + subject + "\n"))
	return "h:" + hex.EncodeToString(h[:16])
}

func TestThunderbirdTree(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Inbox":                 msg("in 1") + msg("in 2"),
		"Inbox.msf":             "// <!-- <mdb:mork:z v=\"1.4\"/> -->",
		"Inbox.sbd/Lists":       msg("list"),
		"Sent":                  msg("sent"),
		"Work":                  msg("work"),
		"Work.sbd/2024":         msg("work 2024"),
		"Work.sbd/2024.msf":     "index",
		"Work.sbd/Empty":        "",
		"Work.sbd/Deep.sbd/Sub": msg("deep"),
		"Archives.mbox":         msg("old"),
		"Projects.sbd/X":        msg("x"),
		"notes.txt":             "not mail\n",
	})
	sink := exportDir(t, dir, export.Options{})

	type folder struct {
		path  string
		role  format.Role
		items int
	}
	want := []folder{
		{"Archives", format.RoleArchive, 1},
		{"INBOX", format.RoleInbox, 2},
		{"INBOX/Lists", "", 1},
		{"Projects/X", "", 1},
		{"Sent", format.RoleSent, 1},
		{"Work", "", 1},
		{"Work/2024", "", 1},
		{"Work/Deep/Sub", "", 1},
		{"Work/Empty", "", 0},
	}
	var got []folder
	for _, f := range sink.Folders {
		got = append(got, folder{f.Path, f.Role, len(sink.InFolder(f.Path))})
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("folders\ngot  %v\nwant %v", got, want)
	}
	if len(sink.Warnings) != 1 || sink.Warnings[0].Item != "notes.txt" {
		t.Errorf("warnings %+v, want one naming notes.txt", sink.Warnings)
	}
	// Without Message-IDs: the file and a digest of the header.
	if it := sink.InFolder("Work/2024"); len(it) == 1 && it[0].SourceID != "Work.sbd/2024#"+headerIdent("work 2024") {
		t.Errorf("SourceID %q, want %q", it[0].SourceID, "Work.sbd/2024#"+headerIdent("work 2024"))
	}
	if in := sink.InFolder("INBOX"); len(in) == 2 && in[1].SourceID != "Inbox#"+headerIdent("in 2") {
		t.Errorf("second SourceID %q, want Inbox#%s", in[1].SourceID, headerIdent("in 2"))
	}
}

func TestSingleFileFolderName(t *testing.T) {
	tests := []struct{ file, folder string }{
		{"mbox", "INBOX"},
		{"Inbox", "INBOX"},
		{"inbox.mbox", "INBOX"},
		{"Sent Items.mbox", "Sent Items"},
		{"Project.MBOX", "Project"},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{tt.file: msg("x")})
		sink := exportDir(t, filepath.Join(dir, tt.file), export.Options{})
		if len(sink.Folders) != 1 || sink.Folders[0].Path != tt.folder || len(sink.Items) != 1 {
			t.Errorf("%s: folders %+v, %d items; want one folder %q with 1 item", tt.file, sink.Folders, len(sink.Items), tt.folder)
		}
	}
}

func TestSingleFileNotMbox(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"x.mbox": "Subject: hi\n\n"})
	var sink exporttest.Sink
	err := (&Source{Path: filepath.Join(dir, "x.mbox")}).Export(t.Context(), &sink, export.Options{})
	if !errors.Is(err, mbox.ErrNotMbox) {
		t.Errorf("Export of a non-mbox file: got %v, want mbox.ErrNotMbox", err)
	}
}

func TestSkips(t *testing.T) {
	uw := "From MAILER-DAEMON Wed Nov 28 12:00:00 2026\nDate: Wed, 28 Nov 2026 12:00:00 +0000\n" +
		"Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\nX-IMAP: 1700000000 0000000002\n\ninternal\n\n"
	expunged := sep + "X-Mozilla-Status: 0009\nSubject: gone\n\nx\n\n"
	old := "From a@example.com Mon Jan  1 12:00:00 2001\nSubject: old\n\nx\n\n"
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f": uw + expunged + old + msg("kept") + sep + "\n"})
	sink := exportDir(t, filepath.Join(dir, "f"), export.Options{After: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)})
	wantSkipped := map[string]int{SkipInternalData: 1, SkipExpunged: 1, export.SkipBeforeCutoff: 1}
	if fmt.Sprint(sink.Skipped) != fmt.Sprint(wantSkipped) {
		t.Errorf("skipped %v, want %v", sink.Skipped, wantSkipped)
	}
	if len(sink.Items) != 1 || !strings.Contains(string(sink.Items[0].Body), "Subject: kept") {
		t.Errorf("got %d items, want only the kept one", len(sink.Items))
	}
	// The last message is empty: an error naming it, not an item.
	wantErr := format.Problem{Folder: "f", Item: fmt.Sprintf("f#%d", len(uw+expunged+old+msg("kept"))), Reason: "empty message"}
	if len(sink.Errors) != 1 || sink.Errors[0] != wantErr {
		t.Errorf("errors %+v, want %+v", sink.Errors, wantErr)
	}
}

func TestUWInternalOnlyFirst(t *testing.T) {
	uw := sep + "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n\nx\n\n"
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f": msg("first") + uw})
	sink := exportDir(t, filepath.Join(dir, "f"), export.Options{})
	if len(sink.Items) != 2 || len(sink.Skipped) != 0 {
		t.Errorf("got %d items, skipped %v; want 2 and none: only a first message is UW-IMAP's", len(sink.Items), sink.Skipped)
	}
}

func TestUnknownReceivedTimeWarns(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f": "From -\nSubject: no date\n\nx\n"})
	sink := exportDir(t, filepath.Join(dir, "f"), export.Options{After: time.Now()})
	if len(sink.Items) != 1 || len(sink.Warnings) != 1 || sink.Warnings[0].Item != sink.Items[0].SourceID {
		t.Errorf("items %d, warnings %+v; want the message kept with a warning naming it", len(sink.Items), sink.Warnings)
	}
}

func TestItemMetadata(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Inbox": sep +
		"Message-ID: <abc@example.com>\nStatus: RO\nX-Status: AF\nX-Keywords: $Work, Später\nX-Mozilla-Status: 1000\n\nx\n"})
	sink := exportDir(t, dir, export.Options{})
	if len(sink.Items) != 1 {
		t.Fatalf("got %d items, want 1", len(sink.Items))
	}
	it := sink.Items[0]
	wantFlags := []string{`\Seen`, `\Answered`, `\Flagged`, "$Forwarded", "$Work", "Sp_ter"}
	if !slices.Equal(it.Flags, wantFlags) {
		t.Errorf("flags %q, want %q", it.Flags, wantFlags)
	}
	if it.MessageID != "abc@example.com" || it.Folder != "INBOX" || it.Kind != format.KindMessage {
		t.Errorf("got id %q folder %q kind %q", it.MessageID, it.Folder, it.Kind)
	}
	if len(it.Notes) != 1 || !strings.Contains(it.Notes[0], "Später") {
		t.Errorf("notes %q, want one about the keyword Später", it.Notes)
	}
}

func TestExportCancelled(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a": msg("a"), "b": msg("b")})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var sink exporttest.Sink
	if err := (&Source{Path: dir}).Export(ctx, &sink, export.Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestExportMissing(t *testing.T) {
	var sink exporttest.Sink
	if err := (&Source{Path: filepath.Join(t.TempDir(), "nope")}).Export(t.Context(), &sink, export.Options{}); err == nil {
		t.Error("Export of a missing path: got nil error")
	}
}

// TestLargeContentLengthBody checks a Content-Length body bigger than the
// read buffer is still trusted (checked with ReadAt on the file): its bare
// From line must not split it.
func TestLargeContentLengthBody(t *testing.T) {
	body := strings.Repeat("x", 3<<20) // three times the Reader's 1 MiB buffer
	body += "\nFrom b@example.com Wed Nov 28 12:00:00 2026\nmore\n"
	big := fmt.Sprintf("Subject: big\nContent-Length: %d\n\n%s", len(body), body)
	small := "Subject: small\nContent-Length: 3\n\nab\n"
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f": sep + big + "\n" + sep + small + "\n"})
	sink := exportDir(t, filepath.Join(dir, "f"), export.Options{})
	if len(sink.Items) != 2 || string(sink.Items[0].Body) != big || string(sink.Items[1].Body) != small {
		t.Fatalf("got %d items, want the big and the small message intact", len(sink.Items))
	}
	if notes := sink.Folders[0].Notes; !slices.Equal(notes, []string{"mbox dialect: mboxcl2"}) {
		t.Errorf("notes %q, want mboxcl2", notes)
	}
}

// failingFile fails every read of its second pass (after the Seek that
// follows dialect detection) past byte limit.
type failingFile struct {
	input
	pass  int
	pos   int64
	limit int64
}

func (f *failingFile) Seek(off int64, whence int) (int64, error) {
	if whence == io.SeekStart {
		f.pass++
	}
	n, err := f.input.Seek(off, whence)
	f.pos = n
	return n, err
}

func (f *failingFile) Read(p []byte) (int, error) {
	if f.pass > 0 && f.pos+int64(len(p)) > f.limit {
		p = p[:max(0, f.limit-f.pos)]
		if len(p) == 0 {
			return 0, errors.New("input/output error")
		}
	}
	n, err := f.input.Read(p)
	f.pos += int64(n)
	return n, err
}

func TestReadErrorIsTheItems(t *testing.T) {
	first := msg("one")
	second := sep + "Subject: two\n\n" + strings.Repeat("body line\n", 1000) + "\n"
	for _, tt := range []struct {
		name  string
		limit int
	}{
		{"just after the next message's header", len(first) + len(sep) + 20},
		{"in the second message's body", len(first) + len(second)/2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"Work": first + second + msg("three")})
			open := openFile
			t.Cleanup(func() { openFile = open })
			openFile = func(mf mboxFile) (input, error) {
				f, err := open(mf)
				if err != nil {
					return nil, err
				}
				return &failingFile{input: f, limit: int64(tt.limit)}, nil
			}
			s := exportDir(t, dir, export.Options{})
			if len(s.Items) != 1 || string(s.Items[0].Body) != "Subject: one\n\nbody\n" {
				t.Fatalf("got %d items, want the first message whole", len(s.Items))
			}
			if len(s.Errors) == 0 {
				t.Fatal("the unreadable message was not reported")
			}
			for _, p := range s.Errors {
				if p.Folder != "Work" || !strings.HasPrefix(p.Item, "Work") || !strings.Contains(p.Reason, "input/output error") {
					t.Errorf("problem %+v: want folder Work, an item in file Work and the read error", p)
				}
			}
		})
	}
}

func TestRolesFromNames(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Papierkorb":     msg("trash"),
		"Sent":           msg("sent"),
		"Sent Items":     msg("sent too"),
		"Work.sbd/Sent":  msg("work sent"),
		"Work":           msg("work"),
		"Entwürfe.mbox":  msg("draft"),
		"Archives":       "",
		"Junk E-mail":    msg("junk"),
		"Notes.sbd/Spam": msg("not junk"),
	})
	s := exportDir(t, dir, export.Options{})
	want := map[string]format.Role{
		"Papierkorb": format.RoleTrash, "Sent": format.RoleSent, "Sent Items": format.RoleNone,
		"Work/Sent": format.RoleNone, "Work": format.RoleNone, "Entwürfe": format.RoleDrafts,
		"Archives": format.RoleArchive, "Junk E-mail": format.RoleJunk, "Notes/Spam": format.RoleNone,
	}
	for path, role := range want {
		f := s.Folder(path)
		if f == nil {
			t.Errorf("folder %q missing", path)
			continue
		}
		if f.Role != role {
			t.Errorf("folder %q role %q, want %q", path, f.Role, role)
		}
		for _, it := range s.InFolder(path) {
			if it.Role != role {
				t.Errorf("item %s role %q, want its folder's %q", it.SourceID, it.Role, role)
			}
		}
	}
}
