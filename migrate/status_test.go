package migrate

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// After a real run (one user's password wrong): the survey reads every
// user's standing from the files the engine wrote, with the totals, and
// a later pass sees every user still to do, with no ETA guessed.
func TestSurveyAfterRun(t *testing.T) {
	e := newEnv(t, 4)
	e.wrong["user03"] = true
	res, err := Run(context.Background(), e.job(Full))
	if err != nil {
		t.Fatal(err)
	}
	ov, err := Survey(StatusOptions{StateDir: e.state}, e.users)
	if err != nil {
		t.Fatal(err)
	}
	if ov.Pass != string(Full) || ov.Count[Done] != 3 || ov.Count[FailedPerm] != 1 || len(ov.Users) != 4 {
		t.Fatalf("pass %q, counts %v, %d users: want full, 3 done and 1 failed-permanent", ov.Pass, ov.Count, len(ov.Users))
	}
	msgs := 0
	var bytes int64
	for i, s := range ov.Users {
		r := res.Users[i]
		if s.User.Name != r.User.Name || s.Status != r.Status || s.State.Counts != r.State.Counts {
			t.Errorf("%s: survey %s %+v, run %s %+v", s.User.Name, s.Status, s.State.Counts, r.Status, r.State.Counts)
		}
		msgs += r.State.Counts.Messages
		bytes += r.State.MovedBytes()
		if s.User.Login == "user03" && (s.State.ErrorClass != string(ClassAuth) || s.State.Error == "") {
			t.Errorf("user03: class %q, error %q: want the authentication failure", s.State.ErrorClass, s.State.Error)
		}
	}
	if ov.Messages != msgs || ov.Bytes != bytes || msgs == 0 || bytes == 0 {
		t.Errorf("totals %d messages %d bytes, want %d and %d", ov.Messages, ov.Bytes, msgs, bytes)
	}
	if !ov.ETA.Known || ov.ETA.Left != 0 || ov.ETA.Seconds != 0 {
		t.Errorf("ETA %+v: want known, nothing left", ov.ETA)
	}

	next, err := Survey(StatusOptions{StateDir: e.state, Pass: "delta"}, e.users)
	if err != nil {
		t.Fatal(err)
	}
	if next.Count[Queued] != 4 || next.ETA.Known || next.ETA.Left != 4 {
		t.Errorf("delta pass: counts %v, ETA %+v: want 4 queued and the ETA unknown", next.Count, next.ETA)
	}
	if n := next.Users[0].Note; !strings.Contains(n, `done in pass "full"`) {
		t.Errorf("note %q: want the full pass's standing", n)
	}
}

