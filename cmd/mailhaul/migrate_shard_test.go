package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/internal/cause"
	"github.com/mailhaul/mailhaul/migrate"
)

// shardRun is one migrate run process of a sharded night, started as an
// Indexed Job starts it: the index in the environment.
type shardRun struct {
	cmd   *exec.Cmd
	lines *bufio.Scanner
	users []string // the users its "user" events named
	done  chan struct{}
	tail  strings.Builder // stdout after what the test read, and stderr
}

func (e *runEnv) startShard(index, count int, args ...string) *shardRun {
	e.t.Helper()
	cmd := exec.Command(e.bin, append([]string{"migrate", "run", e.plan, "--stage", "full", "--json",
		"--shard-count", fmt.Sprint(count)}, args...)...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("JOB_COMPLETION_INDEX=%d", index))
	out, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	r := &shardRun{cmd: cmd, lines: bufio.NewScanner(out), done: make(chan struct{})}
	r.lines.Buffer(nil, 1<<20)
	e.t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Kill()
		cmd.Wait()
	})
	return r
}

// next reads the run's JSON lines until one passes want; false at the
// end of its output.
func (r *shardRun) next(want func(ev runEvent) bool) bool {
	for r.lines.Scan() {
		var ev runEvent
		if json.Unmarshal(r.lines.Bytes(), &ev) != nil {
			r.tail.Write(r.lines.Bytes())
			r.tail.WriteByte('\n')
			continue
		}
		if ev.Event == "user" {
			r.users = append(r.users, ev.User)
		}
		if want(ev) {
			return true
		}
	}
	return false
}

// wait reads the rest and returns the exit code.
func (r *shardRun) wait() int {
	r.next(func(runEvent) bool { return false })
	r.cmd.Wait()
	return r.cmd.ProcessState.ExitCode()
}

type runEvent struct {
	Event  string `json:"event"`
	User   string `json:"user"`
	Status string `json:"status"`
}

// statusJSON runs migrate status --json.
func (e *runEnv) statusJSON(args ...string) statusResult {
	e.t.Helper()
	out, errOut, code := e.run(append([]string{"--json", "migrate", "status", e.plan}, args...)...)
	if code != 0 {
		e.t.Fatalf("migrate status: exit %d\n%s\n%s", code, out, errOut)
	}
	var st statusResult
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		e.t.Fatalf("migrate status --json: %v\n%s", err, out)
	}
	return st
}

