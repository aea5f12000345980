package mbox

import (
	"context"
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
)

// Issue 9, item 10: the tree walk never leaves the source: links to files
// and directories (a Thunderbird .sbd among them) are reported and not
// followed, a FIFO is reported and never opened, and all of them are
// errors, so the run ends partial.
func TestTreeNeverFollowsLinksOrOpensFIFOs(t *testing.T) {
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{
		"shadow.mbox":    sep + "Subject: SECRET file\n\nroot:x\n\n",
		"other/Secret":   msg("SECRET dir"),
		"sbd/Secret":     msg("SECRET sbd"),
		"plain/Inner":    msg("SECRET plain"),
		"plain.sbd/Deep": msg("SECRET deep"),
	})
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"Inbox": msg("in"), "Work": msg("work")})
	for link, target := range map[string]string{
		"Linked":       filepath.Join(outside, "shadow.mbox"),
		"Other":        filepath.Join(outside, "other"),
		"Work.sbd":     filepath.Join(outside, "sbd"),
		"Inbox.sbd":    filepath.Join(outside, "plain.sbd"),
		"Dangling.msf": filepath.Join(outside, "gone"),
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(root, "Pipe"), 0o600); err != nil {
		t.Fatal(err)
	}
	var s exporttest.Sink
	err := exporttest.Bounded(t, 20*time.Second, "export hung: a FIFO was opened", func() error {
		return (&Source{Path: root}).Export(context.Background(), &s, export.Options{})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range s.Items {
		if strings.Contains(string(it.Body), "SECRET") || strings.Contains(string(it.Body), "root:x") {
			t.Errorf("item %s in %s comes from outside the source", it.SourceID, it.Folder)
		}
	}
	if len(s.Items) != 2 {
		t.Errorf("%d items; want 2 (in, work)", len(s.Items))
	}
	for _, want := range []struct{ item, reason string }{
		{"Linked", "symbolic link"},
		{"Other", "symbolic link"},
		{"Work.sbd", "symbolic link"},
		{"Inbox.sbd", "symbolic link"},
		{"Dangling.msf", "symbolic link"},
		{"Pipe", "named pipe"},
	} {
		if !slices.ContainsFunc(s.Errors, func(p format.Problem) bool {
			return p.Item == want.item && strings.Contains(p.Reason, want.reason)
		}) {
			t.Errorf("no error for %s (%s); errors %+v warnings %+v", want.item, want.reason, s.Errors, s.Warnings)
		}
	}
}

// A --src that is itself a FIFO is refused, not opened (it would block).
func TestSourceFIFORefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mbox")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	err := exporttest.Bounded(t, 10*time.Second, "Export opened the FIFO and hung", func() error {
		var s exporttest.Sink
		return (&Source{Path: p}).Export(context.Background(), &s, export.Options{})
	})
	if err == nil || !strings.Contains(err.Error(), "named pipe") {
		t.Errorf("Export(FIFO) = %v; want a refusal naming the named pipe", err)
	}
}

// Issue 9 review: a --src that is itself a link (bob's mbox pointing at
// alice's) is refused, file or tree, naming where it points.
func TestSourceThatIsALinkIsRefused(t *testing.T) {
	base := t.TempDir()
	os.MkdirAll(filepath.Join(base, "alice", "Mail"), 0o755)
	mb := "From a@b Thu Jan  1 00:00:00 2024\nSubject: alice\n\nsecret\n"
	os.WriteFile(filepath.Join(base, "alice", "mbox"), []byte(mb), 0o600)
	os.WriteFile(filepath.Join(base, "alice", "Mail", "Inbox"), []byte(mb), 0o600)
	os.Symlink(filepath.Join(base, "alice", "mbox"), filepath.Join(base, "bobmbox"))
	os.Symlink(filepath.Join(base, "alice", "Mail"), filepath.Join(base, "bobMail"))
	for _, p := range []string{filepath.Join(base, "bobmbox"), filepath.Join(base, "bobMail")} {
		var s exporttest.Sink
		err := (&Source{Path: p}).Export(context.Background(), &s, export.Options{})
		if err == nil || !strings.Contains(err.Error(), "symbolic link to "+filepath.Join(base, "alice")) {
			t.Errorf("Export(%s) = %v; want a refusal naming the link's target", p, err)
		}
		if len(s.Items) != 0 {
			t.Errorf("Export(%s) exported %d items through the link", p, len(s.Items))
		}
	}
}

