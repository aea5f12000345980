package imap

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/journal"
	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/progress"
)

// TestOldJournalNameIsMoved starts a migration as the version before
// issue 10 kept its journal (<state>/<user>@<addr>.imap.journal) and goes
// on with this one: the journal is found, moved to journal.Path with its
// records, and nothing is sent twice. A dry run reads it where it is.
func TestOldJournalNameIsMoved(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret"})
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	msgs := uniqueMessages(6)
	first, all := filepath.Join(dir, "first.tgz"), filepath.Join(dir, "all.tgz")
	writeArchive(t, first, []testFolder{{folder: format.Folder{Path: "INBOX", Role: format.RoleInbox}, msgs: msgs[:3]}})
	writeArchive(t, all, []testFolder{{folder: format.Folder{Path: "INBOX", Role: format.RoleInbox}, msgs: msgs}})
	opt := testRun{Options: Options{Account: account(d.Addr, "alice", "alice-secret"), Provider: "dovecot"},
		Request: importer.Request{User: "alice", StateDir: state}}
	ctx := context.Background()
	if _, err := opt.run(ctx, []string{first}); err != nil {
		t.Fatal(err)
	}
	// Put the journal where the old version kept it.
	newPath := journal.Path(state, "alice", "imap", d.Addr)
	oldPath := filepath.Join(state, oldJournalName("alice", d.Addr))
	if want := "alice@127.0.0.1_"; !bytes.HasPrefix([]byte(filepath.Base(oldPath)), []byte(want)) {
		t.Fatalf("old journal name %q, want it to start %q", filepath.Base(oldPath), want)
	}
	before, err := os.ReadFile(newPath)
	if err != nil || len(before) == 0 {
		t.Fatalf("first run's journal: %v (%d bytes)", err, len(before))
	}
	if err := os.Rename(newPath, oldPath); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Dir(newPath))

	plan, _, err := opt.dryRun(ctx, []string{all})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Folders) != 1 || plan.Folders[0].Present != 3 || plan.Folders[0].Items != 3 {
		t.Errorf("dry run over the old journal: plan %+v, want 3 present and 3 to send", plan.Folders)
	}
	if _, err := os.Stat(oldPath); err != nil {
		t.Errorf("the dry run moved the old journal: %v", err)
	}

	rep, err := opt.run(ctx, []string{all})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Imported != 3 || rep.Present != 3 || rep.Failed != 0 {
		t.Errorf("second run: %s; want 3 imported, 3 present", rep.Line())
	}
	if _, err := os.Stat(oldPath); !os.IsNotExist(err) {
		t.Errorf("the old journal is still at %s (%v)", oldPath, err)
	}
	after, err := os.ReadFile(newPath)
	if err != nil || !bytes.HasPrefix(after, before) || len(after) == len(before) {
		t.Errorf("journal at %s: %d bytes (%v); want the first run's %d bytes carried over, then more", newPath, len(after), err, len(before))
	}
	if got := len(readBack(t, d.Addr, "alice", "alice-secret")["INBOX"]); got != 6 {
		t.Errorf("INBOX holds %d messages, want 6", got)
	}
}

// TestProgressCountsPresent imports an archive twice: the second run
// finds every message there, and its progress must still reach the
// total. The bar stood still for messages already present before.
func TestProgressCountsPresent(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret"})
	dir := t.TempDir()
	archive := filepath.Join(dir, "alice.tgz")
	msgs := uniqueMessages(12)
	writeArchive(t, archive, []testFolder{
		{folder: format.Folder{Path: "INBOX", Role: format.RoleInbox}, msgs: msgs[:7]},
		{folder: format.Folder{Path: "Work"}, msgs: msgs[7:]},
	})
	var mu sync.Mutex
	var last progress.Event
	events := 0
	opt := testRun{Options: Options{Account: account(d.Addr, "alice", "alice-secret"), Provider: "dovecot"},
		Request: importer.Request{User: "alice", StateDir: filepath.Join(dir, "state"), Progress: func(e progress.Event) {
			mu.Lock()
			defer mu.Unlock()
			if e.Items < last.Items || e.Bytes < last.Bytes {
				t.Errorf("progress went back: %+v after %+v", e, last)
			}
			last = e
			events++
		}}}
	var size int64
	for _, m := range msgs {
		size += int64(len(crlf(m.body)))
	}
	for run := 1; run <= 2; run++ {
		mu.Lock()
		last, events = progress.Event{}, 0
		mu.Unlock()
		rep, err := opt.run(context.Background(), []string{archive})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		if last.Items != 12 || last.Bytes != size || last.Stage != "import" || last.User != "alice" || last.Folder == "" {
			t.Errorf("run %d (%s): last progress %+v after %d events; want 12 items, %d bytes, stage, user and folder", run, rep.Line(), last, events, size)
		}
		mu.Unlock()
		if run == 2 && rep.Present != 12 {
			t.Errorf("second run: %s, want all 12 present", rep.Line())
		}
	}
}
