package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/progress"
	"github.com/mailhaul/mailhaul/report"
)

// exportFull exports the sample Maildir with its contacts and calendar for
// user and returns the archive's path.
func exportFull(t *testing.T, user string) string {
	t.Helper()
	out := t.TempDir()
	mustRun(t, "-q", "export", "maildir", "--user", user, "--src", sample+"/alice-maildir", "--out", out,
		"--contacts", sample+"/alice-contacts.vcf", "--calendar", sample+"/alice-calendar.ics")
	return filepath.Join(out, user+".tgz")
}

// mailhaulCtx is mailhaul with a context the test can cancel, as SIGINT does.
func mailhaulCtx(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// rewriteArchive rewrites a gzip archive entry by entry through edit,
// which may change an entry's data (keeping its length, so the tar framing
// stays intact). The new archive is a valid gzip stream.
func rewriteArchive(t *testing.T, path string, edit func(hdr *tar.Header, prev, data []byte) []byte) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	var prev []byte
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if out := edit(hdr, prev, data); len(out) != len(data) {
			t.Fatalf("edit changed the length of %s", hdr.Name)
		} else {
			data = out
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
		prev = data
	}
	f.Close()
	tw.Close()
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// damageItem alters one byte of the first item whose data entry ends in
// ext and returns that item's record.
func damageItem(t *testing.T, path, ext string) format.Item {
	t.Helper()
	var it format.Item
	rewriteArchive(t, path, func(hdr *tar.Header, prev, data []byte) []byte {
		if it.SHA256 != "" || !strings.HasSuffix(hdr.Name, ext) || len(data) == 0 {
			return data
		}
		if err := json.Unmarshal(prev, &it); err != nil {
			t.Fatal(err)
		}
		out := bytes.Clone(data)
		out[len(out)/2] ^= 0x20
		return out
	})
	if it.SHA256 == "" {
		t.Fatalf("no %s item in %s", ext, path)
	}
	return it
}

// truncateArchive cuts the archive's tar stream in the middle of an item
// and compresses what is left into a valid gzip stream.
func truncateArchive(t *testing.T, path string) {
	t.Helper()
	f, _ := os.Open(path)
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(plain[:len(plain)/2+100])
	zw.Close()
	os.WriteFile(path, buf.Bytes(), 0o600)
}

func readReport(t *testing.T, path string) *report.Report {
	t.Helper()
	rep := &report.Report{}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	if err := json.Unmarshal(b, rep); err != nil {
		t.Fatalf("report %s: %v", path, err)
	}
	return rep
}

// lastJSON is the last JSON line of out: the result object.
func lastJSON(t *testing.T, out string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var v map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &v); err != nil {
		t.Fatalf("last line of --json output %q: %v", out, err)
	}
	return v
}

// mailCount is how many messages the user's mailbox holds, in all folders.
func mailCount(t *testing.T, d *testservers.Dovecot, user string) int {
	t.Helper()
	out, err := d.Doveadm("search", "-u", user, "mailbox", "*")
	if err != nil {
		t.Fatal(err)
	}
	return len(strings.Fields(out)) / 2
}

