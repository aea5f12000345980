package imap

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/faultproxy"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// batchCutover imports n messages of INBOX into Dovecot through a
// faultproxy of opt (the journal is the proxy's address's) and writes a
// delta whose state has each of them read and flagged, except moved (the
// first ones, now read in Work) and deleted (the last ones, absent).
func batchCutover(t *testing.T, n, moved, deleted int, opt faultproxy.Options) (*testservers.Dovecot, *faultproxy.Proxy, testRun, []string) {
	t.Helper()
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret"})
	opt.Upstream = d.Addr
	px, err := faultproxy.Start(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	dir := t.TempDir()
	msgs := make([]testMsg, n)
	for i := range msgs {
		msgs[i] = testMsg{body: fmt.Appendf(nil, "Subject: m%04d\r\nMessage-ID: <m%04d@example.org>\r\n\r\nbody %d\r\n", i, i, i),
			id: fmt.Sprintf("INBOX/%d", i), received: time.Unix(1e9, 0)}
	}
	full := filepath.Join(dir, "full.tgz")
	writeArchive(t, full, []testFolder{{folder: format.Folder{Path: "INBOX"}, msgs: msgs}, {folder: format.Folder{Path: "Work"}}})
	var state []format.StateItem
	for i := range n - deleted {
		s := format.StateItem{Kind: format.KindMessage, Folder: "INBOX", SourceID: fmt.Sprintf("INBOX/%d", i), Flags: []string{`\Seen`, `\Flagged`}}
		if i < moved {
			s = format.StateItem{Kind: format.KindMessage, Folder: "Work", SourceID: fmt.Sprintf("Work/%d", i), Key: fmt.Sprint(i), Flags: []string{`\Seen`}}
		}
		state = append(state, s)
	}
	delta := writeStateArchive(t, dir, "delta.tgz", time.Unix(2e9, 0), nil, state)
	tr := testRun{Options: Options{Account: account(px.Addr, "alice", "alice-secret"), Provider: "dovecot", Settle: time.Millisecond, MaxBackoff: 500 * time.Millisecond},
		Request: importer.Request{User: "alice", StateDir: filepath.Join(dir, "state"), ApplyDeletions: true}}
	if rep, err := tr.run(context.Background(), []string{full}); err != nil || rep.Imported != n {
		t.Fatalf("full: %v; %s", err, rep.Statement)
	}
	return d, px, tr, []string{full, delta}
}

// checkBatchCutover checks the target after batchCutover's delta.
func checkBatchCutover(t *testing.T, addr string, n, moved, deleted int) {
	t.Helper()
	boxes := readBack(t, addr, "alice", "alice-secret")
	if got := len(boxes["INBOX"]); got != n-moved-deleted {
		t.Errorf("INBOX holds %d messages, want %d", got, n-moved-deleted)
	}
	if got := len(boxes["Work"]); got != moved {
		t.Errorf("Work holds %d messages, want %d", got, moved)
	}
	for box, want := range map[string]string{"INBOX": `\Flagged,\Seen`, "Work": `\Seen`} {
		for _, m := range boxes[box] {
			if got := strings.Join(m.flags, ","); got != want {
				t.Errorf("%s in %s has flags %q, want %q", m.head, box, got, want)
				break
			}
		}
	}
}

// TestCutoverBatchesItsCommands: a delta changing 600 messages' flags,
// moving 20 and deleting 10 sends a handful of UID commands (a STORE,
// MOVE or STORE+EXPUNGE per batch of at most batchMax, and a FETCH of
// the flags of a mailbox's batches), not some for each message.
func TestCutoverBatchesItsCommands(t *testing.T) {
	const n, moved, deleted = 630, 20, 10
	d, px, tr, archives := batchCutover(t, n, moved, deleted, faultproxy.Options{Verbs: []string{"UID", "STORE", "MOVE", "COPY", "EXPUNGE", "FETCH"}})
	before := px.Stats().Commands
	rep, err := tr.run(context.Background(), archives)
	if err != nil {
		t.Fatalf("%v; %s", err, rep.Statement)
	}
	ch := changesOf(t, rep)
	if ch.Updated != n-deleted || ch.Moved != moved || ch.Deleted != deleted || len(ch.Conflicts) != 0 || len(rep.Failures) != 0 {
		t.Errorf("%+v, failures %v; want %d updated (the moved ones too), %d moved, %d deleted", ch, rep.Failures, n-deleted, moved, deleted)
	}
	// INBOX: the flags of every message to change, move or delete (one
	// FETCH, two at most); 600 flag changes = 2 batches (a STORE each);
	// the move (MOVE); Work's flags (STORE: the move kept the flags seen);
	// the deletion (STORE, EXPUNGE): 8.
	if cmds := px.Stats().Commands - before; cmds > 9 || cmds < 7 {
		t.Errorf("%d commands changed %d messages; want a few per batch", cmds, n)
	}
	checkBatchCutover(t, d.Addr, n, moved, deleted)
}

// TestCutoverSurvivesCutsDuringBatches: the connection is cut under the
// batches' commands (before, inside, after the command, after its
// answer); the run reconnects, checks what a cut-off batch did, and
// finishes with each change made and counted once. A second run finds
// nothing to do.
func TestCutoverSurvivesCutsDuringBatches(t *testing.T) {
	// Seeds whose draws cut some of the few UID commands a delta sends.
	for seed := int64(2); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) { cutsDuringBatches(t, seed) })
	}
}

