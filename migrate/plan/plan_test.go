package plan

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/migrate"
)

// write creates files below dir (name → content) and returns dir.
func write(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const goodPlan = `# a Maildir source into Dovecot and Radicale
[source]
kind = "maildir"
root = "mail"
path = "{domain}/{localpart}/Maildir"

[archive]
dir = "archives"

[target.imap]
url = "imap://127.0.0.1:1143"
admin = "master"
password_file = "secrets/master.pw"

[target.dav]
url = "http://127.0.0.1:5232/"
password_file = "secrets/dav/{login}.pw"

[users]
file = "users.csv"

[limits]
users = 8
connections_per_server = 20
bandwidth = "50MB/s"
`

func goodFiles() map[string]string {
	return map[string]string{
		"plan.toml":                        goodPlan,
		"users.csv":                        "source,target,size\nalice@example.org,alice,2.5GB\nbob@example.net,,300MB\n",
		"secrets/master.pw":                "m\n",
		"secrets/dav/alice.pw":             "a\n",
		"secrets/dav/bob@example.net.pw":   "b\n",
		"mail/example.org/alice/Maildir/x": "",
	}
}

// problems loads a plan expected to fail and returns its problems.
func problems(t *testing.T, path string) Problems {
	t.Helper()
	p, err := Load(path)
	if err == nil {
		t.Fatalf("Load(%s) = %+v, want problems", path, p)
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Load: %T %v, want Problems", err, err)
	}
	return ps
}

// wantProblem finds a problem at file:line whose message holds every part.
func wantProblem(t *testing.T, ps Problems, file string, line int, parts ...string) {
	t.Helper()
	for _, p := range ps {
		if filepath.Base(p.File) != file || p.Line != line {
			continue
		}
		ok := true
		for _, s := range parts {
			ok = ok && strings.Contains(p.Msg, s)
		}
		if ok {
			return
		}
	}
	t.Errorf("no problem at %s:%d with %q among:\n%v", file, line, parts, ps)
}

func TestLoadGood(t *testing.T) {
	dir := write(t, t.TempDir(), goodFiles())
	p, err := Load(filepath.Join(dir, "plan.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Source.Kind != KindMaildir || p.Source.Root != filepath.Join(dir, "mail") {
		t.Errorf("source = %+v", p.Source)
	}
	if p.Limits != (Limits{Users: 8, ConnectionsPerServer: 20, BytesPerSecond: 50_000_000}) {
		t.Errorf("limits = %+v", p.Limits)
	}
	if p.Archive.State != filepath.Join(dir, "archives", "state") || p.Archive.Compress != "gzip" {
		t.Errorf("archive = %+v", p.Archive)
	}
	us := p.Users()
	if len(us) != 2 {
		t.Fatalf("users = %+v", us)
	}
	a, b := us[0], us[1]
	if a.Address != "alice@example.org" || a.Login != "alice" || a.EstimatedSize != 2_500_000_000 || a.Line != 2 ||
		a.SourcePath != filepath.Join(dir, "mail/example.org/alice/Maildir") || a.SourceRel != "example.org/alice/Maildir" {
		t.Errorf("alice = %+v", a)
	}
	if a.DAVSecret.File != filepath.Join(dir, "secrets/dav/alice.pw") || a.IMAPSecret.Set() {
		t.Errorf("alice's secrets: imap %+v dav %+v (the IMAP admin's serves)", a.IMAPSecret, a.DAVSecret)
	}
	if b.Login != "bob@example.net" || b.Key != "bob@example.net" || b.Line != 3 {
		t.Errorf("bob = %+v", b)
	}
	acct, err := p.IMAPAccount(p.IMAP, a)
	if err != nil {
		t.Fatal(err)
	}
	if acct.User != "alice" || acct.Admin != "master" {
		t.Errorf("account %+v", acct)
	}
	if pw, err := acct.Secret(); err != nil || pw != "m" {
		t.Errorf("admin secret %q %v", pw, err)
	}
	cfg, _, err := p.DAVConfig(p.DAV, a)
	if err != nil || cfg.User != "alice" || cfg.Password != "a" {
		t.Errorf("dav config %+v %v", cfg, err)
	}
}

// A misspelt key is an error at its line, not a silent default.
func TestStrictUnknownKey(t *testing.T) {
	files := goodFiles()
	files["plan.toml"] = strings.Replace(goodPlan, "users = 8", "user = 8", 1)
	dir := write(t, t.TempDir(), files)
	ps := problems(t, filepath.Join(dir, "plan.toml"))
	wantProblem(t, ps, "plan.toml", 23, `unknown key "limits.user"`)
	if len(ps) != 1 {
		t.Errorf("problems %v, want one", ps)
	}
}

func TestSyntaxErrorHasLine(t *testing.T) {
	dir := write(t, t.TempDir(), map[string]string{"plan.toml": "[source]\nkind = \"maildir\nroot = 1\n"})
	ps := problems(t, filepath.Join(dir, "plan.toml"))
	if len(ps) != 1 || ps[0].Line != 2 {
		t.Errorf("problems %v, want one at line 2", ps)
	}
}

// Every problem is named at once, each at its line: a run of fixes, not
// a fix per run.
func TestManyProblemsAtOnce(t *testing.T) {
	files := goodFiles()
	files["plan.toml"] = `[source]
kind = "maildir"
root = "mail"
path = "mail/Maildir"

[archive]
dir = "archives"
sftp = "sftp://x@host/p"

[target.imap]
url = "imap://mail.example.org"
password = "hunter2"

[target.dav]
url = "https://dav.example.org/"
password_file = "secrets/dav/{login}.pw"
colour = "blue"

[users]
file = "users.csv"

[limits]
users = -1
bandwidth = "fast"
`
	dir := write(t, t.TempDir(), files)
	ps := problems(t, filepath.Join(dir, "plan.toml"))
	wantProblem(t, ps, "plan.toml", 12, `"target.imap.password" holds a secret`, "password_file")
	wantProblem(t, ps, "plan.toml", 17, `unknown key "target.dav.colour"`)
	// The semantic problems are named in the same pass, each at its line.
	wantProblem(t, ps, "plan.toml", 4, "has no placeholder")
	wantProblem(t, ps, "plan.toml", 8, "both dir and sftp")
	wantProblem(t, ps, "plan.toml", 11, "in clear", "starttls = true", "allow_plaintext = true")
	wantProblem(t, ps, "plan.toml", 23, "limits.users -1")
	wantProblem(t, ps, "plan.toml", 24, `"fast"`)
	if len(ps) < 7 {
		t.Errorf("problems %v", ps)
	}
}

func TestInlineSecretRefusedInCSV(t *testing.T) {
	files := goodFiles()
	files["users.csv"] = "source,target,imap_password\nalice@example.org,alice,hunter2\n"
	dir := write(t, t.TempDir(), files)
	ps := problems(t, filepath.Join(dir, "plan.toml"))
	wantProblem(t, ps, "users.csv", 1, `"imap_password"`, "secrets are references only")
	for _, p := range ps {
		if strings.Contains(p.Msg, "hunter2") {
			t.Errorf("a problem repeats the secret: %v", p)
		}
	}
}

func TestCSVProblemsAtTheirLines(t *testing.T) {
	files := goodFiles()
	files["users.csv"] = strings.Join([]string{
		"source,target,size",
		"alice@example.org,alice,1GB",
		"# a comment line",
		"bob@example.net,bob,huge",
		"carol@example.org",
		"Alice@Example.org,alice2,",
		"dave@example.org,ALICE,",
		`"erin@example.org,erin,`,
		"",
	}, "\n")
	files["secrets/dav/alice2.pw"] = "x"
	files["secrets/dav/ALICE.pw"] = "x"
	files["secrets/dav/bob.pw"] = "x"
	dir := write(t, t.TempDir(), files)
	ps := problems(t, filepath.Join(dir, "plan.toml"))
	wantProblem(t, ps, "users.csv", 4, `"bob@example.net"`, `"huge"`)
	wantProblem(t, ps, "users.csv", 5, "1 fields where the header has 3")
	wantProblem(t, ps, "users.csv", 6, `"Alice@Example.org" is already on line 2`)
	wantProblem(t, ps, "users.csv", 7, `target login "ALICE"`, "line 2", "another's mailbox")
	wantProblem(t, ps, "users.csv", 8, "not valid CSV")
}

func TestUnreadableSecretNamed(t *testing.T) {
	files := goodFiles()
	delete(files, "secrets/dav/bob@example.net.pw")
	delete(files, "secrets/master.pw")
	dir := write(t, t.TempDir(), files)
	ps := problems(t, filepath.Join(dir, "plan.toml"))
	wantProblem(t, ps, "plan.toml", 13, "cannot read the password file", "master.pw")
	wantProblem(t, ps, "users.csv", 3, `"bob@example.net"`, "bob@example.net.pw")
}

// A user name can never take the path out of root, nor a secret file
// out of its directory.
func TestPatternConfinement(t *testing.T) {
	files := goodFiles()
	files["users.csv"] = "source,target\n../x@example.org,x\nalice@..,alice\n..@example.org,y\nsub/../../z@example.org,z\n"
	for _, l := range []string{"x", "alice", "y", "z"} {
		files["secrets/dav/"+l+".pw"] = "p"
	}
	dir := write(t, t.TempDir(), files)
	ps := problems(t, filepath.Join(dir, "plan.toml"))
	wantProblem(t, ps, "users.csv", 2, "{localpart}", "cannot be a file name")
	wantProblem(t, ps, "users.csv", 3, "{domain}", `".."`)
	wantProblem(t, ps, "users.csv", 4, "{localpart}", `".."`)
	wantProblem(t, ps, "users.csv", 5, "{localpart}")

	files["plan.toml"] = strings.Replace(goodPlan, `"{domain}/{localpart}/Maildir"`, `"../{user}"`, 1)
	files["users.csv"] = "source\nalice@example.org\n"
	write(t, dir, files)
	ps = problems(t, filepath.Join(dir, "plan.toml"))
	wantProblem(t, ps, "plan.toml", 5, "stay below root")

	// A per-user override is held to root too.
	files["plan.toml"] = goodPlan
	files["users.csv"] = "source,source_path\nalice@example.org,../../etc\n"
	files["secrets/dav/alice@example.org.pw"] = "p"
	write(t, dir, files)
	ps = problems(t, filepath.Join(dir, "plan.toml"))
	wantProblem(t, ps, "users.csv", 2, "leaves source.root")
}

// Two addresses differing only in case are one user: refused as a
// duplicate, so their keys (and archives) never meet.
func TestCaseDuplicateRefused(t *testing.T) {
	files := goodFiles()
	files["users.csv"] = "source,target\nBob@example.net,bob1\nbob@example.net,bob2\n"
	files["secrets/dav/bob1.pw"] = "p"
	files["secrets/dav/bob2.pw"] = "p"
	dir := write(t, t.TempDir(), files)
	ps := problems(t, filepath.Join(dir, "plan.toml"))
	wantProblem(t, ps, "users.csv", 3, "already on line 2")
}

func TestPerUserPasswordsNeedPlaceholderOrColumn(t *testing.T) {
	files := goodFiles()
	files["plan.toml"] = strings.Replace(goodPlan, "admin = \"master\"\npassword_file = \"secrets/master.pw\"\n", "password_file = \"secrets/master.pw\"\n", 1)
	dir := write(t, t.TempDir(), files)
	ps := problems(t, filepath.Join(dir, "plan.toml"))
	wantProblem(t, ps, "plan.toml", 12, "no placeholder", "each user logs in with their own")

	files["plan.toml"] = strings.Replace(goodPlan, "admin = \"master\"\npassword_file = \"secrets/master.pw\"\n", "", 1)
	files["users.csv"] = "source,target,imap_password_file\nalice@example.org,alice,secrets/alice-imap.pw\nbob@example.net,bob,\n"
	files["secrets/alice-imap.pw"] = "ai\n"
	files["secrets/dav/bob.pw"] = "b"
	write(t, dir, files)
	ps = problems(t, filepath.Join(dir, "plan.toml"))
	wantProblem(t, ps, "users.csv", 3, "no password for the imap://127.0.0.1:1143 server", migrate.ColIMAPPasswordFile)
	if len(ps) != 1 {
		t.Errorf("alice's column serves her: %v", ps)
	}
}

func TestParseSizeAndRate(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "123": 123, "2.5GB": 2_500_000_000, "1GiB": 1 << 30, "300 mb": 300_000_000, "4KiB": 4096} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "GB", "1XB", "NaN"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
	for in, want := range map[string]int64{"50MB/s": 50_000_000, "200Mbit/s": 25_000_000, "1000": 1000} {
		if got, err := ParseRate(in); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

// The example plan in testdata/migrate loads as it is documented.
func TestExamplePlanLoads(t *testing.T) {
	p, err := Load("../../testdata/migrate/plan.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Users()) == 0 {
		t.Fatal("no users")
	}
}

// Dotted keys and inline tables are placed at their lines too.
func TestDottedAndInlineKeys(t *testing.T) {
	files := goodFiles()
	files["plan.toml"] = `source.kind = "maildir"
source.root = "mail"
source.path = "{localpart}"
archive = { dir = "archives" }
target.imap = { url = "imap://mail.example.org", admin = "master", password_file = "secrets/master.pw" }
users.file = "users.csv"
users.size = 3
`
	files["secrets/dav/x"] = ""
	dir := write(t, t.TempDir(), files)
	ps := problems(t, filepath.Join(dir, "plan.toml"))
	wantProblem(t, ps, "plan.toml", 5, "target.imap.url", "in clear")
	wantProblem(t, ps, "plan.toml", 7, `unknown key "users.size"`)
	if len(ps) != 2 {
		t.Errorf("problems %v", ps)
	}
}

// A value of the wrong type is named at its line.
func TestWrongTypeHasLine(t *testing.T) {
	files := goodFiles()
	files["plan.toml"] = strings.Replace(goodPlan, "users = 8", `users = "eight"`, 1)
	dir := write(t, t.TempDir(), files)
	ps := problems(t, filepath.Join(dir, "plan.toml"))
	if len(ps) != 1 || ps[0].Line != 23 {
		t.Errorf("problems %v, want one at line 23", ps)
	}
}

// TestContactsAndCalendarsPatterns: a Maildir source's per-user .vcf and
// .ics globs are filled for each user (the user's names matched as they
// are, never as patterns), must name the user and stay below root; each
// user's row and the header are kept for the failures file.
func TestContactsAndCalendarsPatterns(t *testing.T) {
	files := goodFiles()
	files["plan.toml"] = strings.Replace(goodPlan, "path = \"{domain}/{localpart}/Maildir\"\n",
		"path = \"{domain}/{localpart}/Maildir\"\ncontacts = \"{domain}/{localpart}/*.vcf\"\ncalendars = \"{domain}/{localpart}/*.ics\"\n", 1)
	files["users.csv"] = "size,source,target\n2.5GB,a*b@example.org,alice\n300MB,bob@example.net,\n"
	files["secrets/dav/bob@example.net.pw"] = "b\n"
	dir := write(t, t.TempDir(), files)
	p, err := Load(filepath.Join(dir, "plan.toml"))
	if err != nil {
		t.Fatal(err)
	}
	u := p.Users()[0]
	if want := filepath.Join(dir, "mail", "example.org", `a\*b`, "*.vcf"); u.ContactFiles != want {
		t.Errorf("contacts %q, want %q", u.ContactFiles, want)
	}
	if want := filepath.Join(dir, "mail", "example.org", `a\*b`, "*.ics"); u.CalendarFiles != want {
		t.Errorf("calendars %q, want %q", u.CalendarFiles, want)
	}
	if strings.Join(p.Header, ",") != "size,source,target" || strings.Join(u.Row, ",") != "2.5GB,a*b@example.org,alice" {
		t.Errorf("header %q, row %q", p.Header, u.Row)
	}

	files["plan.toml"] = strings.Replace(goodPlan, "path = \"{domain}/{localpart}/Maildir\"\n",
		"path = \"{domain}/{localpart}/Maildir\"\ncontacts = \"shared/*.vcf\"\ncalendars = \"../{localpart}/*.ics\"\n", 1)
	files["users.csv"] = "source,target,size\nalice@example.org,alice,2.5GB\n"
	write(t, dir, files)
	ps := problems(t, filepath.Join(dir, "plan.toml"))
	wantProblem(t, ps, "plan.toml", 6, "source.contacts", "no placeholder")
	wantProblem(t, ps, "plan.toml", 7, "source.calendars", "stay below root")
}
