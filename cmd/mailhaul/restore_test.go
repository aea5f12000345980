package main

import (
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/testservers"
	mdir "github.com/mailhaul/mailhaul/mailbox/maildir"
)

// exportMaildir exports the Maildir at src for user and returns the
// archive's path.
func exportMaildir(t *testing.T, src, user string, extra ...string) string {
	t.Helper()
	out := t.TempDir()
	mustRun(t, append([]string{"-q", "export", "maildir", "--src", src, "--user", user, "--out", out}, extra...)...)
	ents, err := filepath.Glob(filepath.Join(out, "*.t*z"))
	if err != nil || len(ents) != 1 {
		t.Fatalf("export wrote %v, %v", ents, err)
	}
	return ents[0]
}

// mailboxState is what a round trip must keep of a mailbox: per folder
// (with its subscribed flag), each message's checksum, flags and received
// time, as one sorted list of lines; item source ids differ by design.
func mailboxState(t *testing.T, archive string) []string {
	t.Helper()
	r, err := format.Open(archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var lines []string
	for {
		e, err := r.Next()
		if err != nil {
			break
		}
		switch {
		case e.Folder != nil:
			lines = append(lines, fmt.Sprintf("folder %q subscribed=%v", e.Folder.Path, e.Folder.Subscribed))
		case e.Item != nil:
			flags := slices.Clone(e.Item.Flags)
			sort.Strings(flags)
			lines = append(lines, fmt.Sprintf("item %q %s %q %s", e.Item.Folder, e.Item.SHA256, flags, e.Item.Received.UTC().Format(time.RFC3339)))
		}
	}
	slices.Sort(lines)
	return lines
}

// Maildir → export → archive → restore → Maildir keeps every message byte
// for byte with its flags, keywords, folder and received time, and the
// subscriptions; restoring again writes nothing.
func TestRestoreMaildirRoundTrip(t *testing.T) {
	for _, src := range []string{sample + "/alice-maildir", "../../testdata/corpus/maildir/stalwart-maildirpp", "../../testdata/corpus/maildir/mox-importtest"} {
		t.Run(filepath.Base(src), func(t *testing.T) {
			archive := exportMaildir(t, src, "alice@example.org")
			dir := filepath.Join(t.TempDir(), "restored")
			code, out, errs := mailhaul(t, "-q", "restore", archive, "--to", "maildir", dir)
			if code != exitOK || !strings.Contains(lastLine(out), "all ") {
				t.Fatalf("restore: exit %d\n%s%s", code, out, errs)
			}
			again := exportMaildir(t, dir, "alice@example.org")
			want, got := mailboxState(t, archive), mailboxState(t, again)
			if !slices.Equal(got, want) {
				t.Errorf("restored Maildir exports as\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			before := restoredFiles(t, dir)
			for name, mtime := range before {
				unique, _, _ := mdir.SplitInfo(filepath.Base(name))
				if sec, ok := mdir.NameTime(unique); !ok || !mtime.Equal(time.Unix(sec, 0)) {
					t.Errorf("%s: mtime %v, not the received time in its name", name, mtime)
				}
			}
			code, out, errs = mailhaul(t, "-q", "restore", archive, "--to", "maildir", dir)
			if code != exitOK || !strings.Contains(out, " 0 imported, ") {
				t.Errorf("second restore: exit %d\n%s%s; want nothing written", code, out, errs)
			}
			if after := restoredFiles(t, dir); !mapsEqual(before, after) {
				t.Errorf("second restore changed the tree:\n%v\n%v", before, after)
			}
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// restoredFiles maps each message file under dir to its mtime.
func restoredFiles(t *testing.T, dir string) map[string]time.Time {
	t.Helper()
	files := map[string]time.Time{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if sub := filepath.Base(filepath.Dir(p)); !d.IsDir() && (sub == "cur" || sub == "new") {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			files[rel] = fi.ModTime()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func mapsEqual(a, b map[string]time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !w.Equal(v) {
			return false
		}
	}
	return true
}

// A full archive and a delta restored in order give the union; a second
// run writes nothing new.
func TestRestoreFullPlusDelta(t *testing.T) {
	src := filepath.Join(t.TempDir(), "Maildir")
	copyTree(t, sample+"/alice-maildir", src)
	full := exportMaildir(t, src, "alice@example.org")
	newMsg := fmt.Sprintf("%d.M1P1.host:2,F", time.Now().Unix())
	if err := os.WriteFile(filepath.Join(src, ".Work", "cur", newMsg), []byte("Subject: later\r\n\r\nlater\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	delta := exportMaildir(t, src, "alice@example.org", "--since", full)
	if n := len(mailboxState(t, delta)); n == 0 {
		t.Fatal("empty delta")
	}
	dir := t.TempDir()
	code, out, errs := mailhaul(t, "-q", "restore", full, delta, "--to", "maildir", dir)
	if code != exitOK {
		t.Fatalf("restore full+delta: exit %d\n%s%s", code, out, errs)
	}
	// The union is exactly what a full export of the source now holds.
	now := exportMaildir(t, src, "alice@example.org")
	if got, want := mailboxState(t, exportMaildir(t, dir, "alice@example.org")), mailboxState(t, now); !slices.Equal(got, want) {
		t.Errorf("full+delta restored as\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	before := restoredFiles(t, dir)
	if len(before) != 11 {
		t.Errorf("%d messages restored; want the 10 of the full archive and the delta's new one", len(before))
	}
	code, out, _ = mailhaul(t, "-q", "restore", full, delta, "--to", "maildir", dir)
	if code != exitOK || !strings.Contains(out, ": 0 imported, ") || !mapsEqual(before, restoredFiles(t, dir)) {
		t.Errorf("second run: exit %d\n%s; want nothing new", code, out)
	}
}

// An archive folder named ".." (as an older release wrote) cannot lead a
// write outside DIR: it is restored inside, under its safe name.
func TestRestoreHostileFolderNameStaysInside(t *testing.T) {
	archive := oldArchive(t, "alice")
	parent := t.TempDir()
	dir := filepath.Join(parent, "a", "b")
	code, out, errs := mailhaul(t, "-q", "restore", archive, "--to", "maildir", dir)
	if code != exitOK {
		t.Fatalf("restore: exit %d\n%s%s", code, out, errs)
	}
	var outside []string
	filepath.WalkDir(parent, func(p string, d fs.DirEntry, err error) error {
		if !strings.HasPrefix(p, dir) && p != parent && p != filepath.Join(parent, "a") {
			outside = append(outside, p)
		}
		return nil
	})
	if len(outside) != 0 {
		t.Errorf("written outside DIR: %q", outside)
	}
	files := restoredFiles(t, dir)
	var names []string
	for n := range files {
		names = append(names, filepath.Dir(filepath.Dir(n)))
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{".", `._\2e\2e`}) {
		t.Errorf("folders restored: %q; want INBOX and the safe name of \"..\"", names)
	}
}

// Exit codes and the last line, as the importers': 3 with each failed
// item named, 1 when the run stops, the JSON result last.
func TestRestoreExitCodes(t *testing.T) {
	archive := exportMaildir(t, sample+"/alice-maildir", "alice@example.org")
	dir, elsewhere := t.TempDir(), t.TempDir()
	if err := os.Symlink(elsewhere, filepath.Join(dir, ".Sent")); err != nil {
		t.Fatal(err)
	}
	code, out, errs := mailhaul(t, "-q", "restore", archive, "--to", "maildir", dir)
	if code != exitPartial || !strings.Contains(lastLine(out), "1 of 10 items are NOT on the target") ||
		!strings.Contains(errs, "failed: alice@example.org: Sent: Sent/1700001000.M5P100.mail: folder not restored") {
		t.Errorf("restore into a tree with a linked folder: exit %d\n%s%s; want exit 3 naming the Sent message", code, out, errs)
	}
	if ents, _ := os.ReadDir(elsewhere); len(ents) != 0 {
		t.Errorf("wrote through the link: %v", ents)
	}

	code, out, _ = mailhaul(t, "-q", "--json", "restore", archive, "--to", "maildir", t.TempDir())
	if v := lastJSON(t, out); code != exitOK || v["status"] != "ok" || v["event"] != "restore" || v["kind"] != "maildir" {
		t.Errorf("--json: exit %d, %v", code, v)
	}

	damaged := filepath.Join(t.TempDir(), "alice@example.org.tgz")
	b, _ := os.ReadFile(archive)
	os.WriteFile(damaged, b[:len(b)/2], 0o600)
	code, out, errs = mailhaul(t, "-q", "restore", damaged, "--to", "maildir", t.TempDir())
	if code != exitFailed || !strings.Contains(lastLine(out), "the run stopped early") {
		t.Errorf("truncated archive: exit %d\n%s%s; want exit 1 and a statement saying so", code, out, errs)
	}

	fresh := filepath.Join(t.TempDir(), "none")
	code, out, _ = mailhaul(t, "-q", "restore", archive, "--to", "maildir", "--dry-run", "--folder", "Work", fresh)
	if _, err := os.Stat(fresh); code != exitOK || err == nil || !regexp.MustCompile(`create "\.Work\.Projects" +<- "Work/Projects" +1 messages`).MatchString(out) ||
		strings.Contains(out, `<- "INBOX"`) {
		t.Errorf("dry run: exit %d, %v\n%s", code, err, out)
	}

	for _, args := range [][]string{
		{"restore", archive, "--to", "tape", t.TempDir()},
		{"restore", archive, "--to", "maildir", "--after", "2024-02-01", "--before", "2024-01-01", t.TempDir()},
		{"restore", archive, "--to", "maildir", "--folder", "../x", t.TempDir()},
		{"restore", archive, "--to", "maildir", archive},
	} {
		if code, _, errs := mailhaul(t, args...); code != exitUsage || errs == "" {
			t.Errorf("%q: exit %d, %q; want %d (usage) with a reason", args, code, errs, exitUsage)
		}
	}
}

// The restored tree is served by Dovecot exactly as import imap loads the
// same archive: every mailbox, message, flag and internal date.
func TestRestoredMaildirServedByDovecot(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "pa", "bob": "pb"})
	// Ärger subscribed too: a name Dovecot reads in modified UTF-7.
	src := filepath.Join(t.TempDir(), "Maildir")
	copyTree(t, sample+"/alice-maildir", src)
	subs, err := os.ReadFile(filepath.Join(src, "subscriptions"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "subscriptions"), append(subs, "&AMQ-rger\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	archive := exportMaildir(t, src, "alice")
	home := filepath.Join(d.Dir, "mail", "alice")
	mustRun(t, "-q", "restore", archive, "--to", "maildir", filepath.Join(home, "Maildir"))
	err = filepath.WalkDir(home, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, testservers.MailUID, testservers.MailUID)
	})
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, "-q", "import", "imap", archive, "--url", "imap://"+d.Addr, "--user", "bob", "--archive-user", "alice",
		"--password-file", writePassword(t, "pb"), "--state", t.TempDir())
	restored, imported := imapState(t, d.Addr, "alice", "pa"), imapState(t, d.Addr, "bob", "pb")
	if !slices.Equal(restored, imported) || len(restored) != 8+10 || !slices.Contains(restored, `mailbox "Ärger" true`) {
		t.Errorf("restored tree over IMAP:\n%s\nimport imap of the archive:\n%s", strings.Join(restored, "\n"), strings.Join(imported, "\n"))
	}
}

// imapState lists a user's mailboxes over IMAP, one line per mailbox
// (with its subscription) and per message (checksum, flags, internal
// date), sorted.
func imapState(t *testing.T, addr, user, pass string) []string {
	t.Helper()
	var lines []string
	for _, mb := range testservers.ReadMailboxes(t, addr, user, pass) {
		lines = append(lines, fmt.Sprintf("mailbox %q %v", mb.Name, mb.Subscribed))
		for _, m := range mb.Messages {
			lines = append(lines, fmt.Sprintf("message %q %s %q %s", mb.Name, hex.EncodeToString(m.SHA256[:]), m.Flags, m.Date.UTC().Format(time.RFC3339)))
		}
	}
	slices.Sort(lines)
	return lines
}

// restore --to mbox and --to eml reach their targets through the registry:
// full plus delta restore every message once, and a second run (mbox by
// its journal, eml by its file names) writes nothing new.
func TestRestoreMboxAndEMLThroughTheCommand(t *testing.T) {
	src := filepath.Join(t.TempDir(), "Maildir")
	copyTree(t, sample+"/alice-maildir", src)
	full := exportMaildir(t, src, "alice@example.org")
	if err := os.WriteFile(filepath.Join(src, "cur", fmt.Sprintf("%d.M1P1.host:2,S", time.Now().Unix())),
		[]byte("Subject: later\r\n\r\nlater\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	delta := exportMaildir(t, src, "alice@example.org", "--since", full)
	want := 0
	for _, l := range mailboxState(t, exportMaildir(t, src, "alice@example.org")) {
		if strings.HasPrefix(l, "item ") {
			want++
		}
	}
	for _, kind := range []string{"mbox", "eml"} {
		dir := t.TempDir()
		state := t.TempDir()
		for run := 1; run <= 2; run++ {
			code, out, errs := mailhaul(t, "-q", "restore", full, delta, "--to", kind, "--state", state, dir)
			wantLine := fmt.Sprintf(": %d imported, ", want)
			if run == 2 {
				wantLine = ": 0 imported, "
			}
			if code != exitOK || !strings.Contains(out, wantLine) {
				t.Errorf("--to %s, run %d: exit %d, want %q in\n%s%s", kind, run, code, wantLine, out, errs)
			}
		}
		var files int
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				files++
			}
			return nil
		})
		if files == 0 {
			t.Errorf("--to %s wrote no files", kind)
		}
	}
}

// A restore that fails only in its finishing step (maildir's subscriptions
// file is a link out of DIR) says every item was read and what failed,
// not that the rest of the archives went unread.
func TestRestoreFinishFailureTellsTheTruth(t *testing.T) {
	archive := exportMaildir(t, sample+"/alice-maildir", "alice@example.org")
	dir, elsewhere := t.TempDir(), t.TempDir()
	if err := os.Symlink(filepath.Join(elsewhere, "subs"), filepath.Join(dir, "subscriptions")); err != nil {
		t.Fatal(err)
	}
	// And a folder whose keywords file is a link: a folder's own failure
	// row names the folder and the reason, no empty item between.
	os.Mkdir(filepath.Join(dir, ".Work"), 0o700)
	if err := os.Symlink(filepath.Join(elsewhere, "kw"), filepath.Join(dir, ".Work", "dovecot-keywords")); err != nil {
		t.Fatal(err)
	}
	code, out, errs := mailhaul(t, "-q", "restore", archive, "--to", "maildir", dir)
	last := lastLine(out)
	if code != exitFailed || strings.Contains(last, "not imported") || !strings.Contains(last, "every item of the archives was read") ||
		!strings.Contains(last, "finishing step") || !strings.Contains(last, "subscriptions") ||
		!strings.Contains(errs, "failed: alice@example.org: Work: ") || strings.Contains(errs, ": : ") {

		t.Errorf("exit %d\n%s%s; want exit 1, every item read and the finishing step's failure named", code, out, errs)
	}
	if ents, _ := os.ReadDir(elsewhere); len(ents) != 0 {
		t.Errorf("wrote through the link: %v", ents)
	}
}
