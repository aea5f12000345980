package lease

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain turns the test binary into a lease-taking helper process when
// MAILHAUL_LEASE_HELPER is set, so the tests can race real processes.
func TestMain(m *testing.M) {
	if os.Getenv("MAILHAUL_LEASE_HELPER") == "1" {
		os.Exit(helperMain())
	}
	if os.Getenv("MAILHAUL_LEASE_WORKER") == "1" {
		os.Exit(workerMain())
	}
	os.Exit(m.Run())
}

// helperMain waits for LEASE_GO to exist (if set), tries the users of
// LEASE_USERS in order and prints "held U" or "busy U" for each, then
// "ready"; it holds its leases until its standard input closes, then
// releases them and prints "released" (or "lost U" for a lease it lost).
func helperMain() int {
	ttl, _ := strconv.Atoi(os.Getenv("LEASE_TTL_MS"))
	shard, _ := strconv.Atoi(os.Getenv("LEASE_SHARD"))
	o := Options{Dir: os.Getenv("LEASE_DIR"), TTL: time.Duration(ttl) * time.Millisecond, Shard: shard, Host: os.Getenv("LEASE_HOST")}
	if g := os.Getenv("LEASE_GO"); g != "" {
		deadline := time.Now().Add(30 * time.Second)
		for _, err := os.Stat(g); err != nil; _, err = os.Stat(g) {
			if time.Now().After(deadline) {
				fmt.Println("error: no go file")
				return 1
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	var held []*Lease
	for _, u := range strings.Split(os.Getenv("LEASE_USERS"), ",") {
		l, _, err := Acquire(context.Background(), o, u)
		switch {
		case err == nil:
			held = append(held, l)
			fmt.Println("held", u)
		case errors.Is(err, ErrHeld):
			fmt.Println("busy", u)
		default:
			fmt.Println("error", u, err)
		}
	}
	fmt.Println("ready")
	stdin := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(stdin) }()
	select {
	case <-stdin:
	case <-time.After(60 * time.Second):
	}
	for _, l := range held {
		if err := l.Release(); err != nil {
			fmt.Println("lost", l.Holder().User, err)
		}
	}
	fmt.Println("released")
	return 0
}

type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

// startHelper starts a helper process; env adds variables (LEASE_HOST
// names its host, os.Hostname by default).
func startHelper(t *testing.T, dir string, ttl time.Duration, shard int, goFile string, users []string, env ...string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "MAILHAUL_LEASE_HELPER=1", "LEASE_DIR="+dir,
		fmt.Sprint("LEASE_TTL_MS=", ttl.Milliseconds()), fmt.Sprint("LEASE_SHARD=", shard),
		"LEASE_GO="+goFile, "LEASE_USERS="+strings.Join(users, ","))
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd: cmd, stdin: stdin, lines: make(chan string, 1000)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
		close(h.lines)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return h
}

// until collects the helper's lines up to and including last.
func (h *helper) until(t *testing.T, last string) []string {
	t.Helper()
	var got []string
	timeout := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-h.lines:
			if !ok {
				t.Fatalf("helper ended before %q; said %q", last, got)
			}
			got = append(got, line)
			if line == last {
				return got
			}
		case <-timeout:
			t.Fatalf("helper did not say %q in 60s; said %q", last, got)
		}
	}
}

func heldBy(lines []string) []string {
	var users []string
	for _, l := range lines {
		if u, ok := strings.CutPrefix(l, "held "); ok {
			users = append(users, u)
		}
	}
	return users
}

func names(prefix string, n int) []string {
	users := make([]string, n)
	for i := range users {
		users[i] = fmt.Sprintf("%s%02d@example.org", prefix, i)
	}
	return users
}

// abandon stops a lease's renewal without releasing it, as a killed holder
// would, and dates it so that it has expired.
func abandon(t *testing.T, l *Lease) {
	t.Helper()
	close(l.stop)
	<-l.done
	l.f.Close()
	past := time.Now().Add(-2 * l.ttl)
	if err := os.Chtimes(l.path, past, past); err != nil {
		t.Fatal(err)
	}
}