// The ETA: the bytes per second of the users done in the pass, times the
// estimated sizes left (an unsized user as the mean done user), divided
// by the users at once; a user working without a holder is named.
func TestSurveyETA(t *testing.T) {
	dir := t.TempDir()
	started := time.Now().Add(-time.Hour).UTC()
	save := func(st State) {
		t.Helper()
		st.Pass, st.Stage, st.Started = "full", Full, started
		if err := saveState(dir, &st); err != nil {
			t.Fatal(err)
		}
	}
	// Two done users: 3000 bytes in 30 s = 100 B/s; mean size 1500.
	save(State{User: "a", Status: Done, Seconds: 10, Counts: Counts{Messages: 5, Bytes: 1000}})
	save(State{User: "b", Status: DoneWarnings, Seconds: 20, Counts: Counts{Messages: 7, Bytes: 2000},
		Failures: []Failure{{Step: "import imap", Item: "x", Code: "refused", Reason: "refused"}}})
	save(State{User: "c", Status: Importing})
	save(State{User: "d", Status: FailedRetry, Error: "dial tcp: connection refused", ErrorClass: string(ClassRetryable)})
	save(State{User: "e", Status: Exporting})
	users := []User{{Name: "a"}, {Name: "b"}, {Name: "c", EstimatedBytes: 4000}, {Name: "d", EstimatedBytes: 9999},
		{Name: "e"}, {Name: "f", EstimatedBytes: 2500}}
	holder := func(u string) string {
		if u == "e" {
			return "host h pid 1 (shard 0)"
		}
		return ""
	}
	ov, err := Survey(StatusOptions{StateDir: dir, UsersAtOnce: 2, Holder: holder}, users)
	if err != nil {
		t.Fatal(err)
	}
	// Left: c (4000), e (unsized: 1500), f (2500) = 8000 bytes at 100 B/s
	// per user, 2 at once: 40 s. d failed and waits for --retry-failed.
	want := ETA{Known: true, Basis: "bytes", BytesPerSecond: 100, SecondsPerUser: 15, Left: 3, Unsized: 1, LeftBytes: 6500,
		UsersAtOnce: 2, Seconds: 40}
	if ov.ETA != want {
		t.Errorf("ETA %+v\nwant %+v", ov.ETA, want)
	}
	if ov.Messages != 12 || ov.Bytes != 3000 || ov.Count[Queued] != 1 || ov.Count[Importing] != 1 || ov.Count[FailedRetry] != 1 {
		t.Errorf("totals: %d messages, %d bytes, %v", ov.Messages, ov.Bytes, ov.Count)
	}
	for _, s := range ov.Users {
		switch s.User.Name {
		case "c":
			if !strings.Contains(s.Note, "no worker holds the user") {
				t.Errorf("c: note %q: want the stopped worker named", s.Note)
			}
		case "e":
			if s.Holder != "host h pid 1 (shard 0)" || s.Note != "" {
				t.Errorf("e: holder %q note %q", s.Holder, s.Note)
			}
		}
	}

	// A state file that cannot be read: named, and the rest still read.
	if err := os.MkdirAll(userDir(dir, "f"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(userDir(dir, "f"), statusFileName), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	ov, err = Survey(StatusOptions{StateDir: dir}, users)
	if err == nil || !strings.Contains(err.Error(), "state of f") || len(ov.Users) != 6 || !strings.Contains(ov.Users[5].Note, "state not read") {
		t.Errorf("a torn state: err %v, users %d", err, len(ov.Users))
	}
}

// The exit code of a run: partial while a re-run may still change
// something (a retryable failure, a user put back in the queue),
// permanent when every user left failed permanently or has warnings;
// held when every user left is held by another worker.
func TestResultExitCode(t *testing.T) {
	res := func(ss ...Status) *Result {
		r := &Result{}
		for _, s := range ss {
			r.Users = append(r.Users, UserResult{Status: s})
		}
		return r
	}
	for _, c := range []struct {
		r    *Result
		want int
	}{
		{res(Done, Done), ExitOK},
		{res(Done, FailedPerm), ExitPermanent},
		{res(Done, FailedPerm, DoneWarnings), ExitPermanent},
		{res(Done, DoneWarnings), ExitPartial},
		{res(Done, FailedPerm, FailedRetry), ExitPartial},
		{res(FailedPerm, Queued), ExitPartial},
		// Held by another worker at the end of the wait: not finished,
		// not failed; anything of the run's own comes first.
		{res(Done, Held), ExitHeld},
		{res(Done, Held, FailedRetry), ExitPartial},
		{res(Done, Held, DoneWarnings), ExitPartial},
		{res(Done, Held, FailedPerm), ExitPartial},
	} {
		if got := c.r.ExitCode(); got != c.want {
			t.Errorf("%v: exit %d, want %d", c.r.Users, got, c.want)
		}
	}
}

// The HTML page escapes what users and servers wrote: a user name or an
// error holding markup shows as text; users not done come first.
func TestWriteHTMLEscapes(t *testing.T) {
	evil := `<script>alert("x")</script>@example.org`
	r := &Result{Job: Job{Stage: Full}, Users: []UserResult{
		{User: User{Name: "ok@example.org"}, Status: Done, State: State{Counts: Counts{Messages: 3}}},
		{User: User{Name: evil}, Status: FailedPerm, State: State{Error: `NO [AUTHENTICATIONFAILED] <img src=x onerror=alert(1)>`, ErrorClass: "authentication"}},
		{User: User{Name: "w@example.org"}, Status: DoneWarnings, State: State{Failures: []Failure{{Item: `INBOX/<b>1</b>`, Code: "refused", Reason: "refused"}}}},
	}}
	var b strings.Builder
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<script>alert", "<img src=x", "<b>1</b>"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q unescaped:\n%s", bad, page)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;@example.org", "&lt;img src=x onerror=alert(1)&gt;",
		"INBOX/&lt;b&gt;1&lt;/b&gt; (refused)", "NOT all users done: 1 of 3 done", "<li>1 failed-permanent</li>"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q:\n%s", want, page)
		}
	}
	if i, j := strings.Index(page, "w@example.org"), strings.Index(page, "ok@example.org"); i < 0 || j < i {
		t.Errorf("users not done should come before done ones:\n%s", page)
	}
}