func writePassword(t *testing.T, pw string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(p, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Item 7: an archive of another user, or archives of two users, must not
// be loaded into the login's mailbox without a word.
func TestImportIMAPRefusesAnotherUsersArchive(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "pa", "bob": "pb"})
	dir := exportSamples(t, "alice", "bob")
	alice, bob := filepath.Join(dir, "alice.tgz"), filepath.Join(dir, "bob.tgz")
	base := []string{"-q", "import", "imap", "--url", "imap://" + d.Addr, "--password-file", writePassword(t, "pb"),
		"--user", "bob", "--state", t.TempDir()}

	code, _, stderr := mailhaul(t, append(base, alice, bob)...)
	for _, want := range []string{"different users", "alice.tgz", "bob.tgz", "alice's", "bob's"} {
		if code != exitFailed || !strings.Contains(stderr, want) {
			t.Errorf("archives of alice and bob in one run: exit %d, %q; want exit 1 naming %q", code, stderr, want)
		}
	}
	code, _, stderr = mailhaul(t, append(base, alice)...)
	if code != exitFailed || !strings.Contains(stderr, "--archive-user alice") || !strings.Contains(stderr, "not of the login bob") {
		t.Errorf("alice's archive into bob: exit %d, %q; want exit 1 asking for --archive-user alice", code, stderr)
	}
	code, _, stderr = mailhaul(t, append(base, alice, "--archive-user", "carol")...)
	if code != exitFailed || !strings.Contains(stderr, "carol") {
		t.Errorf("--archive-user carol for alice's archive: exit %d, %q; want exit 1", code, stderr)
	}
	if n := mailCount(t, d, "bob"); n != 0 {
		t.Fatalf("bob's mailbox holds %d messages after refused runs", n)
	}
	// Confirmed, it goes; an address whose local part is the login is the login's own.
	if code, out, stderr := mailhaul(t, append(base, alice, "--archive-user", "alice")...); code != exitOK {
		t.Fatalf("--archive-user alice: exit %d\n%s%s", code, out, stderr)
	}
	own := filepath.Join(exportSamples(t, "bob@example.org"), "bob@example.org.tgz")
	if code, out, stderr := mailhaul(t, append(base, own)...); code != exitOK {
		t.Fatalf("bob@example.org's archive with the login bob: exit %d\n%s%s", code, out, stderr)
	}
	if n := mailCount(t, d, "bob"); n != 10 {
		t.Errorf("bob's mailbox holds %d messages, want the 10 of the sample", n)
	}
}

