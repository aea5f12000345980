package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export/zimbra/zimbratest"
	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/migrate"
	"github.com/mailhaul/mailhaul/progress"
)

// runEnv is a migration of n Maildir users, each with a contacts file and
// a calendar, into a real Dovecot and Radicale, through the built binary.
type runEnv struct {
	t        *testing.T
	bin, dir string
	plan     string
	src      string // the Maildir root: src/<login>/Maildir
	state    string
	d        *testservers.Dovecot
	r        *testservers.Radicale
	logins   []string
	pass     map[string]string
	seq      int
}

func newRunEnv(t *testing.T, n int) *runEnv {
	t.Helper()
	e := &runEnv{t: t, bin: buildMailhaul(t), dir: t.TempDir(), pass: map[string]string{}}
	for i := range n {
		login := fmt.Sprintf("u%02d", i+1)
		e.logins = append(e.logins, login)
		e.pass[login] = "pw-" + login
		// A second account each, for a migration out of the first.
		e.pass["w"+login[1:]] = "pw-w" + login[1:]
	}
	e.d = testservers.StartDovecot(t, e.pass)
	e.r = testservers.StartRadicale(t, e.pass)
	e.src = filepath.Join(e.dir, "src")
	e.state = filepath.Join(e.dir, "archives", "state")
	var users bytes.Buffer
	users.WriteString("source,size,target\n") // not the usual order: the failures file keeps it
	for i, login := range e.logins {
		fmt.Fprintf(&users, "%s@example.org,%d,%s\n", login, 1000*(i+1), login)
		e.setPassword(login, e.pass[login])
		for _, f := range []string{"INBOX", "Work"} {
			for k := range 3 {
				e.deliver(login, f, fmt.Sprintf("%s-%s-%d", login, f, k), "S")
			}
		}
		dir := filepath.Join(e.src, login)
		card := fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:card-%[1]s-1\r\nFN:Ann %[1]s\r\nN:%[1]s;Ann;;;\r\nEND:VCARD\r\n"+
			"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:card-%[1]s-2\r\nFN:Bob %[1]s\r\nN:%[1]s;Bob;;;\r\nEND:VCARD\r\n", login)
		cal := fmt.Sprintf("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mailhaul test//EN\r\n"+
			"BEGIN:VEVENT\r\nUID:event-%[1]s-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20300101T100000Z\r\nDTEND:20300101T110000Z\r\nSUMMARY:Meeting %[1]s\r\nEND:VEVENT\r\n"+
			"END:VCALENDAR\r\n", login)
		write(t, filepath.Join(dir, "contacts.vcf"), card)
		write(t, filepath.Join(dir, "calendar.ics"), cal)
	}
	write(t, filepath.Join(e.dir, "users.csv"), users.String())
	e.plan = filepath.Join(e.dir, "plan.toml")
	write(t, e.plan, fmt.Sprintf(`[source]
kind = "maildir"
root = "src"
path = "{login}/Maildir"
contacts = "{login}/*.vcf"
calendars = "{login}/*.ics"

[archive]
dir = "archives"

[target.imap]
url = "imap://%s"
password_file = "secrets/{login}.pw"
provider = "dovecot"

[target.dav]
url = "%s"
password_file = "secrets/{login}.pw"

[users]
file = "users.csv"

[limits]
users = 4
connections_per_server = 6
`, e.d.Addr, e.r.URL))
	return e
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (e *runEnv) setPassword(login, pw string) {
	write(e.t, filepath.Join(e.dir, "secrets", login+".pw"), pw+"\n")
}

// folderDir is a Maildir++ folder of login's source.
func (e *runEnv) folderDir(login, folder string) string {
	d := filepath.Join(e.src, login, "Maildir")
	if folder != "INBOX" {
		d = filepath.Join(d, "."+folder)
	}
	return d
}