// TestMigrateShardsStatusAndCompare: a night of six users run as two
// shard processes on one state directory, against the real Dovecot and
// Radicale. While shard 1 is stopped in the middle of its users (SIGSTOP:
// its leases still live), migrate status shows every user once with the
// shard that runs it, the leases shard 1 holds, each shard's counts, and
// the ETA of the slowest shard from the rate shard 0 measured. When both
// have ended: every user done, the shard count read from the records.
// Then migrate compare per shard compares exactly that shard's users
// into its own report, and without shard flags every user of the plan.
func TestMigrateShardsStatusAndCompare(t *testing.T) {
	e := newRunEnv(t, 6)
	s0 := e.startShard(0, 2)
	if code := s0.wait(); code != 0 {
		t.Fatalf("shard 0: exit %d\n%s", code, s0.tail.String())
	}
	s1 := e.startShard(1, 2)
	if !s1.next(func(ev runEvent) bool { return ev.Event == "progress" && ev.Status == string(migrate.Exporting) }) {
		t.Fatalf("shard 1 ended before it exported anyone: exit %d\n%s", s1.wait(), s1.tail.String())
	}
	if err := s1.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}

	shardOf := map[string]int{}
	for _, u := range s0.users {
		shardOf[u] = 0
	}
	if len(s0.users) != 3 {
		t.Fatalf("shard 0 did %v, want 3 users", s0.users)
	}
	mid := e.statusJSON()
	if mid.Shards != 2 || len(mid.ByShard) != 2 || len(mid.Users) != 6 {
		t.Fatalf("status mid-night: %d shards, %d by shard, %d users: %+v", mid.Shards, len(mid.ByShard), len(mid.Users), mid)
	}
	seen := map[string]bool{}
	held, working := 0, 0
	for _, u := range mid.Users {
		if seen[u.User] {
			t.Errorf("%s is listed twice", u.User)
		}
		seen[u.User] = true
		want := 1
		if _, ok := shardOf[u.User]; ok {
			want = 0
		}
		if u.Shard == nil || *u.Shard != want {
			t.Errorf("%s: shard %v, want %d", u.User, u.Shard, want)
		}
		if want == 0 && (u.Status != migrate.Done || u.Holder != "" || u.Messages != 6) {
			t.Errorf("%s (shard 0): %+v, want done with 6 messages and no holder", u.User, u)
		}
		if u.Holder != "" {
			held++
			if !strings.Contains(u.Holder, "(shard 1)") || !strings.Contains(u.Holder, fmt.Sprintf("pid %d ", s1.cmd.Process.Pid)) {
				t.Errorf("%s: held by %q, want shard 1's process %d", u.User, u.Holder, s1.cmd.Process.Pid)
			}
		}
		if want == 1 && u.Status != migrate.Queued && !u.Status.Finished() {
			working++
			if u.Holder == "" {
				t.Errorf("%s is %s, yet nobody holds it", u.User, u.Status)
			}
		}
	}
	// A user taken but not yet started is held and still queued.
	if held == 0 || held < working || mid.Held != held || mid.ByShard[1].Held != held || mid.ByShard[0].Held != 0 {
		t.Errorf("leases: %d held (%d working; status says %d, by shard %+v)", held, working, mid.Held, mid.ByShard)
	}
	b0 := mid.ByShard[0]
	if b0.Users != 3 || b0.Count[migrate.Done] != 3 || !b0.ETA.Known || b0.ETA.Left != 0 || mid.ByShard[1].Users != 3 {
		t.Errorf("by shard: %+v", mid.ByShard)
	}
	left := 3 - mid.ByShard[1].Count[migrate.Done]
	if !mid.ETA.Known || mid.ETA.Shards != 2 || mid.ETA.Left != left || mid.ETASeconds == nil || left == 0 ||
		*mid.ETASeconds != mid.ByShard[1].ETA.Seconds || mid.Count[migrate.Done] != 6-left {
		t.Errorf("the night's ETA %+v (seconds %v), want known from shard 0's rate, %d left, shard 1's: %+v", mid.ETA, mid.ETASeconds, left, mid.ByShard[1].ETA)
	}
	text, _, code := e.run("migrate", "status", e.plan)
	for _, want := range []string{"SHARD  USER", "shard 0 of 2: 3 users: 3 done; 0 held; ETA: nothing left",
		"shard 1 of 2: 3 users: ", fmt.Sprintf("; %d held; ETA: ", held), fmt.Sprintf("%d held by a worker now", held),
		"the slowest of 2 shards", "(shard 1)"} {
		if code != 0 || !strings.Contains(text, want) {
			t.Errorf("status text (exit %d) lacks %q:\n%s", code, want, text)
		}
	}

	if err := s1.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if code := s1.wait(); code != 0 {
		t.Fatalf("shard 1: exit %d\n%s", code, s1.tail.String())
	}
	for _, u := range s1.users {
		if _, ok := shardOf[u]; ok {
			t.Errorf("%s was done by both shards", u)
		}
		shardOf[u] = 1
	}
	if len(shardOf) != 6 {
		t.Fatalf("the shards did %v, want 6 users", shardOf)
	}

	end := e.statusJSON()
	if end.Shards != 2 || end.Count[migrate.Done] != 6 || end.Messages != 36 || end.Held != 0 || !end.ETA.Known || end.ETA.Left != 0 {
		t.Errorf("status after the night: %+v", end)
	}
	for _, u := range end.Users {
		if u.Shard == nil || *u.Shard != shardOf[u.User] || u.Status != migrate.Done {
			t.Errorf("%s: %+v, want done by shard %d", u.User, u, shardOf[u.User])
		}
	}

	// Compare per shard: the index from the flag and from either variable.
	reports := filepath.Join(e.state, reportsDir)
	for i, how := range [][]string{{"--shard-index", "0"}, {"JOB_COMPLETION_INDEX=1"}, {"MAILHAUL_SHARD_INDEX=0"}} {
		index := i % 2
		cmd := exec.Command(e.bin, "migrate", "compare", e.plan, "--shard-count", "2")
		cmd.Env = os.Environ()
		if strings.HasPrefix(how[0], "--") {
			cmd.Args = append(cmd.Args, how...)
		} else {
			cmd.Env = append(cmd.Env, how[0])
		}
		outb, err := cmd.Output()
		out := string(outb)
		if err != nil || !strings.HasSuffix(strings.TrimSpace(out), fmt.Sprintf("all 3 users of shard %d of 2 equal", index)) {
			t.Fatalf("compare shard %d (%v): %v\n%s", index, how, err, out)
		}
		var compared []string
		for u, s := range shardOf {
			if strings.Contains(out, u+": ") {
				compared = append(compared, u)
				if s != index {
					t.Errorf("compare of shard %d compared %s, of shard %d", index, u, s)
				}
			}
		}
		rows := readCSVByUser(t, filepath.Join(reports, fmt.Sprintf("shard-%d-of-2", index), migrate.CompareCSV))
		if len(compared) != 3 || len(rows) != 3 {
			t.Errorf("compare of shard %d: %v on the terminal, %d in its report", index, compared, len(rows))
		}
		for u, r := range rows {
			if shardOf[u] != index || r[1] != "equal" {
				t.Errorf("shard %d's compare.csv: %v", index, r)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(reports, migrate.CompareCSV)); err == nil {
		t.Errorf("a shard's compare wrote the whole night's report")
	}
	// Two sources that disagree are refused, as migrate run refuses them.
	cmd := exec.Command(e.bin, "migrate", "compare", e.plan, "--shard-count", "2", "--shard-index", "0")
	cmd.Env = append(os.Environ(), "JOB_COMPLETION_INDEX=1")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "--shard-index says 0 but JOB_COMPLETION_INDEX says 1") {
		t.Errorf("disagreeing indexes: %v\n%s", err, out)
	}

	// The whole night: every user of the plan, whichever shard ran it.
	victim := s1.users[0]
	login := strings.TrimSuffix(victim, "@example.org")
	expungeFirst(t, e.d.Addr, login, e.pass[login], "INBOX")
	out, errOut, code := e.run("migrate", "compare", e.plan)
	if code != exitPartial || !strings.Contains(out, victim+": differs: 1 missing") ||
		!strings.HasSuffix(strings.TrimSpace(out), "NOT all users equal: 1 of 6 differ, could not be compared or are not migrated yet: "+victim) {
		t.Fatalf("whole compare: exit %d\n%s\n%s", code, out, errOut)
	}
	rows := readCSVByUser(t, filepath.Join(reports, migrate.CompareCSV))
	var users []string
	for u, r := range rows {
		users = append(users, u)
		if want := map[bool]string{true: "differs", false: "equal"}[u == victim]; r[1] != want {
			t.Errorf("compare.csv %s: %v, want %s", u, r, want)
		}
	}
	slices.Sort(users)
	if len(users) != 6 || len(shardOf) != 6 {
		t.Errorf("compare.csv has %v", users)
	}
	// The shards' reports are theirs, untouched by the whole compare.
	if r := readCSVByUser(t, filepath.Join(reports, "shard-1-of-2", migrate.CompareCSV))[victim]; r == nil || r[1] != "equal" {
		t.Errorf("shard 1's report was changed: %v", r)
	}
}