func TestImportDAVRefusesAnotherUsersArchive(t *testing.T) {
	r := testservers.StartRadicale(t, map[string]string{"alice": "pa", "bob": "pb"})
	alice, bob := exportFull(t, "alice"), exportFull(t, "bob")
	base := []string{"-q", "import", "dav", "--url", r.URL, "--password-file", writePassword(t, "pb"), "--user", "bob"}
	code, _, stderr := mailhaul(t, append(base, alice, bob)...)
	if code != exitFailed || !strings.Contains(stderr, "different users") {
		t.Errorf("archives of alice and bob in one run: exit %d, %q; want exit 1", code, stderr)
	}
	code, _, stderr = mailhaul(t, append(base, alice)...)
	if code != exitFailed || !strings.Contains(stderr, "--archive-user alice") {
		t.Errorf("alice's archive into bob: exit %d, %q; want exit 1 asking for --archive-user alice", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(r.Storage, "collection-root", "bob")); err == nil {
		entries, _ := os.ReadDir(filepath.Join(r.Storage, "collection-root", "bob"))
		if len(entries) > 0 {
			t.Errorf("bob has %d collections after refused runs", len(entries))
		}
	}
	if code, out, stderr := mailhaul(t, append(base, alice, "--archive-user", "alice")...); code != exitOK {
		t.Fatalf("--archive-user alice: exit %d\n%s%s", code, out, stderr)
	}
}

// Item 13: archive strings reach the terminal escaped.
func TestInspectAndImportEscapeControlCharacters(t *testing.T) {
	const evil = "Evil\x1b[2K\rforged\nline: ok"
	path := filepath.Join(t.TempDir(), "evil.tgz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := format.NewWriter(f, format.Manifest{User: "alice", Source: format.Source{Kind: "test"}, Started: time.Now()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.AddFolder(format.Folder{Kind: format.FolderMail, Path: "INBOX"})
	w.AddFolder(format.Folder{Kind: format.FolderMail, Path: evil})
	msg := "Subject: hi\r\n\r\nhello\r\n"
	if err := w.AddItem(format.Item{Kind: format.KindMessage, Folder: evil, Received: time.Now(),
		SourceID: "id\x1b]0;title\x07"}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	clean := func(what, out string) {
		t.Helper()
		if strings.ContainsAny(out, "\x1b\r\x07") {
			t.Errorf("%s printed control characters: %q", what, out)
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "line: ok") {
				t.Errorf("%s: a folder name forged the line %q", what, l)
			}
		}
	}
	out := mustRun(t, "inspect", path)
	clean("inspect", out)
	if !strings.Contains(out, `Evil\x1b[2K\rforged\nline: ok`) {
		t.Errorf("inspect does not show the folder name escaped:\n%s", out)
	}
	// The JSON keeps the name exactly, escaped by JSON's rules.
	if ins := inspectJSON(t, path); len(ins.Folders) != 2 || ins.Folders[1].Path != evil {
		t.Errorf("inspect --json folders %+v, want %q", ins.Folders, evil)
	}

	// The import names the folder and the item in its failure list: a
	// damaged message makes one.
	damageItem(t, path, ".eml")
	d := testservers.StartDovecot(t, map[string]string{"alice": "pa"})
	code, stdout, stderr := mailhaul(t, "import", "imap", path, "--url", "imap://"+d.Addr, "--user", "alice",
		"--password-file", writePassword(t, "pa"), "--state", t.TempDir())
	clean("import imap", stdout+stderr)
	if code != exitPartial || !strings.Contains(stderr, `failed: alice: Evil\x1b[2K\rforged\nline: ok: id\x1b]0;title\x07: damaged`) {
		t.Errorf("import imap of the evil archive: exit %d\n%s%s", code, stdout, stderr)
	}
}

// Item 15: a cancelled run reports its unsent items as not attempted,
// says it stopped early, and exits 130; item 16: the result object and
// the report are still written.
func TestImportIMAPCancelled(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "pa"})
	archive := filepath.Join(exportSamples(t, "alice"), "alice.tgz")
	reportPath := filepath.Join(t.TempDir(), "report.json")
	// Stopped as the first message is on the target (its progress line),
	// whatever the machine's speed; the timeout only bounds a run that
	// never gets there.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := &cancelAt{want: `"event":"progress"`, cancel: cancel}
	var errb bytes.Buffer
	code := run(ctx, []string{"--json", "import", "imap", archive, "--url", "imap://" + d.Addr, "--user", "alice",
		"--password-file", writePassword(t, "pa"), "--state", t.TempDir(), "--report", reportPath,
		"--max-messages-per-second", "2", "--connections", "1"}, out, &errb)
	stdout, stderr := out.String(), errb.String()
	if !out.hit() {
		t.Errorf("no progress line before the run ended: the stop came from the timeout")
	}
	if code != exitCancelled {
		t.Errorf("cancelled import: exit %d, want %d\n%s%s", code, exitCancelled, stdout, stderr)
	}
	rep := readReport(t, reportPath)
	// A command in flight when the run stopped was attempted: it may be on
	// the target (and the next run looks). Nothing else may be "failed".
	for _, f := range rep.Failures {
		if !strings.Contains(f.Reason, "may be on the target") {
			t.Errorf("a cancelled run calls an item failed: %+v", f)
		}
	}
	if rep.Status != "cancelled" || rep.NotAttempted == 0 || rep.Imported+rep.NotAttempted+rep.Failed > 10 ||
		!strings.Contains(rep.Statement, "stopped early") {
		t.Errorf("report of a cancelled run: status %q, %s; %q; failures %v", rep.Status, rep.Line(), rep.Statement, rep.Failures)
	}
	if res := lastJSON(t, stdout); res["event"] != "import" || res["status"] != "cancelled" {
		t.Errorf("--json result of a cancelled run: %v", res)
	}
}

// cancelAt is a command's output that calls cancel once what was written
// holds want.
type cancelAt struct {
	syncBuffer
	want   string
	cancel context.CancelFunc
	seen   atomic.Bool
}

