package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/mbox"
	"github.com/mailhaul/mailhaul/migrate"
	"github.com/mailhaul/mailhaul/migrate/lease"
	migrateplan "github.com/mailhaul/mailhaul/migrate/plan"
)

// statusPlan writes a plan of three mbox users (alice holding two
// messages) and returns its path.
func statusPlan(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	msg := "From a@example.org Mon Jan  1 00:00:00 2024\nFrom: a@example.org\nSubject: hi\nMessage-ID: <%d@x>\n\nbody\n\n"
	writeFiles(t, dir, map[string]string{
		"plan.toml": `[source]
kind = "mbox"
root = "mail"
path = "{localpart}.mbox"

[archive]
dir = "archives"

[target.imap]
url = "imap://127.0.0.1:1"
password_file = "secrets/{login}.pw"

[limits]
users = 2

[users]
file = "users.csv"
`,
		"users.csv":       "source,target,size\nalice@example.org,alice,1MB\nbob@example.org,bob,2MB\ncarol@example.org,carol,\n",
		"mail/alice.mbox": strings.ReplaceAll(msg, "%d", "1") + strings.ReplaceAll(msg, "%d", "2"),
		"mail/bob.mbox":   "", "mail/carol.mbox": "",
		"secrets/alice.pw": "x\n", "secrets/bob.pw": "x\n", "secrets/carol.pw": "x\n",
	})
	return filepath.Join(dir, "plan.toml")
}

// The engine exports alice (the export part of the full pass, its own
// state files); migrate status then shows alice done, the others queued,
// bob held by a live lease, and an ETA from alice's rate; --json the same
// as one object.
func TestMigrateStatus(t *testing.T) {
	path := statusPlan(t)
	p, err := migrateplan.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	users := migrateUsers(p)
	job := migrate.Job{Users: users, Only: []string{"alice@example.org"}, Stage: migrate.Full, Part: migrate.ExportOnly,
		StateDir: p.Archive.State, ArchiveDir: p.Archive.Dir,
		Steps: migrate.Steps{Export: func(_ context.Context, u migrate.User, _ string) (export.Job, error) {
			src := filepath.Join(filepath.Dir(path), "mail", strings.Split(u.Name, "@")[0]+".mbox")
			return export.Job{Kind: "mbox", Path: src, Source: &mbox.Source{Path: src}}, nil
		}}}
	res, err := migrate.Run(context.Background(), job)
	if err != nil || res.Count(migrate.Done) != 1 {
		t.Fatalf("export part: %v\n%s", err, res.Summary())
	}
	l, _, err := lease.Acquire(context.Background(), lease.Options{Dir: filepath.Join(p.Archive.State, leaseDir), Shard: 3, Host: "worker-7"}, "bob@example.org")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()

	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"migrate", "status", path}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	got := out.String()
	for _, want := range []string{
		"pass full: 3 users",
		"alice@example.org  done",
		"held by host worker-7 pid",
		"users: 2 queued, 1 done; 2 messages, ",
		"ETA: ", "2 users left", "1 without a size",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "unknown") {
		t.Errorf("a rate was measured, yet the ETA is unknown:\n%s", got)
	}

	out.Reset()
	if code := run(context.Background(), []string{"--json", "migrate", "status", path}, &out, &errOut); code != exitOK {
		t.Fatalf("--json: exit %d\n%s", code, errOut.String())
	}
	var js statusResult
	if err := json.Unmarshal(out.Bytes(), &js); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if js.Pass != "full" || len(js.Users) != 3 || js.Count[migrate.Done] != 1 || js.Count[migrate.Queued] != 2 ||
		js.Messages != 2 || js.ETASeconds == nil || !js.ETA.Known || js.ETA.Left != 2 || js.ETA.LeftBytes != 2_000_000 {
		t.Errorf("--json: %+v (eta %+v)", js, js.ETA)
	}
	if js.Users[1].Holder == "" || js.Users[0].Status != migrate.Done || js.Users[0].Estimated != 1_000_000 {
		t.Errorf("--json users: %+v", js.Users)
	}
}

// Before any run: every user queued and the ETA unknown, not guessed.
func TestMigrateStatusNothingYet(t *testing.T) {
	path := statusPlan(t)
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"migrate", "status", path}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if got := out.String(); !strings.Contains(got, "users: 3 queued; 0 messages") || !strings.Contains(got, "ETA: unknown (3 users left") {
		t.Errorf("output:\n%s", got)
	}
}
