package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/mailhaul/mailhaul/internal/cause"
	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/migrate"
)

// TestMigrateCompare: after a full run into the real Dovecot and
// Radicale every user compares equal (exit 0, text, JSON and the CSV);
// a message deleted on one user's target makes that user differ with "1
// missing" and the command exit 3; a user of the plan never migrated is
// "not migrated yet", not equal.
func TestMigrateCompare(t *testing.T) {
	e := newRunEnv(t, 3)
	only := "--only=u01@example.org,u02@example.org"
	if out, errOut, code := e.run("migrate", "run", e.plan, "--stage", "full", only); code != 0 {
		t.Fatalf("migrate run: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code := e.run("migrate", "compare", e.plan, only)
	if code != 0 || !strings.Contains(out, "u01@example.org: equal") || !strings.Contains(out, "u02@example.org: equal") ||
		!strings.HasSuffix(strings.TrimSpace(out), "all 2 users equal") {
		t.Fatalf("compare after the full run: exit %d\n%s\n%s", code, out, errOut)
	}
	rows := readCSVByUser(t, filepath.Join(e.state, reportsDir, migrate.CompareCSV))
	if rows["u01@example.org"][1] != "equal" || rows["u02@example.org"][1] != "equal" {
		t.Errorf("compare.csv: %v", rows)
	}

	// One message deleted on u02's target.
	expungeFirst(t, e.d.Addr, "u02", e.pass["u02"], "INBOX")

	out, errOut, code = e.run("migrate", "compare", e.plan)
	last := lastLine(out)
	if code != exitPartial || !strings.Contains(out, "u01@example.org: equal") ||
		!strings.Contains(out, "u02@example.org: differs: 1 missing, 0 duplicates, 0 flags, 0 content, 0 extra") ||
		!strings.Contains(out, "u03@example.org: not migrated yet") ||
		!strings.Contains(last, "NOT all users equal: 2 of 3") || !strings.Contains(last, "u02@example.org") ||
		!strings.Contains(last, "u03@example.org") || strings.Contains(last, "u01@example.org") {
		t.Fatalf("compare after a deletion: exit %d\n%s\n%s", code, out, errOut)
	}
	rows = readCSVByUser(t, filepath.Join(e.state, reportsDir, migrate.CompareCSV))
	if r := rows["u02@example.org"]; r[1] != "differs" || r[2] != "1" {
		t.Errorf("compare.csv u02: %v", r)
	}
	if r := rows["u03@example.org"]; r[1] != "not migrated yet" {
		t.Errorf("compare.csv u03: %v", r)
	}

	// --json: a line per user, then the result.
	out, errOut, code = e.run("--json", "migrate", "compare", e.plan)
	if code != exitPartial {
		t.Fatalf("--json: exit %d\n%s\n%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("--json: %d lines, want 4\n%s", len(lines), out)
	}
	results := map[string]string{}
	for _, l := range lines[:3] {
		var u struct {
			Event, User, Result string
			Missing             int
			Targets             []json.RawMessage
		}
		if err := json.Unmarshal([]byte(l), &u); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		if u.Event != "user" {
			t.Errorf("event %q: %s", u.Event, l)
		}
		results[u.User] = u.Result
		if u.User == "u02@example.org" && (u.Missing != 1 || len(u.Targets) != 2) {
			t.Errorf("u02: %s", l)
		}
	}
	if results["u01@example.org"] != "equal" || results["u02@example.org"] != "differs" || results["u03@example.org"] != "not migrated yet" {
		t.Errorf("--json results: %v", results)
	}
	var res struct {
		Event  string
		Users  int
		Equal  int
		Differ []string
	}
	if err := json.Unmarshal([]byte(lines[3]), &res); err != nil || res.Event != "result" || res.Users != 3 || res.Equal != 1 || len(res.Differ) != 2 {
		t.Errorf("--json result %+v (%v): %s", res, err, lines[3])
	}

	// A refused login: that user could not be compared, the exit code
	// is the cause's (authentication), the others still compared.
	e.setPassword("u01", "wrong")
	out, errOut, code = e.run("migrate", "compare", e.plan, only)
	if code != cause.ExitAuth || !strings.Contains(out, "u01@example.org: could not compare:") ||
		!strings.Contains(out, "u02@example.org: differs: 1 missing") {
		t.Fatalf("compare with a wrong password: exit %d\n%s\n%s", code, out, errOut)
	}
	if r := readCSVByUser(t, filepath.Join(e.state, reportsDir, migrate.CompareCSV))["u01@example.org"]; r[1] != "could not compare" || r[8] == "" {
		t.Errorf("compare.csv u01: %v", r)
	}
}

// expungeFirst deletes the first message of mailbox on the IMAP server
// at addr.
func expungeFirst(t *testing.T, addr, user, pass, mailbox string) {
	t.Helper()
	c := testservers.IMAPLogin(t, addr, user, pass)
	defer func() { c.Logout().Wait() }()
	if _, err := c.Select(mailbox, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
}
