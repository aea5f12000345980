package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/report"
)

// Tests of issue 9's export items: what the export command refuses, skips
// and prints.

// writeMaildirMsg writes one message file below root.
func writeMaildirMsg(t *testing.T, root, rel string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	body := "From: a@example.com\nMessage-ID: <" + filepath.Base(rel) + "@x>\nSubject: s\n\nbody\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A folder name on disk holding ESC and CR must not reach the terminal raw:
// it could erase or forge the lines the administrator reads (issue 9, 13).
func TestExportWarningsEscapeControlCharacters(t *testing.T) {
	src := t.TempDir()
	writeMaildirMsg(t, src, "cur/1700000001.M1P1.host:2,S")
	evil := ".Evil\x1b[2K\rforged"
	writeMaildirMsg(t, src, evil+"/cur/1700000002.M2P2.host:2,S")
	code, stdout, stderr := mailhaul(t, "export", "maildir", "--user", "alice@example.org", "--src", src, "--out", t.TempDir())
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if strings.ContainsAny(stdout+stderr, "\x1b\r") {
		t.Errorf("output holds raw control characters:\n%q\n%q", stdout, stderr)
	}
	if !strings.Contains(stderr, `Evil\x1b[2K\rforged`) {
		t.Errorf("the warning must name the folder with its controls escaped; stderr:\n%q", stderr)
	}
}

// Issue 9, item 10: links out of the source and FIFOs are skipped, named
// on the terminal and in the report, and the run ends partial (exit 3).
func TestExportSkipsLinksAndFIFOsExitPartial(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "shadow")
	os.WriteFile(secret, []byte("root:$6$secret\n"), 0o600)

	mdir := t.TempDir()
	writeMaildirMsg(t, mdir, "cur/1700000001.M1P1.host:2,S")
	os.Symlink(secret, filepath.Join(mdir, "cur", "1700000002.M2P2.host:2,S"))
	mtree := t.TempDir()
	os.WriteFile(filepath.Join(mtree, "Inbox"), []byte("From a@b Sat Jan  1 00:00:00 2022\nSubject: x\n\nx\n"), 0o600)
	if err := mkfifo(filepath.Join(mtree, "Pipe")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ kind, src, item string }{
		{"maildir", mdir, "cur/1700000002.M2P2.host:2,S"},
		{"mbox", mtree, "Pipe"},
	} {
		out := t.TempDir()
		done := make(chan struct{})
		var (
			code           int
			stdout, stderr string
		)
		go func() {
			defer close(done)
			code, stdout, stderr = mailhaul(t, "export", tc.kind, "--user", "alice@example.org", "--src", tc.src, "--out", out)
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("export %s hung", tc.kind)
		}
		if code != exitPartial {
			t.Errorf("export %s: exit %d, want %d\n%s\n%s", tc.kind, code, exitPartial, stdout, stderr)
		}
		if !strings.Contains(stderr, "alice@example.org") || !strings.Contains(stderr, tc.item) {
			t.Errorf("export %s: the skipped file must be named with the user; stderr:\n%s", tc.kind, stderr)
		}
		items, _ := archiveItems(t, filepath.Join(out, "alice@example.org.tgz"))
		if len(items) != 1 {
			t.Errorf("export %s: %d items in the archive, want 1", tc.kind, len(items))
		}
		// The report gives the kind of failure a script can count on.
		var rep report.Export
		if b, err := os.ReadFile(filepath.Join(out, "alice@example.org.tgz.report.json")); err != nil || json.Unmarshal(b, &rep) != nil ||
			len(rep.Errors) != 1 || rep.Errors[0].Code != report.CodeNotRegular {
			t.Errorf("export %s: report errors %+v (%v); want the one not-regular item", tc.kind, rep.Errors, err)
		}
	}
}

// Issue 9, item 6: --src at the home directory instead of its Maildir.
func TestExportSrcAboveTheMaildirIsRefused(t *testing.T) {
	home := t.TempDir()
	writeMaildirMsg(t, home, "Maildir/cur/1700000001.M1P1.host:2,S")
	writeMaildirMsg(t, home, "Maildir/.Work/cur/1700000002.M2P2.host:2,S")
	out := t.TempDir()
	code, _, stderr := mailhaul(t, "export", "maildir", "--user", "alice@example.org", "--src", home, "--out", out)
	if code != exitFailed {
		t.Errorf("exit %d, want %d", code, exitFailed)
	}
	if want := "did you mean --src " + filepath.Join(home, "Maildir") + "?"; !strings.Contains(stderr, want) || !strings.Contains(stderr, "no cur/ or new/") {
		t.Errorf("stderr %q; want the reason and %q", stderr, want)
	}
	// Only the report of the failed run (item 16), no archive.
	if files, _ := filepath.Glob(filepath.Join(out, "*")); len(files) != 1 || !strings.HasSuffix(files[0], ".tgz.report.json") {
		t.Errorf("left behind %q; want only the report", files)
	}
}