// TestMigrateCompareSIGKILL kills migrate compare (the binary, SIGKILL)
// in the middle of its users, after some have been compared, and at
// seeded random times: the report left is always the last complete one
// (or, for a kill after the new one was in place, the new one, complete),
// never a part of a run; then the run to the end writes the complete and
// right report. A SIGINT stops it (130) with the report as it was.
// MAILHAUL_COMPARE_SEED=n replays the random times.
func TestMigrateCompareSIGKILL(t *testing.T) {
	const n = 8
	e := newRunEnv(t, n)
	if out, errOut, code := e.run("migrate", "run", e.plan, "--stage", "full"); code != 0 {
		t.Fatalf("migrate run: exit %d\n%s\n%s", code, out, errOut)
	}
	report := filepath.Join(e.state, reportsDir, migrate.CompareCSV)
	start := time.Now()
	if out, errOut, code := e.run("migrate", "compare", e.plan); code != 0 {
		t.Fatalf("first compare: exit %d\n%s\n%s", code, out, errOut)
	}
	span := time.Since(start)
	before, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	// What the next compare must find: u02 one message short.
	expungeFirst(t, e.d.Addr, "u02", e.pass["u02"], "INBOX")
	listing := func() []string {
		ents, err := os.ReadDir(filepath.Dir(report))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, ent := range ents {
			names = append(names, ent.Name())
		}
		return names
	}
	files := listing()
	checkComplete := func(what string, b []byte) {
		t.Helper()
		rows := readCSVByUser(t, report)
		if len(rows) != n {
			t.Errorf("%s: %d users in the report, want %d:\n%s", what, len(rows), n, b)
		}
		for _, login := range e.logins {
			r := rows[login+"@example.org"]
			want := "equal"
			if login == "u02" {
				want = "differs"
			}
			if r == nil || r[1] != want || login == "u02" && r[2] != "1" {
				t.Errorf("%s: %s's line %v, want %s", what, login, r, want)
			}
		}
	}

	// Kills after k users were compared (their lines printed), before
	// the last: the comparison is under way, not ended.
	for _, k := range []int{1, n / 2, n - 1} {
		cmd := exec.Command(e.bin, "migrate", "compare", e.plan)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		for i := 0; i < k && lines.Scan(); i++ {
			if !strings.Contains(lines.Text(), "@example.org: ") {
				t.Fatalf("kill after %d: line %q before the users were compared", k, lines.Text())
			}
		}
		cmd.Process.Kill() // SIGKILL
		cmd.Wait()
		got, err := os.ReadFile(report)
		if err != nil || string(got) != string(before) {
			t.Fatalf("killed after %d of %d users: the report is not the last complete one (%v):\n%s", k, n, err, got)
		}
		if l := listing(); !slices.Equal(l, files) {
			t.Errorf("killed after %d users: the reports directory holds %v, before %v", k, l, files)
		}
	}

	// SIGINT after the first user: stopped (130), the report as it was.
	cmd := exec.Command(e.bin, "migrate", "compare", e.plan)
	var stopErr strings.Builder
	cmd.Stderr = &stopErr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !bufio.NewScanner(pipe).Scan() {
		t.Fatal("no first line")
	}
	cmd.Process.Signal(os.Interrupt)
	io.Copy(io.Discard, pipe)
	cmd.Wait()
	if got, _ := os.ReadFile(report); cmd.ProcessState.ExitCode() != cause.ExitCancelled || string(got) != string(before) ||
		!strings.Contains(stopErr.String(), "left as it was") {
		t.Errorf("SIGINT: exit %d, %q; the report:\n%s", cmd.ProcessState.ExitCode(), stopErr.String(), got)
	}

	seed := time.Now().UnixNano()
	if s := os.Getenv("MAILHAUL_COMPARE_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (MAILHAUL_COMPARE_SEED=%d replays it); a compare took %v", seed, seed, span.Round(time.Millisecond))
	for i := range 3 {
		delay := time.Duration((seed>>(8*i))&0xff) * span / 255
		cmd := exec.Command(e.bin, "migrate", "compare", e.plan)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
			t.Logf("kill %d: the compare ended before %v", i, delay)
		case <-time.After(delay):
			cmd.Process.Kill()
			<-done
			t.Logf("kill %d: killed after %v", i, delay.Round(time.Millisecond))
		}
		got, err := os.ReadFile(report)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(before) {
			checkComplete(fmt.Sprintf("kill %d after the new report", i), got)
		}
	}

	out, errOut, code := e.run("migrate", "compare", e.plan)
	if code != exitPartial || !strings.HasSuffix(strings.TrimSpace(out), "NOT all users equal: 1 of 8 differ, could not be compared or are not migrated yet: u02@example.org") {
		t.Fatalf("the compare after the kills: exit %d\n%s\n%s", code, out, errOut)
	}
	got, _ := os.ReadFile(report)
	checkComplete("the compare after the kills", got)
	if strings.Count(out, "@example.org: ") != n {
		t.Errorf("the compare after the kills printed %d user lines, want %d:\n%s", strings.Count(out, "@example.org: "), n, out)
	}
}