func TestAcquireHeldRelease(t *testing.T) {
	dir := t.TempDir()
	a, actx, err := Acquire(t.Context(), Options{Dir: dir, Shard: 3, Host: "host-a"}, "ann/../x@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(a.path) != dir {
		t.Fatalf("lease %s is not in %s", a.path, dir)
	}
	_, _, err = Acquire(t.Context(), Options{Dir: dir, Shard: 4, Host: "host-b"}, "ann/../x@example.org")
	var held *HeldError
	if !errors.As(err, &held) || !errors.Is(err, ErrHeld) {
		t.Fatalf("second Acquire: %v, want a HeldError", err)
	}
	if h := held.Holder; h.Host != "host-a" || h.Shard != 3 || h.PID != os.Getpid() || h.Token != a.Holder().Token || len(h.Token) != 32 {
		t.Errorf("HeldError names %+v, want host-a, shard 3, this pid, token %s", h, a.Holder().Token)
	}
	if d := time.Until(held.Expires); d < DefaultTTL-10*time.Second || d > DefaultTTL {
		t.Errorf("lease expires in %s, want about %s", d, DefaultTTL)
	}
	if !strings.Contains(err.Error(), `"ann/../x@example.org" is held by host host-a pid`) {
		t.Errorf("error %q does not name the user and holder", err)
	}
	info, err := Read(dir, "ann/../x@example.org")
	if err != nil || info.Token != a.Holder().Token {
		t.Fatalf("Read = %+v, %v", info, err)
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	if !errors.Is(actx.Err(), context.Canceled) {
		t.Errorf("context after Release: %v", actx.Err())
	}
	if _, err := Read(dir, "ann/../x@example.org"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read after Release: %v, want not exist", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("files left after Release: %v", left)
	}
	b, _, err := Acquire(t.Context(), Options{Dir: dir}, "ann/../x@example.org")
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	b.Release()
}

// A live holder's renewals keep its lease for many TTLs, and move the
// lease file's expiry on.
func TestRenewKeepsLease(t *testing.T) {
	dir := t.TempDir()
	ttl := 600 * time.Millisecond
	a, actx, err := Acquire(t.Context(), Options{Dir: dir, TTL: ttl}, "u")
	if err != nil {
		t.Fatal(err)
	}
	first, _ := Read(dir, "u")
	end := time.Now().Add(4 * ttl)
	for tries := 0; time.Now().Before(end) && tries < 200; tries++ {
		if _, _, err := Acquire(t.Context(), Options{Dir: dir, TTL: ttl}, "u"); !errors.Is(err, ErrHeld) {
			t.Fatalf("after %s: Acquire by another = %v, want ErrHeld", time.Since(first.Acquired), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if actx.Err() != nil {
		t.Fatalf("holder's context ended: %v", context.Cause(actx))
	}
	last, _ := Read(dir, "u")
	if !last.Expires.After(first.Expires.Add(2 * ttl)) {
		t.Errorf("expiry moved from %s to %s only", first.Expires, last.Expires)
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
}

// An expired lease is taken over; its old holder, at its next renewal,
// finds another holder, cancels its work and leaves the new lease alone.
func TestLostLeaseCancelsWork(t *testing.T) {
	dir := t.TempDir()
	ttl := 200 * time.Millisecond
	a, actx, err := Acquire(t.Context(), Options{Dir: dir, TTL: ttl, Host: "old", renewEvery: time.Hour}, "u")
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Second)
	os.Chtimes(a.path, past, past) // as if a paused holder missed its renewals
	b, bctx, err := Acquire(t.Context(), Options{Dir: dir, TTL: ttl, Host: "new"}, "u")
	if err != nil {
		t.Fatalf("takeover of an expired lease: %v", err)
	}
	if a.tick(time.Now()) {
		t.Fatal("the old holder renewed a lease taken over")
	}
	if !errors.Is(context.Cause(actx), ErrLost) || !strings.Contains(context.Cause(actx).Error(), "taken over by host new") {
		t.Fatalf("old holder's context: %v, want ErrLost naming the new holder", context.Cause(actx))
	}
	if err := a.Release(); !errors.Is(err, ErrLost) {
		t.Errorf("old holder's Release = %v, want ErrLost", err)
	}
	if info, err := Read(dir, "u"); err != nil || info.Host != "new" {
		t.Fatalf("after the old holder's Release the lease is %+v, %v; want the new holder's", info, err)
	}
	if !b.tick(time.Now()) || bctx.Err() != nil {
		t.Fatalf("new holder lost its lease: %v", context.Cause(bctx))
	}
	if err := b.Release(); err != nil {
		t.Fatal(err)
	}
}

// A holder that cannot renew gives up before others may take over.
func TestUnrenewableLeaseGivesUp(t *testing.T) {
	dir := t.TempDir()
	ttl := 300 * time.Millisecond
	a, actx, err := Acquire(t.Context(), Options{Dir: dir, TTL: ttl, renewEvery: time.Hour}, "u")
	if err != nil {
		t.Fatal(err)
	}
	a.f.Close() // every renewal now fails
	now := a.last
	if !a.tick(now.Add(ttl/3)) || actx.Err() != nil {
		t.Fatal("one failed renewal ended the lease")
	}
	if a.tick(now.Add(ttl - ttl/3)) {
		t.Fatal("the lease lived on although not renewed for TTL-TTL/3")
	}
	if !errors.Is(context.Cause(actx), ErrLost) {
		t.Errorf("cause %v, want ErrLost", context.Cause(actx))
	}
}

// Goroutines racing for one expired lease: one holds it in the end, and any
// other that believed it won finds out at its next renewal.
func TestTakeoverRace(t *testing.T) {
	dir := t.TempDir()
	ttl := time.Second
	for round := range 30 {
		user := fmt.Sprint("race", round)
		old, _, err := Acquire(t.Context(), Options{Dir: dir, TTL: ttl}, user)
		if err != nil {
			t.Fatal(err)
		}
		abandon(t, old)
		var (
			mu   sync.Mutex
			won  []*Lease
			wg   sync.WaitGroup
			errs []error
		)
		start := make(chan struct{})
		for range 8 {
			wg.Go(func() {
				<-start
				l, _, err := Acquire(t.Context(), Options{Dir: dir, TTL: ttl, renewEvery: time.Hour}, user)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					won = append(won, l)
				} else if !errors.Is(err, ErrHeld) {
					errs = append(errs, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("round %d: %v", round, errs)
		}
		holding := 0
		for _, l := range won {
			if l.tick(time.Now()) {
				holding++
			}
			l.Release()
		}
		if len(won) != 1 || holding != 1 {
			t.Fatalf("round %d: %d takers won, %d still hold after a renewal; want exactly 1", round, len(won), holding)
		}
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 0 {
		t.Errorf("files left: %v", left)
	}
}

// A taker that died holding a claim on a stale lease blocks takeovers for
// one TTL, then its claim is cleared.
func TestDeadClaimCleared(t *testing.T) {
	dir := t.TempDir()
	ttl := time.Second
	old, _, err := Acquire(t.Context(), Options{Dir: dir, TTL: ttl}, "u")
	if err != nil {
		t.Fatal(err)
	}
	abandon(t, old)
	claim := old.path + "." + old.holder.Token + ".claim"
	if err := os.WriteFile(claim, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Acquire(t.Context(), Options{Dir: dir, TTL: ttl}, "u"); !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), "another process is taking over") {
		t.Fatalf("Acquire beside a fresh claim: %v, want ErrHeld", err)
	}
	past := time.Now().Add(-2 * ttl)
	os.Chtimes(claim, past, past)
	l, _, err := Acquire(t.Context(), Options{Dir: dir, TTL: ttl}, "u")
	if err != nil {
		t.Fatalf("Acquire beside a dead claim: %v", err)
	}
	l.Release()
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("files left: %v", left)
	}
}

// Real processes racing for the same users, half of them behind expired
// leases of a dead holder: each user is held by exactly one of them.
func TestProcessesRace(t *testing.T) {
	dir := t.TempDir()
	ttl := 5 * time.Second
	users := names("user", 40)
	for _, u := range users[:20] {
		l, _, err := Acquire(t.Context(), Options{Dir: dir, TTL: ttl}, u)
		if err != nil {
			t.Fatal(err)
		}
		abandon(t, l)
	}
	goFile := filepath.Join(t.TempDir(), "go")
	var hs []*helper
	for i := range 3 {
		order := slices.Clone(users)
		rand.New(rand.NewPCG(uint64(i), 7)).Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		hs = append(hs, startHelper(t, dir, ttl, i, goFile, order))
	}
	os.WriteFile(goFile, nil, 0o644)
	owner := map[string]int{}
	for i, h := range hs {
		lines := h.until(t, "ready")
		for _, l := range lines {
			if strings.HasPrefix(l, "error") {
				t.Errorf("process %d: %s", i, l)
			}
		}
		for _, u := range heldBy(lines) {
			if prev, dup := owner[u]; dup {
				t.Errorf("%s held by processes %d and %d", u, prev, i)
			}
			owner[u] = i
		}
		t.Logf("process %d holds %d users", i, len(heldBy(lines)))
	}
	for _, u := range users {
		if _, ok := owner[u]; !ok {
			t.Errorf("%s held by no process", u)
		}
		info, err := Read(dir, u)
		if err != nil || info.PID != hs[owner[u]].cmd.Process.Pid {
			t.Errorf("%s: lease file names %+v (%v), want process %d", u, info.Holder, err, owner[u])
		}
	}
	for i, h := range hs {
		h.stdin.Close()
		lines := h.until(t, "released")
		for _, l := range lines {
			if strings.HasPrefix(l, "lost") {
				t.Errorf("process %d: %s", i, l)
			}
		}
	}
}

// A holder on another host killed with SIGKILL leaves leases that expire
// and are taken over no earlier than TTL after its last renewal (its PID
// means nothing here), while a live process's lease is kept all the while.
func TestKilledHolderTakenOver(t *testing.T) {
	dir := t.TempDir()
	ttl := 1500 * time.Millisecond
	users := names("killed", 5)
	dead := startHelper(t, dir, ttl, 0, "", users, "LEASE_HOST=another-host")
	if got := heldBy(dead.until(t, "ready")); len(got) != len(users) {
		t.Fatalf("the first process holds %v, want all of %v", got, users)
	}
	live := startHelper(t, dir, ttl, 1, "", []string{"live"})
	if got := heldBy(live.until(t, "ready")); len(got) != 1 {
		t.Fatalf("the second process holds %v", got)
	}
	for _, u := range users {
		if _, _, err := Acquire(t.Context(), Options{Dir: dir, TTL: ttl}, u); !errors.Is(err, ErrHeld) {
			t.Fatalf("%s before the kill: %v, want ErrHeld", u, err)
		}
	}
	if err := dead.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	dead.cmd.Wait()
	killed := time.Now()
	taken := map[string]time.Duration{}
	for tries := 0; len(taken) < len(users) && tries < 200; tries++ {
		for _, u := range users {
			if _, ok := taken[u]; ok {
				continue
			}
			l, _, err := Acquire(t.Context(), Options{Dir: dir, TTL: ttl, Shard: 2}, u)
			if err == nil {
				taken[u] = time.Since(killed)
				defer l.Release()
			} else if !errors.Is(err, ErrHeld) {
				t.Fatal(err)
			}
		}
		if _, _, err := Acquire(t.Context(), Options{Dir: dir, TTL: ttl}, "live"); !errors.Is(err, ErrHeld) {
			t.Fatalf("the live process's lease, %s after the kill: %v, want ErrHeld", time.Since(killed), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, u := range users {
		d, ok := taken[u]
		if !ok {
			t.Errorf("%s never taken over", u)
			continue
		}
		// The holder renewed at most TTL/3 before it was killed.
		if d < ttl-ttl/3-50*time.Millisecond {
			t.Errorf("%s taken over %s after the kill, before its lease could expire", u, d)
		}
		if info, _ := Read(dir, u); info.PID != os.Getpid() || info.Shard != 2 {
			t.Errorf("%s: lease names %+v, want this process", u, info.Holder)
		}
	}
	live.stdin.Close()
	if lines := live.until(t, "released"); slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "lost") }) {
		t.Errorf("the live process lost its lease: %q", lines)
	}
}

// TestDeadHolderHereTakenOverAtOnce: a holder on this host killed with
// SIGKILL (its PID gone) leaves leases that are taken over at once, long
// before their TTL, while a live holder on this host is still respected.
func TestDeadHolderHereTakenOverAtOnce(t *testing.T) {
	dir := t.TempDir()
	ttl := DefaultTTL
	users := names("dead", 3)
	dead := startHelper(t, dir, ttl, 0, "", users)
	if got := heldBy(dead.until(t, "ready")); len(got) != len(users) {
		t.Fatalf("the first process holds %v, want all of %v", got, users)
	}
	live := startHelper(t, dir, ttl, 1, "", []string{"live"})
	if got := heldBy(live.until(t, "ready")); len(got) != 1 {
		t.Fatalf("the second process holds %v", got)
	}
	if _, _, err := Acquire(t.Context(), Options{Dir: dir, TTL: ttl}, users[0]); !errors.Is(err, ErrHeld) {
		t.Fatalf("%s before the kill: %v, want ErrHeld", users[0], err)
	}
	if err := dead.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	dead.cmd.Wait() // reaped: its PID no longer exists
	killed := time.Now()
	for _, u := range users {
		l, _, err := Acquire(t.Context(), Options{Dir: dir, TTL: ttl, Shard: 2}, u)
		if err != nil {
			t.Fatalf("%s, %s after its holder was killed: %v, want it taken over at once", u, time.Since(killed), err)
		}
		defer l.Release()
		if info, _ := Read(dir, u); info.PID != os.Getpid() || info.Shard != 2 {
			t.Errorf("%s: lease names %+v, want this process", u, info.Holder)
		}
	}
	if d := time.Since(killed); d > ttl/4 {
		t.Errorf("taken over %s after the kill, want well before the TTL %s", d, ttl)
	}
	if _, _, err := Acquire(t.Context(), Options{Dir: dir, TTL: ttl}, "live"); !errors.Is(err, ErrHeld) {
		t.Fatalf("the live holder's lease: %v, want ErrHeld", err)
	}
	live.stdin.Close()
	if lines := live.until(t, "released"); slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "lost") }) {
		t.Errorf("the live process lost its lease: %q", lines)
	}
}

// TestLockerIsALease: the Locker a run uses takes the user's lease (a
// second taker is refused with ErrHeld while it is held), works under the
// lease's context, and gives the lease back on unlock.
func TestLockerIsALease(t *testing.T) {
	dir := t.TempDir()
	a, b := Locker{Options{Dir: dir, Shard: 0}}, Locker{Options{Dir: dir, Shard: 1}}
	work, unlock, err := a.Lock(context.Background(), "ann@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Lock(context.Background(), "ann@example.org"); !errors.Is(err, ErrHeld) {
		t.Fatalf("second taker: %v, want ErrHeld", err)
	}
	if info, err := Read(dir, "ann@example.org"); err != nil || info.Shard != 0 {
		t.Fatalf("lease on disk: %+v, %v", info, err)
	}
	unlock()
	if work.Err() == nil {
		t.Fatal("the work's context outlived the lease")
	}
	_, unlock2, err := b.Lock(context.Background(), "ann@example.org")
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	unlock2()
}
