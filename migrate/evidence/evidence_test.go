package evidence

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/internal/mutf7"
	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/internal/usergen"
	"github.com/mailhaul/mailhaul/migrate"
)

// TestMain makes the test binary a migration worker when
// EVIDENCE_CONFIG is set.
func TestMain(m *testing.M) {
	if os.Getenv("EVIDENCE_CONFIG") != "" {
		os.Exit(workerMain())
	}
	os.Exit(m.Run())
}

const corpus = "../../testdata/corpus"

// world is a generated migration: its users, the servers, and the
// config file its workers read.
type world struct {
	t     *testing.T
	cfg   config
	path  string
	d     *testservers.Dovecot
	r     *testservers.Radicale
	users []usergen.User
	// bin and plan, when set, make the workers "mailhaul migrate run
	// plan" processes instead of this binary's in-process engine.
	bin, plan string
}

func newWorld(t *testing.T, o usergen.Options, shards int) *world {
	t.Helper()
	root := t.TempDir()
	o.Dir = filepath.Join(root, "src")
	o.Corpus = corpus
	users, err := usergen.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	pass := map[string]string{}
	for _, u := range users {
		pass[u.Login] = "pw-" + u.Login
	}
	w := &world{t: t, users: users, path: filepath.Join(root, "config.json")}
	w.d = testservers.StartDovecot(t, pass)
	w.r = testservers.StartRadicale(t, pass)
	w.cfg = config{Users: users, Passwords: pass, IMAPAddr: w.d.Addr, DAVURL: w.r.URL, StateDir: filepath.Join(root, "state"),
		Archives: filepath.Join(root, "archives"), UsersAtOnce: 4, Shards: shards, LeaseTTL: 3 * time.Second}
	return w
}

// useBinary makes the world's workers "mailhaul migrate run" processes
// of a plan usergen writes for it (its archives and state then where the
// plan puts them).
func (w *world) useBinary(usersAtOnce int) {
	t := w.t
	t.Helper()
	dir := filepath.Dir(w.path)
	w.bin = filepath.Join(dir, "mailhaul")
	build := exec.Command("go", "build", "-o", w.bin, "github.com/mailhaul/mailhaul/cmd/mailhaul")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	w.cfg.Archives = filepath.Join(dir, "archives")
	w.cfg.StateDir = filepath.Join(w.cfg.Archives, "state")
	plan, err := usergen.WritePlan(dir, w.users, usergen.PlanOptions{Root: filepath.Join(dir, "src"), Archives: w.cfg.Archives,
		IMAPURL: "imap://" + w.d.Addr, DAVURL: w.r.URL, Password: func(l string) string { return w.cfg.Passwords[l] }, UsersAtOnce: usersAtOnce})
	if err != nil {
		t.Fatal(err)
	}
	w.plan = plan
}

