package migrate

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/progress"
)

// TestManyUsersWrongPassword: twelve users through export, local
// transfer and IMAP import, four at once; one user's target password is
// wrong: that user fails permanently after one login, every other user
// has every message exactly once, and the summary and exit code say the
// run is partial. A second run does nothing more.
func TestManyUsersWrongPassword(t *testing.T) {
	e := newEnv(t, 12)
	e.wrong["user05"] = true
	var events atomic.Int64
	var withUser atomic.Int64
	job := e.job(Full)
	job.Progress = func(ev progress.Event) {
		events.Add(1)
		if ev.User != "" {
			withUser.Add(1)
		}
	}
	res, err := Run(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range res.Users {
		if u.User.Login == "user05" {
			if u.Status != FailedPerm || u.State.ErrorClass != string(ClassAuth) {
				t.Errorf("user05: %s (%s: %s), want failed-permanent for authentication", u.Status, u.State.ErrorClass, u.State.Error)
			}
			if n := e.logins["user05"].Load(); n != 1 {
				t.Errorf("user05: %d logins tried, want 1 (an authentication failure is never retried)", n)
			}
			continue
		}
		if u.Status != Done {
			t.Errorf("%s: %s (%s), want done", u.User.Name, u.Status, u.State.Error)
		}
		e.exactlyOnce(u.User)
		if len(u.State.Archives) != 1 || u.State.Archives[0].Transferred == "" || u.State.Counts.Messages != len(e.sourceHeads(u.User.Name)) {
			t.Errorf("%s: state %+v: want one transferred archive and the user's message count", u.User.Name, u.State)
		}
	}
	// The one user left failed for authentication: a re-run changes
	// nothing until the password is fixed.
	if res.ExitCode() != ExitPermanent {
		t.Errorf("exit code %d, want %d", res.ExitCode(), ExitPermanent)
	}
	sum := strings.TrimSpace(res.Summary())
	last := sum[strings.LastIndex(sum, "\n")+1:]
	if !strings.Contains(last, "NOT all users done: 11 of 12 done") || !strings.Contains(last, "1 failed-permanent") {
		t.Errorf("summary's last line %q", last)
	}
	if events.Load() == 0 || withUser.Load() != events.Load() {
		t.Errorf("%d progress events, %d with a user: want every one to name its user", events.Load(), withUser.Load())
	}

	// The reports: a line per user, and a failures file that is a users
	// list holding user05 alone.
	dir := t.TempDir()
	if err := res.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, filepath.Join(dir, FailuresCSV))
	if len(rows) != 2 || strings.Join(rows[0], ",") != strings.Join(UserColumns, ",") || rows[1][0] != "user05@example.org" || rows[1][1] != "user05" {
		t.Errorf("failures file %q: want the header and user05's row", rows)
	}
	if rows := readCSV(t, filepath.Join(dir, ReportCSV)); len(rows) != 13 {
		t.Errorf("users report has %d lines, want 13", len(rows))
	}
	if page, err := os.ReadFile(filepath.Join(dir, ReportHTML)); err != nil || !strings.Contains(string(page), "user05@example.org</td><td>failed-permanent") {
		t.Errorf("summary page: %v\n%s", err, page)
	}

	// Again, password fixed, without --retry-failed: user05 is left as
	// it is; with it, user05 is done and nobody else is touched.
	e.wrong["user05"] = false
	res, err = Run(context.Background(), e.job(Full))
	if err != nil {
		t.Fatal(err)
	}
	if n := res.Count(FailedPerm); n != 1 || e.logins["user05"].Load() != 1 {
		t.Errorf("a re-run without RetryFailed: %d failed-permanent, user05 logged in %d times; want 1 and 1", n, e.logins["user05"].Load())
	}
	job = e.job(Full)
	job.RetryFailed = true
	res, err = Run(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode() != ExitOK || !strings.HasSuffix(strings.TrimSpace(res.Summary()), "all 12 users done") {
		t.Errorf("after --retry-failed: exit %d, summary %q", res.ExitCode(), res.Summary())
	}
	for _, u := range res.Users {
		if u.User.Login != "user05" && !u.Skipped {
			t.Errorf("%s was worked on again", u.User.Name)
		}
		e.exactlyOnce(u.User)
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestCancelAndRunAgain: a run cancelled while users are importing leaves
// no user done that is not, and the next run finishes every user with
// every message exactly once.
func TestCancelAndRunAgain(t *testing.T) {
	e := newEnv(t, 8)
	e.batchMessage = 1 // many commands, so the cancel lands mid-import
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	job := e.job(Full)
	var imported atomic.Int64
	job.Progress = func(ev progress.Event) {
		if ev.Stage == "import" && imported.Add(1) == 10 {
			cancel()
		}
	}
	res, err := Run(ctx, job)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: err %v, want context.Canceled", err)
	}
	for _, u := range res.Users {
		switch u.Status {
		case Done:
			e.exactlyOnce(u.User)
		case Queued:
		default:
			t.Errorf("%s stands %s after a cancel, want queued or done", u.User.Name, u.Status)
		}
	}
	if res.Count(Done) == len(res.Users) {
		t.Fatal("the cancel came after every user was done: the test proves nothing")
	}
	res, err = Run(context.Background(), e.job(Full))
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode() != ExitOK {
		t.Fatalf("second run: %s", res.Summary())
	}
	for _, u := range res.Users {
		e.exactlyOnce(u.User)
	}
}

// TestDeltaAddsOnlyNewMail: a full pass, new mail at the source, then a
// delta pass: each user gets its new messages alone, from a delta archive
// exported since the full one.
func TestDeltaAddsOnlyNewMail(t *testing.T) {
	e := newEnv(t, 4)
	res, err := Run(context.Background(), e.job(Full))
	if err != nil || res.ExitCode() != ExitOK {
		t.Fatalf("full: %v\n%s", err, res.Summary())
	}
	time.Sleep(1100 * time.Millisecond) // new mail is later than the full export began
	for i, u := range e.users {
		e.addMail(u.Name, "", time.Now())
		if i%2 == 0 {
			e.addMail(u.Name, ".Sent", time.Now())
		}
	}
	res, err = Run(context.Background(), e.job(Delta))
	if err != nil || res.ExitCode() != ExitOK {
		t.Fatalf("delta: %v\n%s", err, res.Summary())
	}
	for i, u := range res.Users {
		e.exactlyOnce(u.User)
		a := u.State.Archives
		if len(a) != 2 || a[0].Delta || !a[1].Delta {
			t.Fatalf("%s: archives %+v, want the full one and a delta", u.User.Name, a)
		}
		want := 1 + (i+1)%2
		if a[1].Items != want {
			t.Errorf("%s: the delta holds %d items, want %d (the new mail alone)", u.User.Name, a[1].Items, want)
		}
	}
	// The same delta pass again does nothing.
	res, err = Run(context.Background(), e.job(Delta))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range res.Users {
		if !u.Skipped || len(u.State.Archives) != 2 {
			t.Errorf("%s: a delta run again worked on the user (%d archives)", u.User.Name, len(u.State.Archives))
		}
	}
}

// TestSharedConnectionCap: eight users importing four at once, each
// allowed four connections, share one cap of two append connections at
// the server: counted at a proxy before Dovecot, never more than the cap
// plus one control connection per user importing.
func TestSharedConnectionCap(t *testing.T) {
	e := newEnv(t, 8)
	p := startCountingProxy(t, e.d.Addr)
	e.addr = p.ln.Addr().String()
	e.connections, e.batchMessage = 4, 1
	e.servers = &Servers{ConnsPerServer: 2}
	job := e.job(Full)
	res, err := Run(context.Background(), job)
	if err != nil || res.ExitCode() != ExitOK {
		t.Fatalf("%v\n%s", err, res.Summary())
	}
	maxOpen, total := p.stats()
	t.Logf("%d connections in all, at most %d at once", total, maxOpen)
	if limit := 2 + job.UsersAtOnce; maxOpen > limit {
		t.Errorf("%d connections open at once at the server, want at most %d (2 shared + one control per user)", maxOpen, limit)
	}
	if total < 2*len(e.users) {
		t.Errorf("only %d connections in all: the users did not import through the proxy", total)
	}
	for _, u := range res.Users {
		e.exactlyOnce(u.User)
	}
}