// Issue 9 review: a folder name the archive refuses ("..mbox" is the
// folder ".", a Gmail label "../etc") is made safe with a note, its
// messages exported, instead of ending the whole export.
func TestUnsafeFolderNamesAreMadeSafe(t *testing.T) {
	root := t.TempDir()
	mb := func(extra, subj string) string {
		return "From a@b Thu Jan  1 00:00:00 2024\n" + extra + "Subject: " + subj + "\nDate: Thu, 1 Jan 2024 00:00:00 +0000\n\nbody\n"
	}
	os.WriteFile(filepath.Join(root, "..mbox"), []byte(mb("", "dot")), 0o600)
	os.WriteFile(filepath.Join(root, "Takeout.mbox"), []byte(mb("X-Gmail-Labels: ../etc\n", "label")), 0o600)
	arch, err := exporttest.NewArchive()
	if err != nil {
		t.Fatal(err)
	}
	s := exporttest.Sink{Archive: arch}
	if err := (&Source{Path: root}).Export(context.Background(), &s, export.Options{}); err != nil {
		t.Fatalf("Export: %v", err)
	}
	for path, subj := range map[string]string{"_.": "dot", "_../etc": "label"} {
		items := s.InFolder(path)
		if len(items) != 1 || !strings.Contains(string(items[0].Body), "Subject: "+subj) {
			t.Errorf("folder %q holds %d items; want the message %q", path, len(items), subj)
		}
		f := s.Folder(path)
		if f == nil || !slices.ContainsFunc(f.Notes, func(n string) bool { return strings.Contains(n, "exported as") }) {
			t.Errorf("folder %q has no note naming its original name: %+v", path, f)
		}
	}
}

// Review of issue 9: export mbox --src of a Maildir exported 0 messages,
// exit 0, a warning per file. It is refused, saying to use export maildir.
func TestMaildirSourceIsRefused(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "cur", "1.M1P1.h:2,S"), []byte("From: a@b\nSubject: x\n\nhi\n"), 0o600)
	var s exporttest.Sink
	err := (&Source{Path: root}).Export(context.Background(), &s, export.Options{})
	if err == nil || !strings.Contains(err.Error(), "use export maildir") {
		t.Errorf("Export(Maildir) = %v; want a refusal naming export maildir", err)
	}
}

// Review of issue 9: "..mbox" (folder ".") and "_..mbox" (folder "_.")
// were exported as one folder "_.", their messages merged. The name
// already taken gets "~2", as the archive reader does; the safe name keeps it.
func TestUnsafeFolderNameNeverMergesWithAnother(t *testing.T) {
	root := t.TempDir()
	mb := func(subj string) string {
		return "From a@b Thu Jan  1 00:00:00 2024\nSubject: " + subj + "\nDate: Thu, 1 Jan 2024 00:00:00 +0000\n\nbody\n"
	}
	os.WriteFile(filepath.Join(root, "..mbox"), []byte(mb("dot")), 0o600)
	os.WriteFile(filepath.Join(root, "_..mbox"), []byte(mb("underscore")), 0o600)
	s := exportDir(t, root, export.Options{})
	for path, subj := range map[string]string{"_.": "underscore", "_.~2": "dot"} {
		items := s.InFolder(path)
		if len(items) != 1 || !strings.Contains(string(items[0].Body), "Subject: "+subj) {
			t.Errorf("folder %q holds %d items; want the message %q", path, len(items), subj)
		}
	}
}
