package migrate

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/migrate/lease"
)

// leased gives job a lease per user in the state directory, as a shard
// process has (both runs of a test share the directory).
func (e *env) leased(job Job, ttl time.Duration) Job {
	job.Locker = lease.Locker{Options: lease.Options{Dir: filepath.Join(e.state, ".leases"), TTL: ttl}}
	job.WaitHeld, job.HeldPoll = time.Minute, 50*time.Millisecond
	return job
}

// TestIndexStartedTwice: two runs of the same users at once, on one state
// directory with leases, as two pods of one index. Run A holds user01
// until run B has done every other user it could and waits; A then
// finishes it. Both end with exit 0: B counts user01 done by A (named in
// its summary, not as its own work), every user was worked on by exactly
// one of the runs, and every message is on the target once.
func TestIndexStartedTwice(t *testing.T) {
	e := newEnv(t, 8)
	first := e.users[0].Name
	aHolds, release := make(chan struct{}), make(chan struct{})
	var holdOnce, releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	defer free()

	a := e.leased(e.job(Full), 3*time.Second)
	step := a.Steps.Export
	a.Steps.Export = func(ctx context.Context, u User, since string) (export.Job, error) {
		if u.Name == first {
			holdOnce.Do(func() { close(aHolds) })
			select {
			case <-release:
			case <-time.After(time.Minute): // bounded: the assertions tell
			}
		}
		return step(ctx, u, since)
	}
	b := e.leased(e.job(Full), 3*time.Second)
	var bLog []string
	var mu sync.Mutex
	b.Logf = func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		mu.Lock()
		bLog = append(bLog, line)
		mu.Unlock()
		if strings.Contains(line, "waiting for them") {
			free() // B did the rest first; now A may finish user01
		}
	}

	var resA, resB *Result
	var errA, errB error
	var wg sync.WaitGroup
	wg.Go(func() { resA, errA = Run(context.Background(), a) })
	select {
	case <-aHolds:
	case <-time.After(time.Minute):
		t.Fatal("run A never began user01")
	}
	wg.Go(func() { resB, errB = Run(context.Background(), b); free() })
	wg.Wait()
	if errA != nil || errB != nil {
		t.Fatalf("runs: %v; %v", errA, errB)
	}
	t.Logf("run B's log:\n%s", strings.Join(bLog, "\n"))
	for name, res := range map[string]*Result{"A": resA, "B": resB} {
		if res.ExitCode() != ExitOK {
			t.Errorf("run %s: exit %d, want 0\n%s", name, res.ExitCode(), res.Summary())
		}
	}

	bFirst := resB.Users[0]
	if bFirst.Status != Done || !bFirst.Skipped || !strings.Contains(bFirst.By, fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("run B's %s: %+v; want done by run A's holder, skipped", first, bFirst)
	}
	sum := strings.TrimSpace(resB.Summary())
	if !strings.Contains(sum, first+": done by host ") || !strings.Contains(sum[strings.LastIndex(sum, "\n")+1:], "all 8 users done, ") ||
		!strings.HasSuffix(sum, "by another worker") {
		t.Errorf("run B's summary:\n%s", sum)
	}
	for i, u := range e.users {
		ra, rb := resA.Users[i], resB.Users[i]
		if worked := btoi(!ra.Skipped) + btoi(!rb.Skipped); worked != 1 {
			t.Errorf("%s was worked on by %d runs (A skipped %v, B skipped %v), want 1", u.Name, worked, ra.Skipped, rb.Skipped)
		}
		if ra.By != "" && rb.Skipped || rb.By != "" && ra.Skipped {
			t.Errorf("%s: done by another worker (%q %q), but that worker did not work on it", u.Name, ra.By, rb.By)
		}
		st, err := LoadState(e.state, u.Name)
		if err != nil || st.Status != Done || len(st.Archives) != 1 {
			t.Errorf("%s: state %+v, %v; want done, one archive", u.Name, st, err)
		}
		e.exactlyOnce(u)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestHeldLeaseExpiredTakenOver: a user whose lease names a holder on
// another host that stopped renewing (a node gone) is held until the
// lease expires; the run, waiting for it, then takes it over and does it
// itself: its own work, exit 0.
func TestHeldLeaseExpiredTakenOver(t *testing.T) {
	e := newEnv(t, 2)
	job := e.leased(e.job(Full), 3*time.Second)
	dir := filepath.Join(e.state, ".leases")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	gone := lease.Holder{User: e.users[0].Name, Host: "node-gone", PID: 1, Shard: 0, Token: "0123", TTLMilli: 1500,
		Acquired: time.Now().UTC()}
	b, _ := json.Marshal(gone)
	if err := os.WriteFile(lease.Path(dir, gone.User), b, 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := Run(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	r := res.Users[0]
	if r.Status != Done || r.Skipped || r.By != "" || res.ExitCode() != ExitOK {
		t.Errorf("%s: %+v, exit %d; want taken over and done by this run", gone.User, r, res.ExitCode())
	}
	if took := time.Since(start); took < 1500*time.Millisecond {
		t.Errorf("the run took %s: it did not wait for the lease to expire", took)
	}
	e.exactlyOnce(e.users[0])
}