func (c *cancelAt) Write(p []byte) (int, error) {
	n, err := c.syncBuffer.Write(p)
	if !c.seen.Load() && strings.Contains(c.String(), c.want) && c.seen.CompareAndSwap(false, true) {
		c.cancel()
	}
	return n, err
}

func (c *cancelAt) hit() bool { return c.seen.Load() }

// slowPuts is a proxy in front of a DAV server that delays every PUT and
// closes started at the first.
func slowPuts(t *testing.T, target string, started chan struct{}) string {
	u, _ := url.Parse(target)
	proxy := httputil.NewSingleHostReverseProxy(u)
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			once.Do(func() { close(started) })
			time.Sleep(300 * time.Millisecond)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

func TestImportDAVCancelled(t *testing.T) {
	r := testservers.StartRadicale(t, map[string]string{"alice": "pa"})
	archive := exportFull(t, "alice")
	started := make(chan struct{})
	proxy := slowPuts(t, r.URL, started)
	reportPath := filepath.Join(t.TempDir(), "report.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-started:
			time.Sleep(100 * time.Millisecond)
		case <-time.After(20 * time.Second):
		}
		cancel()
	}()
	code, stdout, stderr := mailhaulCtx(ctx, "--json", "import", "dav", archive, "--url", proxy, "--user", "alice",
		"--password-file", writePassword(t, "pa"), "--report", reportPath, "--bulk", "never", "--concurrency", "1")
	if code != exitCancelled {
		t.Errorf("cancelled import: exit %d, want %d\n%s%s", code, exitCancelled, stdout, stderr)
	}
	rep := readReport(t, reportPath)
	if rep.Status != "cancelled" || rep.NotAttempted == 0 || !strings.Contains(rep.Statement, "stopped early") {
		t.Errorf("report of a cancelled run: status %q, %s; %q; failures %v", rep.Status, rep.Line(), rep.Statement, rep.Failures)
	}
	for _, f := range rep.Failures {
		if !strings.Contains(f.Reason, "while it was being sent") {
			t.Errorf("an item not sent is called failed: %+v", f)
		}
	}
	if res := lastJSON(t, stdout); res["status"] != "cancelled" {
		t.Errorf("--json result of a cancelled run: %v", res)
	}
}

