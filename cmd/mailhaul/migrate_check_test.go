package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/internal/testservers"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
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
}

// A plan with problems: every one printed with file and line, exit 1,
// and no server is contacted.
func TestMigrateCheckListsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"plan.toml": `[source]
kind = "maildir"
root = "mail"
path = "Maildir"

[archive]
dir = "archives"

[target.imap]
url = "imap://192.0.2.1"
password = "hunter2"

[users]
file = "users.csv"
`,
		"users.csv": "source,target\nalice@example.org,alice\nbob@example.org,alice\n",
	})
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"migrate", "check", filepath.Join(dir, "plan.toml")}, &out, &errOut)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitFailed, out.String(), errOut.String())
	}
	got := out.String()
	for _, want := range []string{
		"plan.toml:11: \"target.imap.password\" holds a secret",
		"plan.toml:4: source.path \"Maildir\" has no placeholder",
		"plan.toml:10: target.imap.url",
		"users.csv:3: user \"bob@example.org\": target login \"alice\" is already the target of line 2",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got+errOut.String(), "hunter2") {
		t.Error("the inline secret is repeated")
	}
	if !strings.Contains(errOut.String(), "problem(s); nothing was checked") {
		t.Errorf("last line: %s", errOut.String())
	}
}

// Against real servers: exit 0 when all answer; with a wrong password,
// exit 3 and the user, the server and the reason named.
func TestMigrateCheckRealServers(t *testing.T) {
	users := map[string]string{"alice": "alice-pw", "bob": "bob-pw"}
	d := testservers.StartDovecot(t, users)
	r := testservers.StartRadicale(t, users)
	dir := t.TempDir()
	files := map[string]string{
		"plan.toml": fmt.Sprintf(`[source]
kind = "mbox"
root = "mail"
path = "{localpart}.mbox"

[archive]
dir = "archives"

[target.imap]
url = "imap://%s"
password_file = "secrets/{login}.pw"

[target.dav]
url = %q
password_file = "secrets/{login}.pw"

[users]
file = "users.csv"
`, d.Addr, r.URL),
		"users.csv":       "source,target,size\nalice@example.org,alice,1MB\nbob@example.org,bob,2MB\n",
		"mail/alice.mbox": "", "mail/bob.mbox": "",
		"secrets/alice.pw": "alice-pw\n", "secrets/bob.pw": "bob-pw\n",
	}
	writeFiles(t, dir, files)
	plan := filepath.Join(dir, "plan.toml")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"migrate", "check", "--logins", plan}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "check: all 10 answered") {
		t.Errorf("output:\n%s", out.String())
	}

	writeFiles(t, dir, map[string]string{"secrets/bob.pw": "wrong\n"})
	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), []string{"migrate", "check", "--logins", plan}, &out, &errOut); code != exitPartial {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitPartial, out.String(), errOut.String())
	}
	got := out.String()
	for _, want := range []string{
		"FAILED  target imap imap://" + d.Addr + " user bob@example.org: ",
		"FAILED  target dav " + r.URL + " user bob@example.org: ",
		"ok      target imap imap://" + d.Addr + " user alice@example.org",
		"check: 8 answered, 2 failed: target dav",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "wrong") || strings.Contains(got, "bob-pw") {
		t.Errorf("a password in the output:\n%s", got)
	}

	// --json: one line per check, then the result.
	out.Reset()
	if code := run(context.Background(), []string{"--json", "migrate", "check", "--logins", plan}, &out, &errOut); code != exitPartial {
		t.Fatalf("--json exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var last struct {
		Event          string
		Passed, Failed int
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Event != "result" || last.Passed != 8 || last.Failed != 2 {
		t.Errorf("last JSON line %q: %+v %v", lines[len(lines)-1], last, err)
	}
}