// deliver puts a message whose first line is "Message-ID: <id>" into
// folder with flags (Maildir letters).
func (e *runEnv) deliver(login, folder, id, flags string) {
	e.seq++
	dir := e.folderDir(login, folder)
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			e.t.Fatal(err)
		}
	}
	when := time.Now().Add(-time.Duration(100-e.seq%100) * time.Minute)
	body := fmt.Sprintf("Message-ID: <%s>\r\nFrom: a@example.org\r\nTo: %s@example.org\r\nSubject: %s\r\nDate: %s\r\n\r\nbody %s\r\n",
		id, login, id, when.Format(time.RFC1123Z), id)
	name := fmt.Sprintf("%d.M%dP1.test:2,%s", when.Unix(), e.seq, flags)
	if err := os.WriteFile(filepath.Join(dir, "cur", name), []byte(body), 0o600); err != nil {
		e.t.Fatal(err)
	}
	os.Chtimes(filepath.Join(dir, "cur", name), when, when)
}

// sourceFile finds the file of message id in login's folder.
func (e *runEnv) sourceFile(login, folder, id string) string {
	e.t.Helper()
	cur := filepath.Join(e.folderDir(login, folder), "cur")
	ents, _ := os.ReadDir(cur)
	for _, ent := range ents {
		b, _ := os.ReadFile(filepath.Join(cur, ent.Name()))
		if strings.HasPrefix(string(b), "Message-ID: <"+id+">") {
			return filepath.Join(cur, ent.Name())
		}
	}
	e.t.Fatalf("no message %s in %s's %s", id, login, folder)
	return ""
}