// Item 16: --json and --report always say what happened.
func TestImportAlwaysWritesResult(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "pa"})
	r := testservers.StartRadicale(t, map[string]string{"alice": "pa"})
	archive := exportFull(t, "alice")
	garbage := filepath.Join(t.TempDir(), "alice.tgz")
	os.WriteFile(garbage, []byte("\x1f\x8bnot really gzip"), 0o600)
	wrong, right := writePassword(t, "nope"), writePassword(t, "pa")
	imap := []string{"--json", "import", "imap", "--url", "imap://" + d.Addr, "--user", "alice", "--state", t.TempDir()}
	dav := []string{"--json", "import", "dav", "--url", r.URL, "--user", "alice", "--state", t.TempDir()}

	for _, tc := range []struct {
		name  string
		args  []string
		stage string
		code  int
	}{
		{"imap refused login", append(clone(imap), archive, "--password-file", wrong), "connect", exitAuth},
		{"imap damaged archive", append(clone(imap), garbage, "--password-file", right), "archives", exitFailed},
		{"imap bad arguments", append(clone(imap), archive, "--password-file", right, "--auth", "plain", "--url", "ftp://x"), "arguments", exitUsage},
		{"dav refused login", append(clone(dav), archive, "--password-file", wrong), "connect", exitAuth},
		{"dav damaged archive", append(clone(dav), garbage, "--password-file", right), "archives", exitFailed},
	} {
		reportPath := filepath.Join(t.TempDir(), "report.json")
		code, stdout, stderr := mailhaul(t, append(tc.args, "--report", reportPath)...)
		if code != tc.code {
			t.Errorf("%s: exit %d, want %d\n%s%s", tc.name, code, tc.code, stdout, stderr)
			continue
		}
		res := lastJSON(t, stdout)
		if res["event"] != "import" || res["status"] != "failed" || res["stage"] != tc.stage || res["user"] != "alice" || res["error"] == "" {
			t.Errorf("%s: --json result %v; want status failed, stage %s, user and error", tc.name, res, tc.stage)
		}
		if rep := readReport(t, reportPath); rep.Status != "failed" || rep.Stage != tc.stage || rep.Error == "" {
			t.Errorf("%s: report status %q stage %q error %q", tc.name, rep.Status, rep.Stage, rep.Error)
		}
	}

	// Dry runs: nothing counted as imported, the report written, the plan in the JSON.
	reportPath := filepath.Join(t.TempDir(), "dry.json")
	code, stdout, stderr := mailhaul(t, append(clone(dav), archive, "--password-file", right, "--dry-run", "--report", reportPath)...)
	if code != exitOK {
		t.Fatalf("dav --dry-run: exit %d\n%s%s", code, stdout, stderr)
	}
	res := lastJSON(t, stdout)
	plan, _ := res["folders"].([]any)
	if res["event"] != "plan" || len(plan) == 0 {
		t.Errorf("dav --dry-run --json: %v; want the plan", res)
	}
	if rep := readReport(t, reportPath); rep.Imported != 0 || rep.WouldImport != 6 {
		t.Errorf("dav --dry-run report: imported %d, would import %d; want 0 and 6", rep.Imported, rep.WouldImport)
	}
	reportPath = filepath.Join(t.TempDir(), "dry-imap.json")
	code, stdout, stderr = mailhaul(t, append(clone(imap), archive, "--password-file", right, "--dry-run", "--report", reportPath)...)
	if code != exitOK {
		t.Fatalf("imap --dry-run: exit %d\n%s%s", code, stdout, stderr)
	}
	if rep := readReport(t, reportPath); rep.Imported != 0 || rep.WouldImport != 10 || !rep.DryRun {
		t.Errorf("imap --dry-run report: imported %d, would import %d, dry run %v; want 0, 10, true", rep.Imported, rep.WouldImport, rep.DryRun)
	}
}

func clone(s []string) []string { return append([]string{}, s...) }

// Item 17: one damaged item costs that item alone, in both importers; a
// damaged archive ends the run in both.
func TestImportDamagedItemCostsOnlyThatItem(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "pa"})
	r := testservers.StartRadicale(t, map[string]string{"alice": "pa"})
	archive := exportFull(t, "alice")
	msg := damageItem(t, archive, ".eml")
	card := damageItem(t, archive, ".vcf")
	pw := writePassword(t, "pa")

	reportPath := filepath.Join(t.TempDir(), "imap.json")
	code, stdout, stderr := mailhaul(t, "-q", "import", "imap", archive, "--url", "imap://"+d.Addr, "--user", "alice",
		"--password-file", pw, "--state", t.TempDir(), "--report", reportPath)
	rep := readReport(t, reportPath)
	if code != exitPartial || rep.Failed != 1 || rep.Imported != 9 || rep.Failures[0].Item != msg.SourceID ||
		!strings.Contains(rep.Failures[0].Reason, "damaged") || !strings.Contains(stderr, msg.SourceID) {
		t.Errorf("imap with one damaged message: exit %d, %s, failures %v\n%s%s", code, rep.Line(), rep.Failures, stdout, stderr)
	}
	reportPath = filepath.Join(t.TempDir(), "dav.json")
	code, stdout, stderr = mailhaul(t, "-q", "import", "dav", archive, "--url", r.URL, "--user", "alice",
		"--password-file", pw, "--report", reportPath)
	rep = readReport(t, reportPath)
	if code != exitPartial || rep.Failed != 1 || rep.Imported != 5 || !strings.Contains(rep.Failures[0].Item, card.UID) ||
		!strings.Contains(rep.Failures[0].Reason, "damaged") {
		t.Errorf("dav with one damaged card: exit %d, %s, failures %v\n%s%s", code, rep.Line(), rep.Failures, stdout, stderr)
	}
}

