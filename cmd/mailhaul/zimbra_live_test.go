package main

import (
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export/zimbra/zimbratest"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// liveZimbra is a fake Zimbra serving a mailbox that can grow between
// exports, and the command line flags that reach it.
type liveZimbra struct {
	s    *zimbratest.Server
	mu   sync.Mutex
	mb   zimbratest.Mailbox
	args []string
}

func (z *liveZimbra) content(e zimbratest.Export, w io.Writer) error {
	z.mu.Lock()
	mb := zimbratest.Mailbox{Items: slices.Clone(z.mb.Items)}
	z.mu.Unlock()
	return mb.Content(e, w)
}

// add puts items into the mailbox (and its folder counts).
func (z *liveZimbra) add(user string, items ...zimbratest.Item) {
	z.mu.Lock()
	z.mb.Items = append(z.mb.Items, items...)
	mb := z.mb
	z.mu.Unlock()
	// One zimbraId whatever is added: a live export's contact UIDs hold it.
	z.s.AddAccount(zimbratest.Account{Name: user, ID: "zid-" + user, Folders: mb.Folders(nil), Items: mb.Items, Attrs: map[string][]string{"displayName": {"Zed"}}})
}

func startLiveZimbra(t *testing.T, user string, o zimbratest.ServerOptions, items ...zimbratest.Item) *liveZimbra {
	t.Helper()
	z := &liveZimbra{}
	o.Content = z.content
	z.s = zimbratest.NewServer(t, o)
	z.add(user, items...)
	dir := t.TempDir()
	ca, pw := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "admin.pw")
	os.WriteFile(ca, z.s.CertificatePEM(), 0o600)
	os.WriteFile(pw, []byte("admin-secret\n"), 0o600)
	z.args = []string{"--url", z.s.URL, "--admin", "admin@example.test", "--password-file", pw, "--tls-ca", ca,
		"--mail-url", z.s.URL, "--requests-per-second", "-1"}
	return z
}

// zimbraLiveItems: folders (an empty one too) and messages in Inbox (one
// unread, one answered and flagged with a tag), Sent, a user folder,
// Trash and Junk.
func zimbraLiveItems() []zimbratest.Item {
	unread := zmsg(300, "/Inbox", 2, "unread")
	unread.Unread = 1
	answered := zmsg(301, "/Inbox", 2, "answered")
	answered.Flags, answered.Tags = zimbratest.FlagReplied|zimbratest.FlagFlagged, []string{"Work"}
	sent := zmsg(302, "/Sent", 5, "sent")
	sent.Flags = zimbratest.FlagSent | zimbratest.FlagForwarded
	return append(zimbratest.SystemFolders(),
		zimbratest.Item{ID: 257, Type: zimbratest.TypeFolder, Folder: "/", FolderID: 1, Name: "Projects", Date: zday},
		zimbratest.Item{ID: 258, Type: zimbratest.TypeFolder, Folder: "/Projects", FolderID: 257, Name: "Empty", Date: zday},
		unread, answered, sent, zmsg(303, "/Projects", 257, "project"), zmsg(310, "/Trash", 3, "deleted"), zmsg(311, "/Junk", 4, "spam"))
}

// zimbraWant is where the messages of zimbraLiveItems (and of
// zimbraFiles, 300 to 310) land on the IMAP server, with their flags.
var zimbraWant = map[int]struct {
	mailbox string
	flags   []string
}{
	300: {"INBOX", nil},
	301: {"INBOX", []string{"Work", `\Answered`, `\Flagged`, `\Seen`}},
	302: {"Sent", []string{"$Forwarded", `\Seen`}},
	303: {"Projects", []string{`\Seen`}},
	310: {"Trash", []string{`\Seen`}},
	311: {"Junk", []string{`\Seen`}},
}

