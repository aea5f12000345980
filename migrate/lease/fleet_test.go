package lease

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/internal/safename"
	"github.com/mailhaul/mailhaul/migrate/shard"
)

// fleetUsers is the plan every worker computes its share from.
func fleetUsers() []shard.User {
	users := make([]shard.User, 40)
	for i := range users {
		users[i] = shard.User{Key: fmt.Sprintf("u%02d@example.org", i), EstimatedBytes: int64(i%7) << 20}
	}
	return users
}

// workerMain is one pod of an Indexed Job in miniature: it takes its share
// of fleetUsers from JOB_COMPLETION_INDEX and, for each user, acquires the
// lease, skips the user if a done marker exists, else "works" for WORK_MS
// and writes the marker; held users are tried again until all are done.
// It logs "start|done USER INDEX PID" lines to LOG.
func workerMain() int {
	count, _ := strconv.Atoi(os.Getenv("SHARDS"))
	index, err := shard.Index(0, false, count, os.Getenv)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	ttl, _ := strconv.Atoi(os.Getenv("LEASE_TTL_MS"))
	work, _ := strconv.Atoi(os.Getenv("WORK_MS"))
	users := fleetUsers()
	shards, _ := shard.Assign(users, count)
	logf, err := os.OpenFile(os.Getenv("LOG"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	logLine := func(what, user string) { fmt.Fprintf(logf, "%s %s %d %d\n", what, user, index, os.Getpid()) }
	doneDir := os.Getenv("DONE_DIR")
	o := Options{Dir: os.Getenv("LEASE_DIR"), TTL: time.Duration(ttl) * time.Millisecond, Shard: index}
	pending := shards[index]
	for deadline := time.Now().Add(60 * time.Second); len(pending) > 0 && time.Now().Before(deadline); {
		var later []int
		for _, i := range pending {
			user := users[i].Key
			l, ctx, err := Acquire(context.Background(), o, user)
			if errors.Is(err, ErrHeld) {
				later = append(later, i)
				continue
			}
			if err != nil {
				fmt.Println(err)
				return 1
			}
			marker := filepath.Join(doneDir, safename.Escape(user))
			if _, err := os.Stat(marker); err == nil {
				l.Release()
				continue
			}
			logLine("start", user)
			select {
			case <-time.After(time.Duration(work) * time.Millisecond):
			case <-ctx.Done():
				l.Release()
				later = append(later, i)
				continue
			}
			os.WriteFile(marker+".tmp", nil, 0o644)
			if err := os.Rename(marker+".tmp", marker); err != nil {
				fmt.Println(err)
				return 1
			}
			logLine("done", user)
			l.Release()
		}
		pending = later
		if len(pending) > 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if len(pending) > 0 {
		fmt.Println("unfinished", len(pending))
		return 1
	}
	return 0
}

// N workers started as an Indexed Job starts them, one index started twice
// and one killed with SIGKILL mid-user and started again: every user is
// done exactly once, by a worker of its own shard.
func TestFleetLikeAnIndexedJob(t *testing.T) {
	const count = 4
	dir := t.TempDir()
	leases, done, logPath := filepath.Join(dir, "leases"), filepath.Join(dir, "done"), filepath.Join(dir, "log")
	os.Mkdir(done, 0o755)
	start := func(index int) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "MAILHAUL_LEASE_WORKER=1", "LEASE_DIR="+leases, "DONE_DIR="+done, "LOG="+logPath,
			"LEASE_TTL_MS=1000", "WORK_MS=150", fmt.Sprint("SHARDS=", count), fmt.Sprint(shard.EnvJobIndex, "=", index))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	var workers []*exec.Cmd
	for i := range count {
		workers = append(workers, start(i))
	}
	workers = append(workers, start(1)) // the engine started index 1 twice
	victim := workers[2]
	// Kill index 2 once it has started its second user, i.e. mid-work.
	for tries := 0; ; tries++ {
		b, _ := os.ReadFile(logPath)
		if strings.Count(string(b), fmt.Sprintf(" 2 %d\n", victim.Process.Pid)) >= 3 { // start, done, start
			break
		}
		if tries > 3000 {
			t.Fatalf("index 2 did not start its second user; log:\n%s", b)
		}
		time.Sleep(5 * time.Millisecond)
	}
	victim.Process.Kill()
	victim.Wait()
	workers[2] = start(2)
	for i, w := range workers {
		errc := make(chan error, 1)
		go func() { errc <- w.Wait() }()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("worker %d: %v", i, err)
			}
		case <-time.After(90 * time.Second):
			t.Fatalf("worker %d still running after 90s", i)
		}
	}

	users := fleetUsers()
	shards, _ := shard.Assign(users, count)
	owner := map[string]string{}
	for s, idx := range shards {
		for _, i := range idx {
			owner[users[i].Key] = strconv.Itoa(s)
		}
	}
	b, _ := os.ReadFile(logPath)
	starts, dones := map[string][]string{}, map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 {
			t.Fatalf("log line %q", line)
		}
		if f[2] != owner[f[1]] {
			t.Errorf("%s worked by index %s, its shard is %s", f[1], f[2], owner[f[1]])
		}
		if f[0] == "start" {
			starts[f[1]] = append(starts[f[1]], f[3])
		} else {
			dones[f[1]]++
		}
	}
	killed := strconv.Itoa(victim.Process.Pid)
	redone := 0
	for _, u := range users {
		if dones[u.Key] != 1 {
			t.Errorf("%s done %d times, want once", u.Key, dones[u.Key])
		}
		if _, err := os.Stat(filepath.Join(done, safename.Escape(u.Key))); err != nil {
			t.Errorf("%s: no done marker", u.Key)
		}
		s := starts[u.Key]
		if len(s) == 2 && s[0] == killed {
			redone++
		} else if len(s) != 1 {
			t.Errorf("%s started by processes %v, want one (or the killed one, then another)", u.Key, s)
		}
	}
	if redone != 1 {
		t.Errorf("%d users were cut off by the kill and done again, want 1", redone)
	}
}
