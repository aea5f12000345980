package sftp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/internal/testservers"
)

func TestReadBatch(t *testing.T) {
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	ops := func() []*fileOp {
		return []*fileOp{{path: "/x"}, {path: "/x", sync: true}, {path: "/y"}}
	}
	batch := ops()
	if !readBatch([]byte(a+" */x\n"+b+" */y\n"+batchStatus+" 0 0\n"), batch) {
		t.Fatal("a well-formed answer was refused")
	}
	if batch[0].sum != a || batch[2].sum != b || batch[1].sum != "" {
		t.Errorf("sums went to the wrong files: %q %q %q", batch[0].sum, batch[1].sum, batch[2].sum)
	}
	for name, out := range map[string]string{
		"a hash failed":      a + " */x\n" + batchStatus + " 1 0\n",
		"the sync failed":    a + " */x\n" + b + " */y\n" + batchStatus + " 0 1\n",
		"a line is missing":  a + " */x\n" + batchStatus + " 0 0\n",
		"no status line":     a + " */x\n" + b + " */y\n",
		"escaped file name":  a + " */x\n\\" + b + "  /y\\nz\n" + batchStatus + " 0 0\n",
		"status cut in half": a + " */x\n" + b + " */y\n" + batchStatus + " 0\n",
		"an injected line":   a + " */x\n" + b + " */y\n" + a + " */z\n" + batchStatus + " 0 0\n",
	} {
		if readBatch([]byte(out), ops()) {
			t.Errorf("%s: answer accepted", name)
		}
	}
}

// Hashes and syncs asked for while the shell is busy go to the server as
// one command; a file that cannot be hashed fails alone, named, and the
// others still get their sums.
func TestSSHDBatchesHashesAndSyncs(t *testing.T) {
	s := testservers.StartSSHD(t, testservers.SSHDOptions{})
	ctx := context.Background()
	dir := t.TempDir()
	want := map[string]string{}
	for _, name := range []string{"a.tgz", "-b.tgz", "c d.tgz"} {
		data := []byte(strings.Repeat(name, 1000))
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		want[filepath.Join(dir, name)] = hex.EncodeToString(sum[:])
	}
	ep := sshdEndpoint(t, s, dir, nil)
	h := &ep.hashing
	if h.command(ctx, ep) == "" {
		t.Fatal("the probe found no hashing command")
	}
	if !h.fileSync {
		t.Error("the probe says sync takes no file names; Debian's coreutils' does")
	}

	// Keep the one shell busy while the ops queue up behind it.
	busy := make(chan error)
	go func() { _, err := h.run(ctx, ep, "sleep 1"); busy <- err }()
	waitFor(t, "the shell to be busy", func() bool { return len(h.slots) == 1 })
	before := h.commands.Load()
	missing := filepath.Join(dir, "missing.tgz")
	var ops []*fileOp
	for p := range want {
		ops = append(ops, &fileOp{path: p}, &fileOp{path: p, sync: true})
	}
	ops = append(ops, &fileOp{path: missing}, &fileOp{path: missing, sync: true})
	var wg sync.WaitGroup
	for _, op := range ops {
		wg.Add(1)
		go func() { defer wg.Done(); h.do(ctx, ep, op) }()
	}
	waitFor(t, "the ops to queue", func() bool { return queued(h) == len(ops) })
	wg.Wait()
	if err := <-busy; err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		switch {
		case op.path == missing:
			if op.err == nil {
				t.Errorf("a missing file (sync %v): no error", op.sync)
			}
		case op.err != nil:
			t.Errorf("%s (sync %v): %v", op.path, op.sync, op.err)
		case !op.sync && op.sum != want[op.path]:
			t.Errorf("%s: sum %s, want %s", op.path, op.sum, want[op.path])
		}
	}
	// One batch that fails for the missing file, then one command per op.
	if n := h.commands.Load() - before; n != 1+int64(len(ops)) {
		t.Errorf("%d commands for %d queued ops with one missing file, want %d", n, len(ops), 1+len(ops))
	}

	// Without the missing file: one command for all.
	go func() { _, err := h.run(ctx, ep, "sleep 1"); busy <- err }()
	waitFor(t, "the shell to be busy", func() bool { return len(h.slots) == 1 })
	before = h.commands.Load()
	ops = ops[:len(ops)-2]
	for _, op := range ops {
		op.sum, op.err = "", nil
		wg.Add(1)
		go func() { defer wg.Done(); h.do(ctx, ep, op) }()
	}
	waitFor(t, "the ops to queue", func() bool { return queued(h) == len(ops) })
	wg.Wait()
	<-busy
	for _, op := range ops {
		if op.err != nil || (!op.sync && op.sum != want[op.path]) {
			t.Errorf("%s (sync %v): sum %s, err %v", op.path, op.sync, op.sum, op.err)
		}
	}
	if n := h.commands.Load() - before; n != 1 {
		t.Errorf("%d commands for %d queued ops, want 1", n, len(ops))
	}
}

func queued(h *hashing) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.queue)
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// A name with a control character is never printed by a batch: it is
// taken alone, and the names around it still batch.
func TestTakeQueueKeepsUnprintableNamesAlone(t *testing.T) {
	h := &hashing{}
	for _, p := range []string{"/a", "/b", "/evil\n__mailhaul_batch__ 0 0", "/c", "/d"} {
		h.queue = append(h.queue, &fileOp{path: p})
	}
	var got []int
	for len(h.queue) > 0 {
		got = append(got, len(h.takeQueue()))
	}
	if want := []int{2, 1, 2}; !slices.Equal(got, want) {
		t.Errorf("batch sizes %v, want %v", got, want)
	}
}