// dovecotMessages imports archives into a fresh Dovecot and reads back
// every message by the SHA-256 of its bytes, and the mailbox names.
func dovecotMessages(t *testing.T, archives ...string) (map[[32]byte][]string, map[[32]byte]testservers.Message, []string) {
	t.Helper()
	d := testservers.StartDovecot(t, map[string]string{"zed": "zed-secret"})
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("zed-secret\n"), 0o600)
	state := t.TempDir()
	for _, a := range archives {
		if code, stdout, stderr := mailhaul(t, "-q", "import", "imap", a, "--url", "imap://"+d.Addr,
			"--user", "zed", "--password-file", pw, "--state", state); code != exitOK {
			t.Fatalf("import %s: exit %d\n%s\n%s", a, code, stdout, stderr)
		}
	}
	where, msgs := map[[32]byte][]string{}, map[[32]byte]testservers.Message{}
	var names []string
	for _, mb := range testservers.ReadMailboxes(t, d.Addr, "zed", "zed-secret") {
		names = append(names, mb.Name)
		for _, m := range mb.Messages {
			where[m.SHA256] = append(where[m.SHA256], mb.Name)
			msgs[m.SHA256] = m
		}
	}
	return where, msgs, names
}

// From a live Zimbra (the fake, over verified TLS), through the archive,
// into the real Dovecot: every message byte for byte, with its flags,
// keywords and received date, Trash and Junk, the empty folder.
func TestExportZimbraLiveIntoDovecot(t *testing.T) {
	items := zimbraLiveItems()
	z := startLiveZimbra(t, "zed", zimbratest.ServerOptions{}, items...)
	out := t.TempDir()
	stdout := mustRun(t, append([]string{"-q", "export", "zimbra", "--user", "zed", "--out", out}, z.args...)...)
	if lines := strings.Split(strings.TrimSpace(stdout), "\n"); lines[len(lines)-1] != "export zimbra: 1 user exported, all complete" {
		t.Errorf("last line %q", lines[len(lines)-1])
	}
	archive := filepath.Join(out, "zed.tgz")
	a, err := format.Open(archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := a.Manifest(); m.Account == nil || m.Account.DisplayName != "Zed" || m.Source.Kind != "zimbra" || m.Source.Path != z.s.URL {
		t.Errorf("manifest %+v account %+v", m, m.Account)
	}
	a.Close()
	where, msgs, names := dovecotMessages(t, archive)
	want := zimbraWant
	if len(msgs) != len(want) { // all six
		t.Errorf("%d messages on the server, want %d (mailboxes %q)", len(msgs), len(want), names)
	}
	for _, it := range items {
		w, ok := want[it.ID]
		if !ok {
			continue
		}
		sum := sha256.Sum256(it.Blob)
		m, found := msgs[sum]
		if !found {
			t.Errorf("message %d is not on the server byte for byte", it.ID)
			continue
		}
		flags := slices.DeleteFunc(slices.Clone(m.Flags), func(f string) bool { return f == `\Recent` })
		if !slices.Equal(where[sum], []string{w.mailbox}) || !slices.Equal(flags, w.flags) || !m.Date.Equal(it.Date) {
			t.Errorf("message %d: in %q flags %q date %v; want %q %q %v", it.ID, where[sum], flags, m.Date, w.mailbox, w.flags, it.Date)
		}
	}
	if !slices.Contains(names, "Projects.Empty") && !slices.Contains(names, "Projects/Empty") {
		t.Errorf("the empty folder is missing: %q", names)
	}
}

// A pre-migration, then mail arrives, then an --after delta: both
// archives imported give exactly the union, each message once.
func TestExportZimbraLiveDeltaUnion(t *testing.T) {
	items := zimbraLiveItems()
	z := startLiveZimbra(t, "zed", zimbratest.ServerOptions{}, items...)
	pre, delta := t.TempDir(), t.TempDir()
	mustRun(t, append([]string{"-q", "export", "zimbra", "--user", "zed", "--out", pre}, z.args...)...)
	// New mail after the pre-migration; the delta's cutoff is the
	// newest message the pre-migration held (310 at zday+310h... 311),
	// so one message is in both archives.
	late := []zimbratest.Item{zmsg(320, "/Inbox", 2, "late"), zmsg(321, "/Projects", 257, "late project"), zmsg(322, "/Trash", 3, "late deleted")}
	z.add("zed", late...)
	cutoff := zday.Add(311 * time.Hour).Format(time.RFC3339)
	mustRun(t, append([]string{"-q", "export", "zimbra", "--user", "zed", "--out", delta, "--after", cutoff}, z.args...)...)
	deltas, _ := filepath.Glob(filepath.Join(delta, "zed.after-*.tgz"))
	if len(deltas) != 1 {
		t.Fatalf("delta archives %v", deltas)
	}
	dItems, _ := archiveItems(t, deltas[0])
	if len(dItems) != 4 { // 311 (at the cutoff) and the three late ones
		t.Errorf("the delta holds %d messages, want 4: %v", len(dItems), dItems)
	}
	where, _, _ := dovecotMessages(t, filepath.Join(pre, "zed.tgz"), deltas[0])
	all := append(slices.Clone(items), late...)
	n := 0
	for _, it := range all {
		if it.Type != zimbratest.TypeMessage {
			continue
		}
		n++
		if got := where[sha256.Sum256(it.Blob)]; len(got) != 1 {
			t.Errorf("message %d is on the server %d times (%q), want once", it.ID, len(got), got)
		}
	}
	if len(where) != n {
		t.Errorf("%d messages on the server, want the union of %d", len(where), n)
	}
}

// Several users: one that does not exist fails, reported by name on the
// last line, exit 3; the other's archive is complete.
func TestExportZimbraLiveUsersPartial(t *testing.T) {
	z := startLiveZimbra(t, "zed", zimbratest.ServerOptions{}, zimbraLiveItems()...)
	out := t.TempDir()
	code, _, stderr := mailhaul(t, append([]string{"-q", "export", "zimbra", "--user", "zed", "--user", "ghost@example.test",
		"--out", out, "--concurrency", "2"}, z.args...)...)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := lines[len(lines)-1]
	if code != exitPartial || last != "export zimbra: 1 of 2 users exported; failed: ghost@example.test" {
		t.Errorf("exit %d, last line %q\n%s", code, last, stderr)
	}
	if !strings.Contains(stderr, "NO_SUCH_ACCOUNT") {
		t.Errorf("the failure is not explained:\n%s", stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "zed.tgz")); err != nil {
		t.Error(err)
	}
	for _, secret := range z.s.Secrets() {
		if strings.Contains(stderr, secret) {
			t.Errorf("a secret is in the output")
		}
	}
}

// The two modes refuse each other's flags, saying which.
func TestExportZimbraModeFlags(t *testing.T) {
	root, _, _ := zimbraFiles(t)
	out := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--from-tgz", root, "--url", "https://127.0.0.1:7071", "--user", "zed"}, "one or the other"},
		{[]string{"--from-tgz", root, "--all-users"}, "--all-users is for a live Zimbra"},
		{[]string{"--from-tgz", root, "--user", "a", "--user", "b"}, "give one --user"},
		{[]string{"--url", "https://127.0.0.1:7071", "--admin", "a", "--user", "a", "--all-users"}, "one of --user"},
		{[]string{"--zmmailbox", "/bin/false", "--all-users"}, "give --url"},
		{[]string{"--url", "https://127.0.0.1:7071", "--admin", "a", "--user", "zed", "--with-password-hash"}, "zmprov -l gaa -v"},
		{[]string{}, "give the Zimbra tgz files"},
	} {
		code, _, stderr := mailhaul(t, append([]string{"-q", "export", "zimbra", "--out", out}, c.args...)...)
		if code != exitFailed || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d %s; want %q", c.args, code, stderr, c.want)
		}
	}
}