// A sharded night: each user's shard is computed as migrate run computes
// it (or read from its record), the shard count comes from the records,
// each shard has its counts and ETA, and the night's ETA is the slowest
// shard's, with the rate measured over all of them.
func TestSurveyShards(t *testing.T) {
	dir := t.TempDir()
	save := func(st State, shard int) {
		t.Helper()
		st.Pass, st.Stage, st.Shard = "full", Full, &Shard{Index: shard, Count: 2}
		if err := saveState(dir, &st); err != nil {
			t.Fatal(err)
		}
	}
	users := []User{{Name: "a", EstimatedBytes: 6000}, {Name: "b", EstimatedBytes: 5000}, {Name: "c", EstimatedBytes: 4000},
		{Name: "d", EstimatedBytes: 3000}, {Name: "e", EstimatedBytes: 2000}, {Name: "f", EstimatedBytes: 1000}}
	shares, err := Shares(users, 2)
	if err != nil {
		t.Fatal(err)
	}
	// By size, largest first, to the lighter shard: {a, d, e} and {b, c, f}.
	if !slices.Equal(shares[0], []int{0, 3, 4}) || !slices.Equal(shares[1], []int{1, 2, 5}) {
		t.Fatalf("shares %v", shares)
	}
	// 100 bytes per second each.
	save(State{User: "a", Status: Done, Seconds: 60, Counts: Counts{Messages: 6, Bytes: 6000}}, 0)
	save(State{User: "d", Status: Done, Seconds: 30, Counts: Counts{Messages: 3, Bytes: 3000}}, 0)
	save(State{User: "e", Status: Exporting}, 0)
	save(State{User: "b", Status: Done, Seconds: 50, Counts: Counts{Messages: 5, Bytes: 5000}}, 1)
	save(State{User: "c", Status: Importing}, 0) // worked on by shard 0 before the users changed
	holder := func(u string) string {
		if u == "e" {
			return "host h pid 1 (shard 0)"
		}
		return ""
	}
	ov, err := Survey(StatusOptions{StateDir: dir, UsersAtOnce: 2, Holder: holder, Assign: true}, users)
	if err != nil {
		t.Fatal(err)
	}
	if ov.Shards != 2 || len(ov.ByShard) != 2 || ov.Held != 1 {
		t.Fatalf("%d shards, %d held: %+v", ov.Shards, ov.Held, ov.ByShard)
	}
	for i, s := range ov.Users {
		want := 0
		if slices.Contains(shares[1], i) {
			want = 1
		}
		if s.Shard != want {
			t.Errorf("%s: shard %d, want %d", s.User.Name, s.Shard, want)
		}
	}
	if c := ov.Users[2]; !strings.Contains(c.Note, "worked on by shard 0") {
		t.Errorf("c: note %q, want the shard that worked on it", c.Note)
	}
	s0, s1 := ov.ByShard[0], ov.ByShard[1]
	// Shard 0: e left (2000 bytes) at 100 B/s, 2 at once: 10 s. Shard 1:
	// c and f (5000 bytes): 25 s. The night: the slowest, 25 s.
	if s0.Users != 3 || s0.Count[Done] != 2 || s0.Held != 1 || s0.ETA.Seconds != 10 || s0.ETA.Left != 1 ||
		s1.Users != 3 || s1.Count[Done] != 1 || s1.Held != 0 || s1.ETA.Seconds != 25 || s1.ETA.Left != 2 {
		t.Errorf("by shard: %+v", ov.ByShard)
	}
	want := ETA{Known: true, Basis: "bytes", BytesPerSecond: 100, SecondsPerUser: 140.0 / 3, Left: 3, LeftBytes: 7000,
		UsersAtOnce: 2, Seconds: 25, Shards: 2}
	if ov.ETA != want {
		t.Errorf("ETA %+v\nwant %+v", ov.ETA, want)
	}

	// One process for all: 7000 bytes, 2 at once, 35 s.
	one, err := Survey(StatusOptions{StateDir: dir, UsersAtOnce: 2, Shards: 1, Assign: true}, users)
	if err != nil || one.Shards != 1 || one.ByShard != nil || one.ETA.Seconds != 35 || one.Users[0].Shard != -1 {
		t.Errorf("without shards: %v, %+v", err, one.ETA)
	}

	// Without Assign (users known only from the records): each user's
	// shard is its record's; f, with none, counts spread over the shards.
	rec, err := Survey(StatusOptions{StateDir: dir, UsersAtOnce: 2}, users)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Users[2].Shard != 0 || rec.Users[5].Shard != -1 || rec.ByShard[0].Users != 4 || rec.ByShard[1].Users != 1 {
		t.Errorf("from the records: c %d, f %d, by shard %+v", rec.Users[2].Shard, rec.Users[5].Shard, rec.ByShard)
	}
	// Shard 0: e and c, 6000 bytes: 30 s; all left (7000) over 4 at once: 18 s.
	if rec.ETA.Seconds != 30 {
		t.Errorf("ETA from the records: %+v", rec.ETA)
	}
}