// run runs the binary; it returns stdout, stderr and the exit code.
func (e *runEnv) run(args ...string) (string, string, int) {
	e.t.Helper()
	cmd := exec.Command(e.bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		e.t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// target is login's mailboxes as the server has them: folder → Message-ID
// → flags, and every Message-ID with how often it is there.
func (e *runEnv) target(login string) (map[string]map[string]string, map[string]int) {
	e.t.Helper()
	folders, count := map[string]map[string]string{}, map[string]int{}
	for _, mb := range testservers.ReadMailboxes(e.t, e.d.Addr, login, e.pass[login]) {
		for _, m := range mb.Messages {
			id := strings.TrimSuffix(strings.TrimPrefix(m.Head, "Message-ID: <"), ">")
			if folders[mb.Name] == nil {
				folders[mb.Name] = map[string]string{}
			}
			folders[mb.Name][id] = strings.Join(m.Flags, " ")
			count[id]++
		}
	}
	return folders, count
}

// wantConverged checks that login's target holds every source message
// exactly once, in its folder, with its flags, and the contacts and the
// event once each.
func (e *runEnv) wantConverged(login string, want map[string]map[string]string) {
	e.t.Helper()
	got, count := e.target(login)
	for id, n := range count {
		if n != 1 {
			e.t.Errorf("%s: message %s is on the target %d times", login, id, n)
		}
	}
	for folder, msgs := range want {
		for id, flags := range msgs {
			if g, ok := got[folder][id]; !ok {
				e.t.Errorf("%s: message %s is not in %s on the target (folders: %v)", login, id, folder, got)
			} else if g != flags {
				e.t.Errorf("%s: message %s in %s has flags %q, want %q", login, id, folder, g, flags)
			}
		}
	}
	n := 0
	for _, msgs := range want {
		n += len(msgs)
	}
	if len(count) != n {
		e.t.Errorf("%s: %d messages on the target, want %d", login, len(count), n)
	}
	objs := radicaleObjects(e.t, e.r, login)
	var cards, events int
	for _, list := range objs {
		for _, b := range list {
			switch {
			case bytes.Contains(b, []byte("BEGIN:VCARD")):
				cards++
			case bytes.Contains(b, []byte("BEGIN:VEVENT")):
				events++
			}
		}
	}
	if cards != 2 || events != 1 {
		e.t.Errorf("%s: %d contacts and %d events on Radicale, want 2 and 1", login, cards, events)
	}
}

// sourceWant is login's source as the target should have it.
func (e *runEnv) sourceWant(login string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, folder := range []string{"INBOX", "Work"} {
		cur := filepath.Join(e.folderDir(login, folder), "cur")
		ents, _ := os.ReadDir(cur)
		for _, ent := range ents {
			b, _ := os.ReadFile(filepath.Join(cur, ent.Name()))
			head, _, _ := strings.Cut(string(b), "\r\n")
			id := strings.TrimSuffix(strings.TrimPrefix(head, "Message-ID: <"), ">")
			var flags []string
			_, info, _ := strings.Cut(ent.Name(), ":2,")
			for _, c := range info {
				switch c {
				case 'S':
					flags = append(flags, `\Seen`)
				case 'F':
					flags = append(flags, `\Flagged`)
				case 'R':
					flags = append(flags, `\Answered`)
				}
			}
			slices.Sort(flags)
			if out[folder] == nil {
				out[folder] = map[string]string{}
			}
			out[folder][id] = strings.Join(flags, " ")
		}
	}
	return out
}

// readReport reads the per-user CSV report: user → status.
func readRunReport(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for user, r := range readCSVByUser(t, filepath.Join(dir, migrate.ReportCSV)) {
		out[user] = r[1]
	}
	return out
}

// readCSVByUser reads a per-user CSV report (a header, then the user
// first on each line): user → line.
func readCSVByUser(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, r := range rows[1:] {
		out[r[0]] = r
	}
	return out
}

// TestMigrateRunFullThenDelta: ten Maildir users with contacts and a
// calendar go to Dovecot and Radicale in one full run, every item once and
// the reports written; then new mail, a flag changed and a message moved
// at the source, and the delta makes the target converge.
func TestMigrateRunFullThenDelta(t *testing.T) {
	e := newRunEnv(t, 10)
	out, errOut, code := e.run("migrate", "run", e.plan, "--stage", "full", "--log-file", filepath.Join(e.dir, "run.log"))
	if code != 0 {
		t.Fatalf("full: exit %d\n%s\n%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !slices.Contains(lines, "all 10 users done") {
		t.Fatalf("full: the summary does not say all users are done:\n%s", out)
	}
	for _, login := range e.logins {
		e.wantConverged(login, e.sourceWant(login))
	}
	reports := filepath.Join(e.state, reportsDir)
	st := readRunReport(t, reports)
	if len(st) != 10 {
		t.Fatalf("report: %d users, want 10: %v", len(st), st)
	}
	for u, s := range st {
		if s != string(migrate.Done) {
			t.Errorf("report: %s is %s", u, s)
		}
	}
	for _, name := range []string{migrate.ReportJSON, migrate.FailuresCSV, migrate.SummaryText} {
		if _, err := os.Stat(filepath.Join(reports, name)); err != nil {
			t.Errorf("report %s: %v", name, err)
		}
	}
	if log, err := os.ReadFile(filepath.Join(e.dir, "run.log")); err != nil || !strings.Contains(string(log), "u07@example.org: done") {
		t.Errorf("the log file does not say u07 is done: %v\n%s", err, log)
	}

	// A run of the same stage again does nothing to anyone.
	if out, errOut, code := e.run("migrate", "run", e.plan, "--stage", "full", "--json"); code != 0 || !strings.Contains(out, `"summary":"all 10 users done"`) {
		t.Fatalf("full again: exit %d\n%s\n%s", code, out, errOut)
	}

	// The cutover: new mail, a flag, a move, for every user.
	time.Sleep(1100 * time.Millisecond) // a new second for the new files
	for _, login := range e.logins {
		e.deliver(login, "INBOX", login+"-new", "")
		f := e.sourceFile(login, "INBOX", login+"-INBOX-0")
		if err := os.Rename(f, strings.TrimSuffix(f, "S")+"FS"); err != nil {
			t.Fatal(err)
		}
		g := e.sourceFile(login, "INBOX", login+"-INBOX-1")
		if err := os.Rename(g, filepath.Join(e.folderDir(login, "Work"), "cur", filepath.Base(g))); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code = e.run("migrate", "run", e.plan, "--stage", "delta", "--apply-deletions")
	if code != 0 {
		t.Fatalf("delta: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, login := range e.logins {
		e.wantConverged(login, e.sourceWant(login))
	}
}

// TestMigrateRunWrongPasswordThenRetry: a user whose target password is
// wrong fails (exit 4: the user left failed permanently; named in the
// failures file, which is a users list),
// the others finish; a run of the same stage leaves the user alone, and
// --retry-failed after the password is fixed finishes it.
func TestMigrateRunWrongPasswordThenRetry(t *testing.T) {
	e := newRunEnv(t, 3)
	e.setPassword("u02", "wrong")
	out, errOut, code := e.run("migrate", "run", e.plan, "--stage", "full")
	if code != exitPermanent {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitPermanent, out, errOut)
	}
	if !strings.Contains(out, "NOT all users done: 2 of 3 done, 1 failed-permanent") {
		t.Errorf("summary:\n%s", out)
	}
	reports := filepath.Join(e.state, reportsDir)
	b, err := os.ReadFile(filepath.Join(reports, migrate.FailuresCSV))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(rows) != 2 || strings.Join(rows[0], ",") != "source,size,target" || strings.Join(rows[1], ",") != "u02@example.org,2000,u02" {
		t.Fatalf("failures file: %v\n%s", err, b)
	}
	if st := readRunReport(t, reports); st["u02@example.org"] != string(migrate.FailedPerm) || st["u01@example.org"] != string(migrate.Done) {
		t.Errorf("report: %v", st)
	}
	// Not tried again without --retry-failed (an authentication failure
	// counts towards a lockout).
	if _, _, code := e.run("migrate", "run", e.plan, "--stage", "full"); code != exitPermanent {
		t.Fatalf("again: exit %d", code)
	}
	e.setPassword("u02", e.pass["u02"])
	out, errOut, code = e.run("migrate", "run", e.plan, "--stage", "full", "--retry-failed")
	if code != 0 {
		t.Fatalf("--retry-failed: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, login := range e.logins {
		e.wantConverged(login, e.sourceWant(login))
	}
}

// TestMigrateRunShards: two processes started at once with --shard-count 2
// take disjoint shares whose union is every user.
func TestMigrateRunShards(t *testing.T) {
	e := newRunEnv(t, 6)
	var wg sync.WaitGroup
	type run struct {
		out, errOut string
		code        int
	}
	runs := make([]run, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(e.bin, "migrate", "run", e.plan, "--stage", "full", "--shard-count", "2", "--json")
			cmd.Env = append(os.Environ(), fmt.Sprintf("MAILHAUL_SHARD_INDEX=%d", i))
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			runs[i] = run{out.String(), errb.String(), cmd.ProcessState.ExitCode()}
			if err != nil && cmd.ProcessState == nil {
				runs[i].code = -1
			}
		}()
	}
	wg.Wait()
	seen, importing := map[string]int{}, map[string]int{}
	for i, r := range runs {
		if r.code != 0 {
			t.Fatalf("shard %d: exit %d\n%s\n%s", i, r.code, r.out, r.errOut)
		}
		for _, line := range strings.Split(strings.TrimSpace(r.out), "\n") {
			var ev struct {
				Event  string `json:"event"`
				User   string `json:"user"`
				Status string `json:"status"`
			}
			if json.Unmarshal([]byte(line), &ev) == nil && ev.Event == "progress" && ev.Status == string(migrate.Importing) {
				importing[ev.User]++
			}
			if json.Unmarshal([]byte(line), &ev) == nil && ev.Event == "user" {
				if ev.Status != string(migrate.Done) {
					t.Errorf("shard %d: %s is %s", i, ev.User, ev.Status)
				}
				seen[ev.User]++
			}
		}
	}
	if len(seen) != 6 {
		t.Errorf("the shards did %d users, want 6: %v", len(seen), seen)
	}
	if len(importing) != 6 {
		t.Errorf("the JSON progress lines said %d users were importing, want 6: %v", len(importing), importing)
	}
	for u, n := range seen {
		if n != 1 {
			t.Errorf("%s was in %d shards", u, n)
		}
	}
	for _, login := range e.logins {
		e.wantConverged(login, e.sourceWant(login))
	}
}

// TestMigrateRunTwoSites: the export part alone, the archives moved to
// another directory (a drive carried to the other site), then the import
// part from there.
func TestMigrateRunTwoSites(t *testing.T) {
	e := newRunEnv(t, 2)
	out, errOut, code := e.run("migrate", "run", e.plan, "--stage", "full", "--part", "export")
	if code != 0 {
		t.Fatalf("export part: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, login := range e.logins {
		if _, count := e.target(login); len(count) != 0 {
			t.Fatalf("the export part imported %d messages of %s", len(count), login)
		}
	}
	drive := filepath.Join(e.dir, "drive")
	if err := os.Rename(filepath.Join(e.dir, "archives"), drive); err != nil {
		t.Fatal(err)
	}
	// The other site has a state directory of its own (the plan's, made
	// anew there).
	out, errOut, code = e.run("migrate", "run", e.plan, "--stage", "full", "--part", "import", "--archives", drive)
	if code != 0 {
		t.Fatalf("import part: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, login := range e.logins {
		e.wantConverged(login, e.sourceWant(login))
	}
}

// --metrics: a loopback address serves them during the run; any other is
// refused (exit 64) unless --metrics-public.
func TestMigrateRunMetricsAddress(t *testing.T) {
	e := newRunEnv(t, 1)
	for _, addr := range []string{"0.0.0.0:0", ":0"} {
		if _, errOut, code := e.run("migrate", "run", e.plan, "--stage", "full", "--metrics", addr); code != exitUsage ||
			!strings.Contains(errOut, "not a loopback address") {
			t.Errorf("--metrics %s: exit %d, %q; want %d", addr, code, errOut, exitUsage)
		}
	}
	logFile := filepath.Join(t.TempDir(), "run.log")
	out, errOut, code := e.run("migrate", "run", e.plan, "--stage", "full", "--metrics", "127.0.0.1:0", "--log-file", logFile)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(logFile); !strings.Contains(string(b), "metrics at http://127.0.0.1:") {
		t.Errorf("log:\n%s", b)
	}
}

// TestMigrateRunFromIMAP: a plan whose source is an IMAP server (the
// accounts the Maildir migration filled), through export imap's builder:
// every message into a second account each, then a message appended at
// the source comes over with the delta.
func TestMigrateRunFromIMAP(t *testing.T) {
	e := newRunEnv(t, 2)
	if out, errOut, code := e.run("migrate", "run", e.plan, "--stage", "full"); code != 0 {
		t.Fatalf("maildir into u01, u02: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, login := range e.logins {
		e.setPassword("w"+login[1:], e.pass["w"+login[1:]])
	}
	write(t, filepath.Join(e.dir, "users2.csv"), "source,target\nu01,w01\nu02,w02\n")
	plan := filepath.Join(e.dir, "imap.toml")
	write(t, plan, fmt.Sprintf(`[source]
kind = "imap"
url = "imap://%[1]s"
password_file = "secrets/{user}.pw"
provider = "dovecot"

[archive]
dir = "archives2"

[target.imap]
url = "imap://%[1]s"
password_file = "secrets/{login}.pw"
provider = "dovecot"

[users]
file = "users2.csv"
`, e.d.Addr))
	if out, errOut, code := e.run("migrate", "run", plan, "--stage", "full"); code != 0 {
		t.Fatalf("imap full: exit %d\n%s\n%s", code, out, errOut)
	}
	c := testservers.IMAPLogin(t, e.d.Addr, "u01", e.pass["u01"])
	msg := "Message-ID: <u01-appended>\r\nFrom: a@example.org\r\nSubject: late\r\n\r\nlate\r\n"
	ap := c.Append("INBOX", int64(len(msg)), nil)
	ap.Write([]byte(msg))
	ap.Close()
	if _, err := ap.Wait(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if out, errOut, code := e.run("migrate", "run", plan, "--stage", "delta"); code != 0 {
		t.Fatalf("imap delta: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, login := range e.logins {
		src, srcCount := e.target(login)
		dst, dstCount := e.target("w" + login[1:])
		if len(srcCount) < 6 || len(dstCount) != len(srcCount) {
			t.Errorf("%s: %d messages at the source, %d at w%s", login, len(srcCount), len(dstCount), login[1:])
		}
		for id, n := range dstCount {
			if n != 1 {
				t.Errorf("w%s: %s is there %d times", login[1:], id, n)
			}
		}
		for folder, msgs := range src {
			for id, flags := range msgs {
				if got, ok := dst[folder][id]; !ok || got != flags {
					t.Errorf("w%s: %s in %s: flags %q (there: %v), want %q", login[1:], id, folder, got, ok, flags)
				}
			}
		}
	}
	if _, count := e.target("w01"); count["u01-appended"] != 1 {
		t.Errorf("the message appended at the source after the full run is not on the target once: %v", count)
	}
}

// TestMigrateRunSFTPTwoSites: with an SFTP archive place, the export part
// pushes each user's archives to the server (its host key checked against
// the plan's known_hosts), and the import part at the other site reads
// them where the server keeps them.
func TestMigrateRunSFTPTwoSites(t *testing.T) {
	e := newRunEnv(t, 2)
	s := testservers.StartSSHD(t, testservers.SSHDOptions{})
	remote := t.TempDir()
	plan := strings.Replace(readFile(t, e.plan), `dir = "archives"`, fmt.Sprintf("sftp = %q\nidentity_file = %q\nknown_hosts = %q\nstate = \"state\"",
		s.URL(remote), s.Identity, s.KnownHosts), 1)
	write(t, e.plan, plan)
	out, errOut, code := e.run("migrate", "run", e.plan, "--stage", "full", "--part", "export")
	if code != 0 {
		t.Fatalf("export part: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, login := range e.logins {
		got, _ := filepath.Glob(filepath.Join(remote, migrate.Key(login+"@example.org"), "*.tgz"))
		if len(got) != 1 {
			t.Fatalf("%s: %d archives on the SFTP server, want 1", login, len(got))
		}
	}
	out, errOut, code = e.run("migrate", "run", e.plan, "--stage", "full", "--part", "import", "--archives", remote)
	if code != 0 {
		t.Fatalf("import part: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, login := range e.logins {
		e.wantConverged(login, e.sourceWant(login))
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMigrateRunFromZimbra: a plan whose source is a live Zimbra (the
// fake, over verified TLS), through export zimbra's live export: every
// message into Dovecot in its folder with its flags; mail that arrives
// later comes over with the delta, nothing twice.
func TestMigrateRunFromZimbra(t *testing.T) {
	items := zimbraLiveItems()
	z := startLiveZimbra(t, "zed", zimbratest.ServerOptions{}, items...)
	arg := func(name string) string { return z.args[slices.Index(z.args, name)+1] }
	bin, dir := buildMailhaul(t), t.TempDir()
	d := testservers.StartDovecot(t, map[string]string{"zed": "zed-secret"})
	write(t, filepath.Join(dir, "zed.pw"), "zed-secret\n")
	write(t, filepath.Join(dir, "users.csv"), "source,target\nzed,zed\n")
	plan := filepath.Join(dir, "plan.toml")
	write(t, plan, fmt.Sprintf(`[source]
kind = "zimbra"
url = %q
admin = "admin@example.test"
password_file = %q
tls_ca = %q
mail_url = %q

[archive]
dir = "archives"

[target.imap]
url = "imap://%s"
password_file = "{login}.pw"
provider = "dovecot"

[users]
file = "users.csv"
`, z.s.URL, arg("--password-file"), arg("--tls-ca"), z.s.URL, d.Addr))
	e := &runEnv{t: t, bin: bin, dir: dir, d: d, pass: map[string]string{"zed": "zed-secret"}}
	// where each message (by its bytes) is on the target.
	where := func() map[[32]byte][]string {
		out := map[[32]byte][]string{}
		for _, mb := range testservers.ReadMailboxes(t, d.Addr, "zed", "zed-secret") {
			for _, m := range mb.Messages {
				out[m.SHA256] = append(out[m.SHA256], mb.Name)
			}
		}
		return out
	}
	if out, errOut, code := e.run("migrate", "run", plan, "--stage", "full"); code != 0 {
		t.Fatalf("full: exit %d\n%s\n%s", code, out, errOut)
	}
	got := where()
	if len(got) != len(zimbraWant) {
		t.Errorf("%d messages on the target, want %d", len(got), len(zimbraWant))
	}
	for _, it := range items {
		if w, ok := zimbraWant[it.ID]; ok && !slices.Equal(got[sha256.Sum256(it.Blob)], []string{w.mailbox}) {
			t.Errorf("message %d is in %q, want %s once", it.ID, got[sha256.Sum256(it.Blob)], w.mailbox)
		}
	}
	late := zimbratest.Message(330, "/Inbox", 2, "late", time.Now())
	z.add("zed", late)
	if out, errOut, code := e.run("migrate", "run", plan, "--stage", "delta"); code != 0 {
		t.Fatalf("delta: exit %d\n%s\n%s", code, out, errOut)
	}
	got = where()
	if len(got) != len(zimbraWant)+1 || !slices.Equal(got[sha256.Sum256(late.Blob)], []string{"INBOX"}) {
		t.Errorf("after the delta: %d messages on the target, want %d, the late one in INBOX once", len(got), len(zimbraWant)+1)
	}
	for sum, in := range got {
		if len(in) != 1 {
			t.Errorf("after the delta: a message is there %d times (%x)", len(in), sum[:4])
		}
	}

	// users.all: the accounts listed from Zimbra; into a target that has
	// everything already (a new state), nothing twice.
	all := strings.Replace(strings.Replace(readFile(t, plan), `file = "users.csv"`, "all = true", 1), `dir = "archives"`, `dir = "archives-all"`, 1)
	write(t, plan, all)
	out, errOut, code := e.run("migrate", "run", plan, "--stage", "full")
	if code != 0 || !strings.HasSuffix(strings.TrimSpace(out), "all 1 users done") {
		t.Fatalf("users.all: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := where(); len(got) != len(zimbraWant)+1 {
		t.Errorf("users.all: %d messages on the target, want %d", len(got), len(zimbraWant)+1)
	}
}

// TestRunTally: the overall line sums each user's imports, the mail's and
// then the contacts' (each counting from zero), and the users done give
// the time left.
func TestRunTally(t *testing.T) {
	tl := &runTally{start: time.Now().Add(-10 * time.Second), total: 4, users: map[string]*runUser{}, counted: "import"}
	for _, e := range []progress.Event{
		{Stage: migrate.StageMigrate, User: "a", Folder: string(migrate.Importing)},
		{Stage: "export", User: "a", Items: 99, Bytes: 9999},
		{Stage: "import", User: "a", Items: 5, Bytes: 500},
		{Stage: "import", User: "a", Items: 7, Bytes: 700},
		{Stage: "import", User: "a", Items: 2, Bytes: 20}, // the DAV import starts
		{Stage: "import", User: "b", Items: 1, Bytes: 100},
	} {
		tl.see(e)
	}
	if items, bytes := tl.sums(); items != 10 || bytes != 820 {
		t.Errorf("sums %d items, %d bytes; want 10 and 820", items, bytes)
	}
	if _, changed, finished := tl.see(progress.Event{Stage: migrate.StageMigrate, User: "a", Folder: string(migrate.Done), Items: 2, ItemsTotal: 4}); !changed || !finished {
		t.Error("a user's end was not seen")
	}
	if eta, ok := tl.eta(); !ok || eta < 9*time.Second || eta > 11*time.Second {
		t.Errorf("eta %v %v, want about 10 s (2 users in 10 s, 2 left)", eta, ok)
	}
}

// TestMigrateRunUserNamedLikeTheState: a user whose archive directory
// would be the state directory (the plan's default, archives/state) is
// refused before anything runs, named.
func TestMigrateRunUserNamedLikeTheState(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "src", "state", "Maildir", "cur", "x"), "")
	write(t, filepath.Join(dir, "users.csv"), "source\nstate\n")
	write(t, filepath.Join(dir, "pw"), "x\n")
	plan := filepath.Join(dir, "plan.toml")
	write(t, plan, `[source]
kind = "maildir"
root = "src"
path = "{user}/Maildir"

[archive]
dir = "archives"

[target.imap]
url = "imap://127.0.0.1:1"
admin = "master"
password_file = "pw"

[users]
file = "users.csv"
`)
	e := &runEnv{t: t, bin: buildMailhaul(t)}
	_, errOut, code := e.run("migrate", "run", plan, "--stage", "full")
	if code != exitFailed || !strings.Contains(errOut, `user "state"`) || !strings.Contains(errOut, "archive.state") {
		t.Fatalf("exit %d, stderr %q; want 1 naming the user and archive.state", code, errOut)
	}
}

// TestMemoryLimitFitsUsersAtOnce: a run of many users gets room for each
// user's import read-ahead (32 MiB) above the single-user limit; with one
// limit for all, eight users kept the collector running without pause.
func TestMemoryLimitFitsUsersAtOnce(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	debug.SetMemoryLimit(softMemoryLimit)
	memoryForUsers(8)
	if got, want := debug.SetMemoryLimit(-1), int64(softMemoryLimit+8*32<<20); got < want {
		t.Errorf("soft memory limit for 8 users = %d MiB, want at least %d MiB", got>>20, want>>20)
	}
	t.Setenv("GOMEMLIMIT", "100MiB")
	debug.SetMemoryLimit(100 << 20)
	memoryForUsers(8)
	if got := debug.SetMemoryLimit(-1); got != 100<<20 {
		t.Errorf("with GOMEMLIMIT set the limit became %d MiB, want it left at 100", got>>20)
	}
}
