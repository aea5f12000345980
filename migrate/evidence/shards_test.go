package evidence

import (
	"bytes"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/internal/usergen"
	"github.com/mailhaul/mailhaul/migrate"
	"github.com/mailhaul/mailhaul/migrate/shard"
)

// TestEvidenceShards starts three shard processes as a Kubernetes
// Indexed Job does (JOB_COMPLETION_INDEX): index 0 once, index 1 twice at
// the same moment (the engine's second pod for one index), index 2 killed
// with SIGKILL and started again until it finishes, as backoffLimitPerIndex
// would. Every user must be done exactly once, by a process of its own
// shard, the shards disjoint and together every user. Both copies of
// index 1 end with exit 0 (a podFailurePolicy counts anything else as the
// index's failure): each waits for the users the other holds and counts
// them done by it, never as its own work.
func TestEvidenceShards(t *testing.T) {
	const shards = 3
	w := newWorld(t, usergen.Options{Users: 36, Seed: 5, MaxMessages: 30, Skew: 2, MessageBytes: 2 << 10,
		Contacts: 3, Events: 3, HostileEvery: 12, Hostile: 3}, shards)
	w.cfg.UsersAtOnce = 2

	var su []shard.User
	for _, u := range w.users {
		su = append(su, shard.User{Key: u.Name, EstimatedBytes: u.Bytes})
	}
	shares, err := shard.Assign(su, shards)
	if err != nil {
		t.Fatal(err)
	}
	owner := map[string]int{}
	for i, share := range shares {
		for _, k := range share {
			if prev, ok := owner[w.users[k].Name]; ok {
				t.Fatalf("%s is in shards %d and %d", w.users[k].Name, prev, i)
			}
			owner[w.users[k].Name] = i
		}
	}
	if len(owner) != len(w.users) {
		t.Fatalf("the shards hold %d of %d users", len(owner), len(w.users))
	}

	type proc struct {
		cmd *exec.Cmd
		out *bytes.Buffer
	}
	start := func(i int) proc { c, o := w.worker(migrate.Full, strconv.Itoa(i)); return proc{c, o} }
	ps := []proc{start(0), start(1), start(1)}
	killed := start(2)
	rng := rand.New(rand.NewPCG(5, 14))
	delay := time.Duration(500+rng.IntN(2500)) * time.Millisecond
	time.Sleep(delay)
	killed.cmd.Process.Signal(syscall.SIGKILL)
	killed.cmd.Wait()
	t.Logf("index 2 SIGKILLed after %v", delay)

	var results []worked
	for n, p := range ps {
		code, res := w.wait(p.cmd, p.out)
		t.Logf("process %d (index %d): exit %d, worked on %d users, %d done by the other copy", n, res.Index, code,
			len(res.Users), len(res.ByOthers))
		if code != migrate.ExitOK {
			t.Errorf("process %d (index %d): exit %d, want 0: every user of the index is done, by it or by the other copy\n%s",
				n, res.Index, code, p.out)
		}
		results = append(results, res)
	}
	// A user one copy of index 1 counts done by the other, the other did.
	for n, other := range map[int]int{1: 2, 2: 1} {
		for _, u := range results[n].ByOthers {
			if !slices.Contains(results[other].Users, u) {
				t.Errorf("process %d counts %s done by another worker, but process %d did not work on it", n, u, other)
			}
		}
	}
	// Index 2 again, as the Job restarts a failed index, until it
	// finishes; its dead predecessor's leases are taken over at once (same
	// host, no such process), and any other holder's waited for.
	for try := 1; ; try++ {
		p := start(2)
		code, res := w.wait(p.cmd, p.out)
		t.Logf("index 2, restart %d: exit %d, worked on %d users", try, code, len(res.Users))
		results = append(results, res)
		if code == migrate.ExitOK {
			break
		}
		if try == 5 {
			t.Fatalf("index 2 did not finish in 5 restarts\n%s", p.out)
		}
		time.Sleep(w.cfg.LeaseTTL)
	}

	by := map[string]int{}
	for n, res := range results {
		for _, u := range res.Users {
			if owner[u] != res.Index {
				t.Errorf("%s of shard %d was worked on by a process of index %d", u, owner[u], res.Index)
			}
			if prev, ok := by[u]; ok {
				t.Errorf("%s was worked on by processes %d and %d", u, prev, n)
			}
			by[u] = n
		}
	}
	for _, u := range w.users {
		if _, ok := by[u.Name]; !ok && owner[u.Name] != 2 {
			t.Errorf("%s (shard %d) was worked on by no process", u.Name, owner[u.Name])
		}
		st, err := migrate.LoadState(w.cfg.StateDir, u.Name)
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != migrate.Done || len(st.Archives) != 1 {
			t.Errorf("%s: %s with %d archives, want done with one", u.Name, st.Status, len(st.Archives))
		}
	}
	if !slices.ContainsFunc(results[1:3], func(r worked) bool { return len(r.Users) > 0 }) {
		t.Error("neither process of index 1 did any work")
	}
	w.checkTargets()
}
