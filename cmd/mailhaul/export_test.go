package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/report"
)

// mailhaul runs one command line in-process and returns its exit code and
// output.
func mailhaul(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := mailhaul(t, args...)
	if code != exitOK {
		t.Fatalf("mailhaul %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func inspectJSON(t *testing.T, archive string) inspection {
	t.Helper()
	var ins inspection
	if err := json.Unmarshal([]byte(mustRun(t, "inspect", "--json", archive)), &ins); err != nil {
		t.Fatalf("inspect --json: %v", err)
	}
	return ins
}

const sample = "../../testdata/sample"

// archiveItems reads every item of an archive with its body.
func archiveItems(t *testing.T, path string) (map[string]format.Item, map[string][]byte) {
	t.Helper()
	r, err := format.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	items, bodies := map[string]format.Item{}, map[string][]byte{}
	for {
		e, err := r.Next()
		if err == io.EOF {
			return items, bodies
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Item != nil {
			b, err := io.ReadAll(e.Body)
			if err != nil {
				t.Fatal(err)
			}
			items[e.Item.SourceID] = *e.Item
			bodies[e.Item.SourceID] = b
		}
	}
}

func TestExportMaildirSampleRoundTrip(t *testing.T) {
	out := t.TempDir()
	mustRun(t, "export", "maildir", "--user", "alice@example.org", "--src", sample+"/alice-maildir", "--out", out,
		"--contacts", sample+"/alice-contacts.vcf", "--calendar", sample+"/alice-calendar.ics")
	archive := filepath.Join(out, "alice@example.org.tgz")
	ins := inspectJSON(t, archive)

	want := format.Counts{Messages: 10, Contacts: 3, Events: 2, Tasks: 1}
	got := ins.Counts
	got.Bytes = 0
	if got != want || !ins.Complete || len(ins.Errors) != 0 {
		t.Errorf("inspect: counts %+v complete=%v errors=%v; want %+v, complete, no errors", ins.Counts, ins.Complete, ins.Errors, want)
	}
	roles := map[string]format.Role{}
	perFolder := map[string]int{}
	for _, f := range ins.Folders {
		roles[f.Path] = f.Role
		perFolder[f.Path] = f.Messages + f.Contacts + f.Events + f.Tasks
	}
	wantFolders := map[string]int{"INBOX": 4, "Sent": 1, "Drafts": 1, "Trash": 1, "Work": 1, "Work/Projects": 1, "Ärger": 1,
		"alice-contacts": 3, "alice-calendar": 3}
	for path, n := range wantFolders {
		if perFolder[path] != n {
			t.Errorf("folder %q holds %d items, want %d (folders: %v)", path, perFolder[path], n, perFolder)
		}
	}
	for path, role := range map[string]format.Role{"INBOX": format.RoleInbox, "Sent": format.RoleSent, "Drafts": format.RoleDrafts, "Trash": format.RoleTrash, "Work": format.RoleNone} {
		if roles[path] != role {
			t.Errorf("folder %q has role %q, want %q", path, roles[path], role)
		}
	}

	// Every message is byte-identical to its file, with the flags of its
	// name and the received time of its leading timestamp.
	items, bodies := archiveItems(t, archive)
	files, _ := filepath.Glob(sample + "/alice-maildir/*/*")
	more, _ := filepath.Glob(sample + "/alice-maildir/.*/*/*")
	checked := 0
	for _, file := range append(files, more...) {
		dir := filepath.Base(filepath.Dir(file))
		if dir != "cur" && dir != "new" {
			continue
		}
		data, _ := os.ReadFile(file)
		var found *format.Item
		for id, it := range items {
			if bytes.Equal(bodies[id], data) {
				found = &it
			}
		}
		if found == nil {
			t.Errorf("%s: no byte-identical message in the archive", file)
			continue
		}
		checked++
		base := filepath.Base(file)
		stamp, _, _ := strings.Cut(base, ".")
		sec, _ := strconv.ParseInt(stamp, 10, 64)
		if !found.Received.Equal(time.Unix(sec, 0)) {
			t.Errorf("%s: received %v, want %v", base, found.Received, time.Unix(sec, 0).UTC())
		}
		if strings.HasSuffix(base, ":2,FS") && !(slices.Contains(found.Flags, `\Flagged`) && slices.Contains(found.Flags, `\Seen`)) {
			t.Errorf("%s: flags %v, want \\Flagged and \\Seen", base, found.Flags)
		}
		if strings.HasSuffix(base, ":2,Sa") && !slices.Contains(found.Flags, "$Important") {
			t.Errorf("%s: flags %v, want keyword $Important from dovecot-keywords", base, found.Flags)
		}
	}
	if checked != 10 {
		t.Errorf("checked %d message files, want 10", checked)
	}
}

func TestExportMboxSample(t *testing.T) {
	out := t.TempDir()
	stdout := mustRun(t, "export", "mbox", "--user", "bob@example.net", "--src", sample+"/bob-mbox", "--out", out)
	if !strings.Contains(stdout, "skipped 1: expunged") {
		t.Errorf("the expunged Thunderbird message should be reported as skipped; output:\n%s", stdout)
	}
	archive := filepath.Join(out, "bob@example.net.tgz")
	ins := inspectJSON(t, archive)
	if ins.Counts.Messages != 4 {
		t.Errorf("bob's archive holds %d messages, want 4 (3 folders, one expunged message left out)", ins.Counts.Messages)
	}
	_, bodies := archiveItems(t, archive)
	unquoted := false
	for _, b := range bodies {
		if bytes.Contains(b, []byte("\nFrom the meeting")) {
			unquoted = true
		}
		if bytes.Contains(b, []byte("\n>From the meeting")) {
			t.Error("the mbox >From quoting was not undone")
		}
	}
	if !unquoted {
		t.Error("the message with the quoted From line is missing")
	}
}

func TestExportIncrementalSince(t *testing.T) {
	src := t.TempDir()
	copyTree(t, sample+"/alice-maildir", src)
	full := t.TempDir()
	mustRun(t, "export", "maildir", "--user", "alice@example.org", "--src", src, "--out", full)

	now := time.Now().Unix()
	name := filepath.Join(src, "new", strconv.FormatInt(now, 10)+".M1P1.test")
	os.WriteFile(name, []byte("Subject: new\r\nMessage-ID: <new@x>\r\n\r\nhello\r\n"), 0o644)

	delta := t.TempDir()
	mustRun(t, "export", "maildir", "--user", "alice@example.org", "--src", src, "--out", delta,
		"--since", filepath.Join(full, "alice@example.org.tgz"))
	archives, _ := filepath.Glob(filepath.Join(delta, "alice@example.org.after-*.tgz"))
	if len(archives) != 1 {
		t.Fatalf("want one incremental archive named after its cutoff, found %v", archives)
	}
	ins := inspectJSON(t, archives[0])
	if ins.Counts.Messages != 1 || ins.After.IsZero() {
		t.Errorf("delta holds %d messages (after=%v); want exactly the 1 new message and a cutoff", ins.Counts.Messages, ins.After)
	}
	if ins.Skipped["received before the cutoff"] != 10 {
		t.Errorf("delta skipped %v; want the 10 older messages counted as before the cutoff", ins.Skipped)
	}
	// Its state record lists all 11 (FORMAT.md, "The state record").
	if _, out, _ := mailhaul(t, "inspect", archives[0]); ins.State == nil || ins.State.Messages != 11 ||
		!strings.Contains(out, "state of the source: 11 messages") {
		t.Errorf("delta state %+v; inspect says:\n%s", ins.State, out)
	}
}

func TestExportPartialExitCodeNamesTheItem(t *testing.T) {
	src := t.TempDir()
	copyTree(t, sample+"/alice-maildir", src)
	os.WriteFile(filepath.Join(src, "cur", "1700000500.M9P9.host:2,S"), nil, 0o644) // empty file
	out := t.TempDir()
	code, _, stderr := mailhaul(t, "export", "maildir", "--user", "alice@example.org", "--src", src, "--out", out)
	if code != exitPartial {
		t.Fatalf("exit %d, want %d for an export with a failed item", code, exitPartial)
	}
	if !strings.Contains(stderr, "alice@example.org") || !strings.Contains(stderr, "1700000500.M9P9.host") {
		t.Errorf("the error must name the user and the file; stderr:\n%s", stderr)
	}
	var rep report.Export
	data, err := os.ReadFile(filepath.Join(out, "alice@example.org.tgz.report.json"))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(data, &rep)
	if rep.Status != "partial" || len(rep.Errors) != 1 || rep.Errors[0].Folder != "INBOX" || rep.Errors[0].Code != report.CodeEmpty {
		t.Errorf("report: status %q errors %+v; want partial with the one empty file in INBOX", rep.Status, rep.Errors)
	}
	// The archive is still complete and valid, holding everything else.
	if ins := inspectJSON(t, filepath.Join(out, "alice@example.org.tgz")); ins.Counts.Messages != 10 || len(ins.Errors) != 1 {
		t.Errorf("archive: %d messages, errors %v; want 10 and the empty file listed", ins.Counts.Messages, ins.Errors)
	}
}

func TestExportRefusesToOverwrite(t *testing.T) {
	out := t.TempDir()
	args := []string{"export", "maildir", "--user", "alice@example.org", "--src", sample + "/alice-maildir", "--out", out}
	mustRun(t, args...)
	if code, _, stderr := mailhaul(t, args...); code != exitFailed || !strings.Contains(stderr, "already exists") {
		t.Errorf("second export: exit %d, stderr %q; want a refusal to overwrite", code, stderr)
	}
	mustRun(t, append(args, "--overwrite")...)
}

func TestVerify(t *testing.T) {
	out := t.TempDir()
	mustRun(t, "export", "maildir", "--user", "alice@example.org", "--src", sample+"/alice-maildir", "--out", out, "--compress", "zstd")
	mustRun(t, "export", "mbox", "--user", "bob@example.net", "--src", sample+"/bob-mbox", "--out", out)
	stdout := mustRun(t, "verify", out)
	if strings.Count(stdout, "OK ") != 2 {
		t.Errorf("verify of two good archives:\n%s", stdout)
	}

	// A damaged copy: one byte flipped in the middle.
	bob := filepath.Join(out, "bob@example.net.tgz")
	data, _ := os.ReadFile(bob)
	data[len(data)/2] ^= 0x40
	os.WriteFile(bob, data, 0o644)
	// An archive that did not arrive: only its checksum file is here.
	os.Remove(filepath.Join(out, "alice@example.org.tar.zst"))

	code, stdout, _ := mailhaul(t, "verify", out)
	if code != exitFailed {
		t.Errorf("verify of a damaged set: exit %d, want %d", code, exitFailed)
	}
	if !strings.Contains(stdout, "FAIL  "+bob) {
		t.Errorf("verify must name the damaged archive:\n%s", stdout)
	}
	if !strings.Contains(stdout, "alice@example.org.tar.zst: archive missing") {
		t.Errorf("verify must name the missing archive:\n%s", stdout)
	}
}

func TestExtract(t *testing.T) {
	out := t.TempDir()
	mustRun(t, "export", "mbox", "--user", "bob@example.net", "--src", sample+"/bob-mbox", "--out", out)
	dir := filepath.Join(t.TempDir(), "x")
	mustRun(t, "extract", filepath.Join(out, "bob@example.net.tgz"), dir)
	emls, _ := filepath.Glob(filepath.Join(dir, "mail", "*", "*.eml"))
	sub, _ := filepath.Glob(filepath.Join(dir, "mail", "*", "*", "*.eml"))
	if len(emls)+len(sub) != 4 {
		t.Errorf("extracted %d .eml files, want 4", len(emls)+len(sub))
	}
	for _, name := range []string{"manifest.json", "summary.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("extract: %v", err)
		}
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if fi.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return err
		}
		return os.Chtimes(dst, fi.ModTime(), fi.ModTime())
	})
	if err != nil {
		t.Fatal(err)
	}
}