func TestImportDamagedArchiveStopsTheRun(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "pa"})
	r := testservers.StartRadicale(t, map[string]string{"alice": "pa"})
	archive := exportFull(t, "alice")
	truncateArchive(t, archive)
	pw := writePassword(t, "pa")
	for _, args := range [][]string{
		{"import", "imap", archive, "--url", "imap://" + d.Addr, "--state", t.TempDir()},
		{"import", "dav", archive, "--url", r.URL},
	} {
		reportPath := filepath.Join(t.TempDir(), "report.json")
		code, stdout, stderr := mailhaul(t, append([]string{"-q"}, append(args, "--user", "alice", "--password-file", pw, "--report", reportPath)...)...)
		rep := readReport(t, reportPath)
		if code != exitFailed || rep.Status != "failed" || rep.Stage != "import" || !strings.Contains(rep.Error, "truncated") ||
			!strings.Contains(rep.Statement, "stopped early") {
			t.Errorf("%s of a truncated archive: exit %d, status %q stage %q error %q; %q\n%s%s",
				args[1], code, rep.Status, rep.Stage, rep.Error, rep.Statement, stdout, stderr)
		}
	}
}

// Item 20: an empty --user is refused everywhere; the root help names
// every command.
func TestEmptyUserRefused(t *testing.T) {
	out := t.TempDir()
	for _, args := range [][]string{
		{"export", "maildir", "--user", "", "--src", sample + "/alice-maildir", "--out", out},
		{"export", "mbox", "--user", " ", "--src", sample + "/bob-mbox", "--out", out},
		{"import", "imap", "x.tgz", "--user", "", "--url", "imap://127.0.0.1:1"},
		{"import", "dav", "x.tgz", "--user", "", "--url", "http://127.0.0.1:1/"},
	} {
		code, _, stderr := mailhaul(t, args...)
		if code != exitUsage || !strings.Contains(stderr, "--user is missing or empty") {
			t.Errorf("%v: exit %d, %q; want exit %d (usage), --user is missing or empty", args, code, stderr, exitUsage)
		}
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("an empty --user wrote %v", entries)
	}
}

func TestRootHelpListsEveryCommand(t *testing.T) {
	out := mustRun(t, "--help")
	overview, _, _ := strings.Cut(out, "Usage:")
	root := (&app{}).rootCommand()
	if len(root.Commands()) < 8 {
		t.Fatalf("only %d commands", len(root.Commands()))
	}
	for _, c := range root.Commands() {
		if !strings.Contains(overview, "  "+c.Name()+" ") {
			t.Errorf("the root help's overview does not list %s:\n%s", c.Name(), overview)
		}
	}
}

// Item 19: import progress knows the total from the archives' summaries
// and gives the time left.
func TestImportProgressTotalAndETA(t *testing.T) {
	archive := exportFull(t, "alice")
	n, ok := archiveTotals([]string{archive, archive}, format.KindMessage)(context.Background())
	if !ok || n != 20 {
		t.Errorf("archiveTotals of two sample archives = %d, %v; want 20 messages", n, ok)
	}
	if n, ok := archiveTotals([]string{archive}, format.KindContact, format.KindEvent, format.KindTask)(context.Background()); !ok || n != 6 {
		t.Errorf("archiveTotals of contacts, events and tasks = %d, %v; want 6", n, ok)
	}
	var buf bytes.Buffer
	p := jsonProgress(&buf, "import alice", archiveTotals([]string{archive}, format.KindMessage))
	time.Sleep(300 * time.Millisecond) // the scan runs beside the import
	p.update(progress.Event{Items: 5, Bytes: 500})
	p.done()
	line := lastJSON(t, buf.String())
	if line["total"] != float64(10) || line["etaSeconds"] == nil {
		t.Errorf("progress line %v; want total 10 and etaSeconds", line)
	}
}

