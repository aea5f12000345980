package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/migrate"
	"github.com/mailhaul/mailhaul/migrate/lease"
)

// TestMigrateRunWaitHeld: a user whose lease another live process holds
// (on another host, renewed: an hour left) is waited for up to
// --wait-held, then named as held by that process, not failed: exit 75,
// which a Kubernetes Job retries. Once the holder is gone the next run
// does the user. A negative --wait-held is a usage error.
func TestMigrateRunWaitHeld(t *testing.T) {
	e := newRunEnv(t, 2)
	dir := filepath.Join(e.state, leaseDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	h := lease.Holder{User: "u01@example.org", Host: "pod-elsewhere", PID: 4242, Shard: 0, Token: "abcd",
		TTLMilli: time.Hour.Milliseconds(), Acquired: time.Now().UTC()}
	b, _ := json.Marshal(h)
	path := lease.Path(dir, h.User)
	write(t, path, string(b))

	start := time.Now()
	out, errOut, code := e.run("migrate", "run", e.plan, "--stage", "full", "--wait-held", "2s")
	if code != exitHeld {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitHeld, out, errOut)
	}
	if took := time.Since(start); took < 2*time.Second {
		t.Errorf("the run took %s: it did not wait --wait-held", took)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.Contains(out, "u01@example.org: held by host pod-elsewhere pid 4242 (shard 0), not finished") ||
		lines[len(lines)-1] != "NOT all users done: 1 of 2 done, 1 held by another worker" {
		t.Errorf("summary:\n%s", out)
	}
	if st := readRunReport(t, filepath.Join(e.state, reportsDir)); st["u01@example.org"] != string(migrate.Held) ||
		st["u02@example.org"] != string(migrate.Done) {
		t.Errorf("report: %v", st)
	}
	if _, _, code := e.run("migrate", "run", e.plan, "--stage", "full", "--wait-held", "-1s"); code != exitUsage {
		t.Errorf("--wait-held -1s: exit %d, want %d", code, exitUsage)
	}

	// The holder gone (its lease released), the user is this run's.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = e.run("migrate", "run", e.plan, "--stage", "full", "--wait-held", "0")
	if code != 0 || !strings.HasSuffix(strings.TrimSpace(out), "all 2 users done") {
		t.Fatalf("after the holder: exit %d\n%s\n%s", code, out, errOut)
	}
	e.wantConverged("u01", e.sourceWant("u01"))
}