// worker starts one worker process of stage with the given shard index
// ("" for none).
func (w *world) worker(stage migrate.Stage, index string) (*exec.Cmd, *bytes.Buffer) {
	w.t.Helper()
	w.cfg.Stage = stage
	b, _ := json.Marshal(w.cfg)
	// Through a rename: a worker started a moment ago may be reading it
	// (a truncated file read as "unexpected end of JSON input").
	if err := os.WriteFile(w.path+".tmp", b, 0o600); err != nil {
		w.t.Fatal(err)
	}
	if err := os.Rename(w.path+".tmp", w.path); err != nil {
		w.t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "EVIDENCE_CONFIG="+w.path)
	if w.bin != "" {
		cmd = exec.Command(w.bin, "migrate", "run", w.plan, "--stage", string(stage))
		cmd.Env = os.Environ()
	}
	if index != "" {
		cmd.Env = append(cmd.Env, "JOB_COMPLETION_INDEX="+index)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	return cmd, &out
}

// wait waits for a worker and returns its exit code and worked line.
func (w *world) wait(cmd *exec.Cmd, out *bytes.Buffer) (int, worked) {
	w.t.Helper()
	err := cmd.Wait()
	var res worked
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	json.Unmarshal([]byte(lines[len(lines)-1]), &res)
	if err != nil && cmd.ProcessState.ExitCode() < 0 {
		return -1, res
	}
	return cmd.ProcessState.ExitCode(), res
}

// pass runs stage to the end, SIGKILLing the worker up to kills times at
// moments drawn from rng, each logged, then running it once more (the
// run an operator makes after a crash), which must finish every user.
func (w *world) pass(stage migrate.Stage, kills int, rng *rand.Rand) {
	w.t.Helper()
	for k := 0; k < kills; k++ {
		delay := time.Duration(300+rng.IntN(5000)) * time.Millisecond
		cmd, out := w.worker(stage, "")
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		select {
		case <-exited:
			w.t.Logf("%s: run %d finished before its kill at %v", stage, k+1, delay)
			continue
		case <-time.After(delay):
		}
		cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		w.t.Logf("%s: run %d SIGKILLed after %v (%d lines of output)", stage, k+1, delay, strings.Count(out.String(), "\n"))
	}
	// No wait for the killed runs' leases: a lease whose holder ran on
	// this host and is gone is taken over at once (migrate/lease).
	start := time.Now()
	cmd, out := w.worker(stage, "")
	code, _ := w.wait(cmd, out)
	w.t.Logf("%s: the last run took %v", stage, time.Since(start).Round(time.Millisecond))
	if code != migrate.ExitOK {
		w.t.Fatalf("%s: the run after the kills: exit %d\n%s", stage, code, out)
	}
}

// mailbox is a Maildir++ folder's name as an IMAP listing shows it,
// with "." between levels.
func mailbox(folder string) string {
	if folder == "" {
		return "INBOX"
	}
	name, err := mutf7.Decode(strings.TrimPrefix(folder, "."))
	if err != nil {
		return folder
	}
	return name
}

var flagNames = map[rune]string{'D': `\Draft`, 'F': `\Flagged`, 'R': `\Answered`, 'S': `\Seen`, 'T': `\Deleted`}

// sourceMail is every message of u's Maildir by first line: its mailbox
// and its flags.
func sourceMail(t *testing.T, u usergen.User) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(u.Maildir, func(p string, d fs.DirEntry, err error) error {
		sub := filepath.Base(filepath.Dir(p))
		if err != nil || d.IsDir() || (sub != "cur" && sub != "new") {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		head, _ := bufio.NewReader(f).ReadString('\n')
		f.Close()
		folder, _ := filepath.Rel(u.Maildir, filepath.Dir(filepath.Dir(p)))
		if folder == "." {
			folder = ""
		}
		var flags []string
		if _, info, ok := strings.Cut(d.Name(), ":2,"); ok {
			for _, c := range info {
				flags = append(flags, flagNames[c])
			}
		}
		slices.Sort(flags)
		out[strings.TrimRight(head, "\r\n")] = mailbox(folder) + " " + strings.Join(flags, ",")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkMail lists u's mailboxes on Dovecot: every source message once,
// in its folder with its flags, and nothing else.
func (w *world) checkMail(t *testing.T, u usergen.User) {
	t.Helper()
	want := sourceMail(t, u)
	got := map[string][]string{}
	for _, mb := range testservers.ReadMailboxes(t, w.d.Addr, u.Login, w.cfg.Passwords[u.Login]) {
		for _, m := range mb.Messages {
			got[m.Head] = append(got[m.Head], strings.ReplaceAll(mb.Name, "/", ".")+" "+strings.Join(m.Flags, ","))
		}
	}
	for h, where := range want {
		if len(got[h]) != 1 || got[h][0] != where {
			t.Errorf("%s: %q is on the target as %q, want once as %q", u.Name, h, got[h], where)
		}
	}
	for h, where := range got {
		if _, ok := want[h]; !ok {
			t.Errorf("%s: %q on the target (%q) is not in the source", u.Name, h, where)
		}
	}
}

// checkPIM reads u's collections in Radicale's storage: every contact and
// event UID once, and nothing else.
func (w *world) checkPIM(t *testing.T, u usergen.User) {
	t.Helper()
	got := map[string]int{}
	filepath.WalkDir(filepath.Join(w.r.Storage, "collection-root", u.Login), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".Radicale") {
			return filepath.SkipDir
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".Radicale") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Error(err)
			return nil
		}
		for _, line := range strings.Split(string(b), "\n") {
			if uid, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "UID:"); ok {
				got[uid]++
				break
			}
		}
		return nil
	})
	want := append(slices.Clone(u.ContactUIDs), u.EventUIDs...)
	for _, uid := range want {
		if got[uid] != 1 {
			t.Errorf("%s: %s is in Radicale %d times, want once", u.Name, uid, got[uid])
		}
	}
	if n := len(got); n != len(want) {
		t.Errorf("%s: %d objects in Radicale, want %d", u.Name, n, len(want))
	}
}

