package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/report"
)

// TestExportIMAPAsAdmin: export imap logs in as Dovecot's master user
// acting for alice (--admin), and --folder / --exclude pick folders.
func TestExportIMAPAsAdmin(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret"})
	dir := t.TempDir()
	archive := filepath.Join(exportSamples(t, "alice"), "alice.tgz")
	pw := filepath.Join(dir, "master-password")
	os.WriteFile(pw, []byte(d.MasterPassword+"\n"), 0o600)
	login := []string{"--url", "imap://" + d.Addr, "--user", "alice", "--admin", d.Master, "--password-file", pw, "--provider", "dovecot"}
	if code, out, stderr := mailhaul(t, append([]string{"-q", "import", "imap", archive, "--state", filepath.Join(dir, "s")}, login...)...); code != exitOK {
		t.Fatalf("import: exit %d\n%s\n%s", code, out, stderr)
	}
	var inbox int
	var boxes []string
	for _, mb := range testservers.ReadMailboxes(t, d.Addr, "alice", "alice-secret") {
		boxes = append(boxes, mb.Name)
		if mb.Name == "INBOX" {
			inbox = len(mb.Messages)
		}
	}
	readReport := func(path string) report.Export {
		t.Helper()
		var rep report.Export
		b, err := os.ReadFile(path)
		if err != nil || json.Unmarshal(b, &rep) != nil {
			t.Fatalf("report %s: %v", path, err)
		}
		return rep
	}

	all := filepath.Join(dir, "all.json")
	code, out, stderr := mailhaul(t, append([]string{"-q", "export", "imap", "--out", filepath.Join(dir, "all"), "--report", all}, login...)...)
	if code != exitOK {
		t.Fatalf("export imap --admin: exit %d\n%s\n%s", code, out, stderr)
	}
	rep := readReport(all)
	if rep.Status != "ok" || rep.Counts.Messages == 0 || rep.Source.Kind != "imap" || rep.Source.Path != "imap://"+d.Addr {
		t.Errorf("export imap: %+v", rep)
	}
	var paths []string
	for _, f := range rep.Folders {
		paths = append(paths, f.Path)
	}
	if len(paths) < len(boxes)-1 || !slices.Contains(paths, "INBOX") { // "Work" of "Work.x" has no record of its own
		t.Errorf("exported folders %v, mailboxes %v", paths, boxes)
	}

	// A delta since that archive: the samples are older than it, so
	// nothing is exported, and every message is counted as skipped.
	delta := filepath.Join(dir, "delta.json")
	code, out, stderr = mailhaul(t, append([]string{"-q", "export", "imap", "--out", filepath.Join(dir, "delta"), "--report", delta,
		"--since", rep.Archive}, login...)...)
	if code != exitOK {
		t.Fatalf("export imap --since: exit %d\n%s\n%s", code, out, stderr)
	}
	if d := readReport(delta); d.Counts.Messages != 0 || d.After.IsZero() || d.Skipped[export.SkipBeforeCutoff] != rep.Counts.Messages {
		t.Errorf("--since the full archive: %d messages, after %s, skipped %v; want 0, a cutoff, and %d skipped",
			d.Counts.Messages, d.After, d.Skipped, rep.Counts.Messages)
	}

	only := filepath.Join(dir, "only.json")
	code, out, stderr = mailhaul(t, append([]string{"-q", "export", "imap", "--out", filepath.Join(dir, "only"), "--report", only,
		"--folder", "INB?X", "--folder", "nothing/*", "--exclude", "Trash"}, login...)...)
	if code != exitOK {
		t.Fatalf("export imap --folder: exit %d\n%s\n%s", code, out, stderr)
	}
	rep = readReport(only)
	if len(rep.Folders) != 1 || rep.Folders[0].Path != "INBOX" || rep.Counts.Messages != inbox {
		t.Errorf("--folder INB?X: folders %+v, %d messages; want INBOX alone with %d", rep.Folders, rep.Counts.Messages, inbox)
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0].Item, "nothing/*") {
		t.Errorf("warnings %+v: want one naming the pattern that matched nothing", rep.Warnings)
	}
	code, _, stderr = mailhaul(t, append([]string{"-q", "export", "imap", "--out", filepath.Join(dir, "bad"), "--folder", "[x"}, login...)...)
	if code != exitFailed || !strings.Contains(stderr, `"[x"`) {
		t.Errorf("--folder [x: exit %d, %q; want exit 1 naming the pattern", code, stderr)
	}
	code, _, stderr = mailhaul(t, append([]string{"-q", "export", "imap", "--out", filepath.Join(dir, "many"), "--connections", "99"}, login...)...)
	if code != exitFailed || !strings.Contains(stderr, "--connections") {
		t.Errorf("--connections 99 with the dovecot provider: exit %d, %q; want exit 1 naming the cap", code, stderr)
	}

	// A password never goes in clear off loopback.
	code, _, stderr = mailhaul(t, "-q", "export", "imap", "--url", "imap://mail.example.org", "--user", "alice",
		"--password-file", pw, "--out", filepath.Join(dir, "x"))
	if code != exitFailed || !strings.Contains(stderr, "clear text") {
		t.Errorf("imap:// off loopback: exit %d, %q; want exit 1 naming clear text", code, stderr)
	}
}

// TestExportIMAPWithDAVSource: one export imap writes one archive with
// the user's mail from Dovecot and contacts and calendars from Radicale.
func TestExportIMAPWithDAVSource(t *testing.T) {
	r, dir, src := seededRadicale(t)
	d := testservers.StartDovecot(t, map[string]string{"alice@example.org": "imap-secret"})
	archive := filepath.Join(exportSamples(t, "alice@example.org"), "alice@example.org.tgz")
	pw := writePassword(t, "imap-secret")
	login := []string{"--url", "imap://" + d.Addr, "--user", "alice@example.org", "--password-file", pw, "--provider", "dovecot"}
	mustRun(t, append([]string{"-q", "import", "imap", archive, "--state", filepath.Join(dir, "imap-state")}, login...)...)
	out := filepath.Join(dir, "both")
	mustRun(t, append([]string{"-q", "export", "imap", "--out", out,
		"--dav-url", r.URL, "--dav-user", "alice", "--dav-password-file", writePassword(t, "wonder")}, login...)...)
	var rep report.Export
	b, _ := os.ReadFile(filepath.Join(out, "alice@example.org.tgz.report.json"))
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	fixtures := readArchive(t, src)
	mail := 0
	for _, mb := range testservers.ReadMailboxes(t, d.Addr, "alice@example.org", "imap-secret") {
		mail += len(mb.Messages)
	}
	if c := rep.Counts; rep.Status != "ok" || mail == 0 || c.Messages != mail || c.Contacts+c.Events+c.Tasks != len(fixtures.items) {
		t.Errorf("%s, counts %+v; want ok, the %d messages and the %d objects", rep.Status, c, mail, len(fixtures.items))
	}
}

// TestExportFromIMAPPointsToExportIMAP: export --from imap cannot take
// the server's login, so it names the command that does, rather than
// calling imap an unknown kind.
func TestExportFromIMAPPointsToExportIMAP(t *testing.T) {
	for _, kind := range []string{"imap", "dav"} {
		code, _, stderr := mailhaul(t, "-q", "export", "--from", kind, "--user", "alice", "--src", t.TempDir(), "--out", t.TempDir())
		if code != exitFailed || !strings.Contains(stderr, "export "+kind+" --url") || strings.Contains(stderr, "unknown") {
			t.Errorf("export --from %s: exit %d, %q; want exit 1 pointing to export %s --url", kind, code, stderr, kind)
		}
	}
}