// Item 17, inspect: a damaged item is listed, and the rest of the archive
// is read (its summary too).
func TestInspectListsDamagedItemsAndReadsOn(t *testing.T) {
	archive := exportFull(t, "alice")
	damageItem(t, archive, ".eml")
	code, out, stderr := mailhaul(t, "inspect", archive)
	if code != exitFailed || !strings.Contains(out, "damaged in the archive (1)") || !strings.Contains(out, "mail/INBOX/00000001.eml") ||
		strings.Contains(out, "INCOMPLETE") || !strings.Contains(stderr, "1 items are damaged") {
		t.Errorf("inspect of an archive with one damaged item: exit %d\n%s%s", code, out, stderr)
	}
}

// The statement of a refused run says what to do, not "run the import
// again to finish", which cannot work (no server is needed: the archives
// are checked before connecting).
func TestImportStatementOfPermanentFailures(t *testing.T) {
	archive := exportFull(t, "alice")
	garbage := filepath.Join(t.TempDir(), "alice.tgz")
	os.WriteFile(garbage, []byte("\x1f\x8bnot really gzip"), 0o600)
	pw := writePassword(t, "pb")
	for _, tc := range []struct {
		name, archive, user, want string
	}{
		{"another user's archive", archive, "bob", "--archive-user alice"},
		{"damaged archive", garbage, "alice", "export it again"},
	} {
		for _, kind := range []string{"imap", "dav"} {
			reportPath := filepath.Join(t.TempDir(), "report.json")
			url := map[string]string{"imap": "imap://127.0.0.1:1", "dav": "http://127.0.0.1:1/"}[kind]
			code, stdout, stderr := mailhaul(t, "-q", "import", kind, tc.archive, "--url", url, "--user", tc.user,
				"--password-file", pw, "--state", t.TempDir(), "--report", reportPath)
			rep := readReport(t, reportPath)
			if code != exitFailed || !strings.Contains(rep.Statement, tc.want) || strings.Contains(rep.Statement, "again to finish") {
				t.Errorf("%s, import %s: exit %d, statement %q; want it to say %q and not to run again\n%s%s",
					tc.name, kind, code, rep.Statement, tc.want, stdout, stderr)
			}
		}
	}
}

// Archive owners are compared as the login is, ignoring case: a full
// export of Alice@Example.org and a delta of alice@example.org are one
// user's archives (the run gets past the check, to connecting).
func TestImportArchiveOwnersIgnoreCase(t *testing.T) {
	full, delta := t.TempDir(), t.TempDir()
	mustRun(t, "-q", "export", "maildir", "--user", "Alice@Example.org", "--src", sample+"/alice-maildir", "--out", full)
	mustRun(t, "-q", "export", "maildir", "--user", "alice@example.org", "--src", sample+"/alice-maildir", "--out", delta)
	archives := []string{filepath.Join(full, "Alice@Example.org.tgz"), filepath.Join(delta, "alice@example.org.tgz")}
	for _, extra := range [][]string{nil, {"--archive-user", "ALICE@example.org"}} {
		reportPath := filepath.Join(t.TempDir(), "report.json")
		args := append([]string{"-q", "import", "imap"}, archives...)
		args = append(args, "--url", "imap://127.0.0.1:1", "--user", "alice@example.org", "--password-file", writePassword(t, "pa"),
			"--state", t.TempDir(), "--report", reportPath)
		code, stdout, stderr := mailhaul(t, append(args, extra...)...)
		if rep := readReport(t, reportPath); code != exitConnection || rep.Stage != "connect" {
			t.Errorf("archives of Alice@Example.org and alice@example.org %v: exit %d, stage %q, %q; want them taken as one user's (stage connect)\n%s%s",
				extra, code, rep.Stage, rep.Error, stdout, stderr)
		}
	}
}