// checkStates reads every user's state: done, in stage, nothing failed,
// and the counts those of the source.
func (w *world) checkStates(stage migrate.Stage) {
	t := w.t
	t.Helper()
	for _, u := range w.users {
		st, err := migrate.LoadState(w.cfg.StateDir, u.Name)
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != migrate.Done || st.Stage != stage {
			t.Errorf("%s: %s in stage %s, want done in %s (%s)", u.Name, st.Status, st.Stage, stage, st.Error)
		}
		if len(st.Failures) > 0 || st.Counts.Failed > 0 {
			t.Errorf("%s: %d items failed: %+v", u.Name, st.Counts.Failed, st.Failures)
		}
		// The state counts what the user's archives carry, full and
		// deltas together.
		items := 0
		for _, a := range st.Archives {
			items += a.Items
		}
		if got := st.Counts.Messages + st.Counts.Contacts + st.Counts.Events; got != items {
			t.Errorf("%s: the state counts %d items, its archives hold %d", u.Name, got, items)
		}
		if want := map[migrate.Stage]int{migrate.Full: 1, migrate.Delta: 2}[stage]; len(st.Archives) != want {
			// The export marks itself done in the save that records its
			// archive, so no kill makes a second one.
			t.Errorf("%s: %d archives after the %s pass, want %d: exported again after a kill", u.Name, len(st.Archives), stage, want)
			continue
		}
		// Every message once (a delta carries the new ones; moves and
		// flags travel in its state record).
		if st.Counts.Messages != u.Messages {
			t.Errorf("%s: the state counts %d messages, the source has %d", u.Name, st.Counts.Messages, u.Messages)
		}
		// A delta carries a .vcf or .ics file again when it changed
		// within the overlap before the delta's start, which depends on
		// when the full export ran: only the full pass is exact.
		if stage == migrate.Full && (st.Counts.Contacts != len(u.ContactUIDs) || st.Counts.Events != len(u.EventUIDs)) {
			t.Errorf("%s: the state counts %d contacts and %d events, the source has %d and %d", u.Name,
				st.Counts.Contacts, st.Counts.Events, len(u.ContactUIDs), len(u.EventUIDs))
		}
	}
}

// checkTargets lists every user's target, one subtest a user so that
// its IMAP connection closes when its check ends.
func (w *world) checkTargets() {
	w.t.Helper()
	start := time.Now()
	for _, u := range w.users {
		w.t.Run(u.Login, func(t *testing.T) {
			w.checkMail(t, u)
			w.checkPIM(t, u)
		})
	}
	w.t.Logf("checked %d users' targets in %v", len(w.users), time.Since(start).Round(time.Millisecond))
}

// testSeed is the run's seed, logged (EVIDENCE_SEED repeats a run), and
// the random source of its kills.
func testSeed(t *testing.T) (uint64, *rand.Rand) {
	seed := uint64(time.Now().UnixNano() % 1000)
	if s := os.Getenv("EVIDENCE_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (EVIDENCE_SEED=%[1]d repeats this run)", seed)
	return seed, rand.New(rand.NewPCG(seed, 14))
}

func TestEvidenceFullDeltaKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("200 users through two passes: minutes on a loaded machine")
	}
	seed, rng := testSeed(t)
	users := 200
	if s := os.Getenv("EVIDENCE_USERS"); s != "" { // a smaller world while working on the test
		fmt.Sscan(s, &users)
	}
	w := newWorld(t, usergen.Options{Users: users, Seed: seed, MaxMessages: 60, Skew: 6, MessageBytes: 2 << 10,
		Contacts: 4, Events: 4, HostileEvery: 40, Hostile: 6}, 1)
	w.cfg.UsersAtOnce = 8
	w.fullDeltaKilled(seed, rng)
}

// TestEvidenceBinaryFullDeltaKilled is the same story through the
// command, "mailhaul migrate run PLAN --stage full|delta", SIGKILLed and
// run again, from a plan usergen writes; fewer users, since a rerun waits
// for the killed run's leases (lease.DefaultTTL).
func TestEvidenceBinaryFullDeltaKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("two passes of the command, each waiting out a lease's TTL")
	}
	seed, rng := testSeed(t)
	w := newWorld(t, usergen.Options{Users: 40, Seed: seed, MaxMessages: 60, Skew: 6, MessageBytes: 2 << 10,
		Contacts: 4, Events: 4, HostileEvery: 10, Hostile: 6}, 1)
	w.useBinary(8)
	w.fullDeltaKilled(seed, rng)
}

// fullDeltaKilled runs the full pass with kills, checks, changes the
// sources, runs the delta pass with kills, checks.
func (w *world) fullDeltaKilled(seed uint64, rng *rand.Rand) {
	t := w.t
	w.pass(migrate.Full, 2, rng)
	w.checkStates(migrate.Full)
	w.checkTargets()
	if t.Failed() {
		t.FailNow()
	}

	changed := 0
	for i := range w.users {
		if i%4 == 1 && w.users[i].Messages > 0 {
			c, err := usergen.Change(&w.users[i], seed, 3)
			if err != nil {
				t.Fatal(err)
			}
			changed += c.Delivered + c.Moved + c.Flagged
		}
	}
	t.Logf("%d changes in the sources between the stages", changed)
	w.pass(migrate.Delta, 2, rng)
	w.checkStates(migrate.Delta)
	w.checkTargets()
}