func cutsDuringBatches(t *testing.T, seed int64) {
	const n, moved, deleted = 120, 30, 15
	// The server finishes what it received before the client learns of
	// a cut (as Options.Settle waits for in real runs).
	d, px, tr, archives := batchCutover(t, n, moved, deleted, faultproxy.Options{Verbs: []string{"UID"}, Rate: 0.4, Seed: seed, ServerFirst: true,
		Points: []faultproxy.Point{faultproxy.Inside, faultproxy.AfterCommand, faultproxy.AfterAnswer}})
	var mu sync.Mutex
	var cutOff int
	tr.Logf = func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		if strings.Contains(fmt.Sprintf(f, a...), "cut off") {
			cutOff++
		}
	}
	rep, err := tr.run(context.Background(), archives)
	if rep != nil && rep.Changes != nil {
		for _, c := range rep.Changes.Conflicts {
			t.Logf("conflict: %+v", c)
		}
	}
	if err != nil {
		t.Fatalf("%v; %s", err, rep.Statement)
	}
	st := px.Stats()
	if cutOff == 0 {
		t.Fatalf("no batch was cut off (proxy: %+v): the test proves nothing", st)
	}
	t.Logf("%d batch attempts cut off; proxy %+v", cutOff, st)
	for _, c := range rep.Changes.Conflicts {
		t.Logf("conflict: %+v", c)
	}
	ch := changesOf(t, rep)
	if ch.Updated != n-deleted || ch.Moved != moved || ch.Deleted != deleted || len(ch.Conflicts) != 0 || len(rep.Failures) != 0 {
		t.Errorf("%+v, failures %v; want %d updated, %d moved, %d deleted, each once", ch, rep.Failures, n-deleted, moved, deleted)
	}
	checkBatchCutover(t, d.Addr, n, moved, deleted)

	tr.Logf = nil
	rep, err = tr.run(context.Background(), archives)
	if err != nil {
		t.Fatal(err)
	}
	if ch := changesOf(t, rep); ch.Updated+ch.Moved+ch.Deleted+len(ch.Conflicts) != 0 {
		t.Errorf("the re-run changed %+v; want nothing left to do", ch)
	}
	checkBatchCutover(t, d.Addr, n, moved, deleted)
}

// TestStateSpoolsBesideTheJournal: the delta's state record and a large
// message's body are spooled in the state directory the user named, not
// the OS's temporary directory (here a file, unusable even as root), and
// nothing is left there.
func TestStateSpoolsBesideTheJournal(t *testing.T) {
	_, tr, archives := cutoverSetup(t)
	dir := t.TempDir()
	big := filepath.Join(dir, "big.tgz")
	writeArchive(t, big, []testFolder{{folder: format.Folder{Path: "INBOX"}, msgs: []testMsg{{
		body: append([]byte("Subject: big\r\n\r\n"), bytes.Repeat([]byte("0123456789abcdef\r\n"), 40<<10)...), id: "INBOX/big", received: time.Unix(1e9, 0)}}}})
	file := filepath.Join(dir, "not-a-directory")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", file)
	if rep, err := tr.run(context.Background(), []string{big}); err != nil || rep.Imported != 1 {
		t.Fatalf("a message larger than the memory spool: %v; %s", err, rep.Statement)
	}
	rep, err := tr.run(context.Background(), archives)
	if err != nil {
		t.Fatalf("%v; %s", err, rep.Statement)
	}
	if ch := changesOf(t, rep); ch.Moved != 1 || ch.Updated < 1 {
		t.Errorf("%+v; want the state applied", ch)
	}
	err = filepath.WalkDir(tr.StateDir, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() && filepath.Ext(p) != ".journal" {
			t.Errorf("left in the state directory: %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// A dry run with a state directory that does not exist creates none,
	// and spools beside the first archive.
	dry := tr
	dry.StateDir = filepath.Join(dir, "none")
	if _, rep, err := dry.dryRun(context.Background(), archives); err != nil || rep.Changes == nil {
		t.Fatalf("dry run: %v", err)
	}
	if _, err := os.Stat(dry.StateDir); err == nil {
		t.Errorf("the dry run made %s", dry.StateDir)
	}
}