// Users from a "zmprov -l gaa -v" file: the password hash goes into the
// account record only with --with-password-hash, and never into the
// output or the report.
func TestExportZimbraLiveUsersFileHash(t *testing.T) {
	const user, hash = "zed@example.test", "{SSHA512}c2VjcmV0LWhhc2g="
	z := startLiveZimbra(t, user, zimbratest.ServerOptions{}, zimbraLiveItems()...)
	gaa := filepath.Join(t.TempDir(), "gaa.txt")
	os.WriteFile(gaa, []byte("# name "+user+"\ndisplayName: Zed\nuserPassword: "+hash+"\nzimbraMailHost: mbox1.example.test\n"), 0o600)
	for _, withHash := range []bool{false, true} {
		out := t.TempDir()
		args := append([]string{"export", "zimbra", "--users-file", gaa, "--out", out}, z.args...)
		if withHash {
			args = append(args, "--with-password-hash")
		}
		code, stdout, stderr := mailhaul(t, args...)
		if code != exitOK {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
		a, err := format.Open(filepath.Join(out, user+".tgz"), nil)
		if err != nil {
			t.Fatal(err)
		}
		acc := a.Manifest().Account
		a.Close()
		if got := acc != nil && acc.PasswordHash == hash; got != withHash {
			t.Errorf("--with-password-hash %v: record %+v", withHash, acc)
		}
		rep, _ := os.ReadFile(filepath.Join(out, user+".tgz.report.json"))
		if strings.Contains(stdout+stderr+string(rep), "c2VjcmV0LWhhc2g") {
			t.Errorf("the hash is in the output or the report")
		}
	}
}

// A stream cut mid-way: the user's export starts again, says so, and the
// archive is whole.
func TestExportZimbraLiveCutStream(t *testing.T) {
	items := zimbraLiveItems()
	z := startLiveZimbra(t, "zed", zimbratest.ServerOptions{}, items...)
	z.s.CutREST(400)
	out := t.TempDir()
	code, stdout, stderr := mailhaul(t, append([]string{"-q", "export", "zimbra", "--user", "zed", "--out", out}, z.args...)...)
	if code != exitOK || !strings.Contains(stderr, "exporting the user again") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	got, bodies := archiveItems(t, filepath.Join(out, "zed.tgz"))
	if len(got) != 6 {
		t.Errorf("%d messages in the archive, want 6", len(got))
	}
	for _, it := range items {
		if it.Type == zimbratest.TypeMessage && string(bodies["zimbra:"+strconv.Itoa(it.ID)]) != string(it.Blob) {
			t.Errorf("message %d is not whole", it.ID)
		}
	}
}

// --since with several users takes the directory of their earlier
// archives: each user's delta holds what arrived since that user's
// archive was started (less --overlap), and nothing older.
func TestExportZimbraLiveSinceDir(t *testing.T) {
	z := startLiveZimbra(t, "zed", zimbratest.ServerOptions{}, zimbraLiveItems()...)
	z.add("amy")
	pre, delta := t.TempDir(), t.TempDir()
	users := []string{"--user", "zed", "--user", "amy"}
	mustRun(t, append(append([]string{"-q", "export", "zimbra", "--out", pre}, users...), z.args...)...)
	fresh := zimbratest.Message(330, "/Inbox", 2, "fresh", time.Now().Truncate(time.Second))
	z.add("zed", fresh)
	z.add("amy")
	mustRun(t, append(append([]string{"-q", "export", "zimbra", "--out", delta, "--since", pre, "--overlap", "1m"}, users...), z.args...)...)
	for _, u := range []string{"zed", "amy"} {
		got, _ := filepath.Glob(filepath.Join(delta, u+".after-*.tgz"))
		if len(got) != 1 {
			t.Fatalf("%s: delta archives %v", u, got)
		}
		items, _ := archiveItems(t, got[0])
		if len(items) != 1 || items["zimbra:330"].Folder != "INBOX" {
			t.Errorf("%s: the delta holds %v, want message 330 alone", u, items)
		}
	}
}

// A refused admin login stops the run at once: one AuthRequest, not one
// per user (each would count against the admin's lockout).
func TestExportZimbraLiveAdminRefused(t *testing.T) {
	z := startLiveZimbra(t, "zed", zimbratest.ServerOptions{}, zimbraLiveItems()...)
	bad := filepath.Join(t.TempDir(), "bad.pw")
	os.WriteFile(bad, []byte("wrong\n"), 0o600)
	args := append([]string{"-q", "export", "zimbra", "--out", t.TempDir(), "--concurrency", "1",
		"--user", "zed", "--user", "amy", "--user", "bob"}, z.args...)
	args = append(args, "--password-file", bad) // the last one counts
	code, _, stderr := mailhaul(t, args...)
	if code != exitFailed || !strings.Contains(stderr, "the admin login was refused") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
	if n := z.s.Stats().SOAP["AuthRequest"]; n != 1 {
		t.Errorf("%d AuthRequests, want 1", n)
	}
}

// With workers in parallel a refused login is still sent once, and the
// last line tells the users tried and failed from the users never tried.
func TestExportZimbraLiveAdminRefusedParallel(t *testing.T) {
	z := startLiveZimbra(t, "zed", zimbratest.ServerOptions{}, zimbraLiveItems()...)
	bad := filepath.Join(t.TempDir(), "bad.pw")
	os.WriteFile(bad, []byte("wrong\n"), 0o600)
	args := []string{"-q", "export", "zimbra", "--out", t.TempDir(), "--concurrency", "4"}
	users := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	for _, u := range users {
		args = append(args, "--user", u+"@example.test")
	}
	args = append(append(args, z.args...), "--password-file", bad) // the last one counts
	code, _, stderr := mailhaul(t, args...)
	if n := z.s.Stats().SOAP["AuthRequest"]; n != 1 {
		t.Errorf("%d AuthRequests, want 1", n)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := lines[len(lines)-1]
	_, notTried, ok := strings.Cut(last, "; not tried: ")
	_, failed, _ := strings.Cut(last, "failed: ")
	failed, _, _ = strings.Cut(failed, ";")
	if code != exitFailed || !ok || !strings.Contains(last, "the admin login was refused") {
		t.Fatalf("exit %d, last line %q", code, last)
	}
	in := func(list, u string) bool { return slices.Contains(strings.Split(list, ", "), u) }
	for _, u := range users {
		u += "@example.test"
		if in(failed, u) == in(notTried, u) {
			t.Errorf("%s: failed %v, not tried %v; want exactly one (last line %q)", u, in(failed, u), in(notTried, u), last)
		}
	}
	if len(strings.Split(notTried, ", ")) < len(users)-4 {
		t.Errorf("with 4 workers at most 4 users are tried: %q", last)
	}
}

// --idle-timeout reaches the client: a stalled stream is given up and the
// user's export started again, the archive whole.
func TestExportZimbraLiveStalledStream(t *testing.T) {
	z := startLiveZimbra(t, "zed", zimbratest.ServerOptions{}, zimbraLiveItems()...)
	z.s.StallREST(400)
	out := t.TempDir()
	code, stdout, stderr := mailhaul(t, append([]string{"-q", "export", "zimbra", "--user", "zed", "--out", out,
		"--idle-timeout", "300ms"}, z.args...)...)
	if code != exitOK || !strings.Contains(stderr, "nothing came for 300ms") || !strings.Contains(stderr, "exporting the user again") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if got, _ := archiveItems(t, filepath.Join(out, "zed.tgz")); len(got) != 6 {
		t.Errorf("%d messages in the archive, want 6", len(got))
	}
}

// --rest-auth basic: every export goes to the admin port (--url) as HTTP
// Basic, none to the mailbox server; the password appears nowhere.
func TestExportZimbraLiveRESTAuthBasic(t *testing.T) {
	z := startLiveZimbra(t, "zed", zimbratest.ServerOptions{}, zimbraLiveItems()...)
	args := slices.Clone(z.args)
	args[slices.Index(args, "--mail-url")+1] = z.s.MailURL // where Basic is refused
	out := t.TempDir()
	code, stdout, stderr := mailhaul(t, append([]string{"export", "zimbra", "--user", "zed", "--out", out, "--rest-auth", "basic"}, args...)...)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	ex := z.s.Exports()
	if len(ex) != 3 || z.s.Stats().SOAP["DelegateAuthRequest"] != 0 {
		t.Errorf("%d exports, stats %+v; want 3 and no delegation", len(ex), z.s.Stats())
	}
	for _, e := range ex {
		if !e.Basic {
			t.Errorf("export %s not by Basic: %+v", e.Folder, e)
		}
	}
	rep, err := os.ReadFile(filepath.Join(out, "zed.tgz.report.json"))
	if err != nil {
		t.Error(err)
	}
	for _, s := range []string{stdout, stderr, string(rep)} {
		if strings.Contains(s, "admin-secret") {
			t.Errorf("the password in the output: %s", s)
		}
	}
	if code, _, stderr := mailhaul(t, append([]string{"export", "zimbra", "--user", "zed", "--out", out, "--rest-auth", "plain"}, args...)...); code != exitFailed || !strings.Contains(stderr, `"token" or "basic"`) {
		t.Errorf("--rest-auth plain: exit %d %s", code, stderr)
	}
}

// --rest-auth basic on an installation that refuses Basic (or after the
// password changed): the refusal stops the run, as a refused
// AuthRequest does, and Basic is not sent again for the next users.
func TestExportZimbraLiveRESTAuthBasicRefused(t *testing.T) {
	z := startLiveZimbra(t, "zed", zimbratest.ServerOptions{NoBasic: true}, zimbraLiveItems()...)
	args := []string{"-q", "export", "zimbra", "--out", t.TempDir(), "--concurrency", "1", "--rest-auth", "basic"}
	for _, u := range []string{"zed", "amy", "bob", "cyd"} {
		args = append(args, "--user", u)
		if u != "zed" {
			z.s.AddAccount(zimbratest.Account{Name: u})
		}
	}
	code, _, stderr := mailhaul(t, append(args, z.args...)...)
	if code != exitFailed || !strings.Contains(stderr, "the admin login was refused") || !strings.Contains(stderr, "not tried") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
	if n := z.s.Stats().BasicRefused; n != 1 {
		t.Errorf("%d Basic logins refused, want 1", n)
	}
}

// A user named twice (in another case too) is exported once, and the
// repeat said: two exports of one mailbox at once would double the
// load and fail the second on the archive the first wrote.
func TestExportZimbraLiveUsersOnce(t *testing.T) {
	z := startLiveZimbra(t, "zed", zimbratest.ServerOptions{}, zimbraLiveItems()...)
	out := t.TempDir()
	code, stdout, stderr := mailhaul(t, append([]string{"export", "zimbra", "--user", "zed", "--user", "ZED",
		"--out", out, "--concurrency", "2"}, z.args...)...)
	if code != exitOK || !strings.Contains(stdout, "1 user exported, all complete") || !strings.Contains(stderr, "ZED is listed more than once; exported once") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if n := len(z.s.Exports()); n != 3 {
		t.Errorf("%d REST exports, want the 3 of one user", n)
	}
}

// --header-timeout reaches zmmailbox too: a zmmailbox that sends nothing
// (Zimbra still searching, or hung) is ended after it, as an HTTPS
// export without headers is given up.
func TestExportZimbraZmmailboxHeaderTimeout(t *testing.T) {
	script := filepath.Join(t.TempDir(), "zmmailbox")
	os.WriteFile(script, []byte("#!/bin/sh\nexec sleep 30\n"), 0o700)
	start := time.Now()
	code, _, stderr := mailhaul(t, "-q", "export", "zimbra", "--out", t.TempDir(), "--user", "zed", "--zmmailbox", script,
		"--header-timeout", "300ms")
	if code != exitFailed || !strings.Contains(stderr, "sent nothing for 300ms") || time.Since(start) > 20*time.Second {
		t.Errorf("exit %d after %s\n%s", code, time.Since(start), stderr)
	}
}