// Issue 9, item 24: a vCard file given as --calendar (and an .ics as
// --contacts) is refused, not exported as "0 events" with exit 0.
func TestExportRefusesContactsGivenAsCalendar(t *testing.T) {
	src := t.TempDir()
	writeMaildirMsg(t, src, "cur/1700000001.M1P1.host:2,S")
	for _, tc := range []struct{ flag, file, hint string }{
		{"--calendar", sample + "/alice-contacts.vcf", "give it with --contacts"},
		{"--contacts", sample + "/alice-calendar.ics", "give it with --calendar"},
	} {
		out := t.TempDir()
		code, _, stderr := mailhaul(t, "export", "maildir", "--user", "alice@example.org", "--src", src, "--out", out, tc.flag, tc.file)
		if code != exitFailed || !strings.Contains(stderr, tc.hint) || !strings.Contains(stderr, filepath.Base(tc.file)) {
			t.Errorf("%s %s: exit %d, stderr %q; want exit %d naming the file and %q", tc.flag, tc.file, code, stderr, exitFailed, tc.hint)
		}
	}
}

// Item 16 for export: however an export ends (a refused --src, a missing
// one, SIGINT/SIGTERM), the --json result and the report file say what
// happened, as for the importers.
func TestExportAlwaysWritesResult(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		src    string
		code   int
		status string
		stage  string
	}{
		{"src above the Maildir", context.Background(), sample, exitFailed, "failed", "export"},
		{"src missing", context.Background(), filepath.Join(t.TempDir(), "nothing"), exitUsage, "failed", "arguments"},
		{"cancelled", cancelled, sample + "/alice-maildir", exitCancelled, "cancelled", "export"},
	} {
		out := t.TempDir()
		for _, reportPath := range []string{filepath.Join(t.TempDir(), "report.json"), ""} {
			args := []string{"--json", "-q", "export", "maildir", "--user", "alice", "--src", tc.src, "--out", out}
			if reportPath != "" {
				args = append(args, "--report", reportPath)
			} else {
				reportPath = filepath.Join(out, "alice.tgz.report.json") // the default, beside the archive it would have been
			}
			code, stdout, stderr := mailhaulCtx(tc.ctx, args...)
			if code != tc.code {
				t.Errorf("%s: exit %d, want %d\n%s%s", tc.name, code, tc.code, stdout, stderr)
				continue
			}
			res := lastJSON(t, stdout)
			if res["event"] != "export" || res["status"] != tc.status || res["stage"] != tc.stage || res["user"] != "alice" || res["error"] == nil {
				t.Errorf("%s: --json result %v; want status %s, stage %s, user and error", tc.name, res, tc.status, tc.stage)
			}
			var rep report.Export
			b, err := os.ReadFile(reportPath)
			if err == nil {
				err = json.Unmarshal(b, &rep)
			}
			if err != nil || rep.Status != tc.status || rep.Stage != tc.stage || rep.Error == "" || rep.User != "alice" {
				t.Errorf("%s: report %s: %v, status %q stage %q error %q", tc.name, reportPath, err, rep.Status, rep.Stage, rep.Error)
			}
		}
	}
}

// The export job's argument errors are worded in the command line's terms:
// the flag that was wrong.
func TestExportArgumentErrorsNameTheFlag(t *testing.T) {
	full := exportFull(t, "alice@example.org")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--user", "bob@example.org", "--since", full}, "--since: " + full + " is alice@example.org's archive, not bob@example.org's"},
		{[]string{"--user", "alice@example.org", "--since", full, "--overlap", "-1h"}, "--overlap: must not be negative"},
		{[]string{"--user", "alice@example.org", "--since", filepath.Join(t.TempDir(), "none.tgz")}, "--since: "},
	} {
		args := append([]string{"export", "maildir", "--src", sample + "/alice-maildir", "--out", t.TempDir()}, tc.args...)
		if code, _, stderr := mailhaul(t, args...); code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %q; want exit %d (usage) and %q", tc.args, code, stderr, exitUsage, tc.want)
		}
	}
}
