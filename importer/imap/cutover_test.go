package imap

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/export/maildir"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/report"
)

// cutoverMaildir writes the source Maildir of the cutover test: INBOX with
// four messages, Archive with one, Trash with one.
func cutoverMaildir(t *testing.T, root string) {
	t.Helper()
	for _, d := range []string{"", ".Archive", ".Trash"} {
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(root, d, sub), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	put := func(path, subject string) {
		body := "Subject: " + subject + "\nFrom: s@example.org\nMessage-ID: <" + subject + "@example.org>\n\nbody of " + subject + "\n"
		if err := os.WriteFile(filepath.Join(root, path), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put("cur/1000000001.M1P1.host:2,S", "a")
	put("cur/1000000002.M2P2.host:2,", "b")  // to be read and flagged at the source
	put("cur/1000000003.M3P3.host:2,S", "c") // to be moved to Archive
	put("cur/1000000004.M4P4.host:2,", "x")  // read at the source, flagged on the target: a conflict
	put(".Archive/cur/1000000005.M5P5.host:2,S", "d")
	put(".Trash/cur/1000000006.M6P6.host:2,S", "e") // to be deleted at the source
}

// targetView is the target as "mailbox: subject flags" lines, sorted.
func targetView(t *testing.T, addr string) []string {
	t.Helper()
	var out []string
	for box, msgs := range readBack(t, addr, "alice", "alice-secret") {
		for _, m := range msgs {
			out = append(out, fmt.Sprintf("%s: %s %s", box, strings.TrimPrefix(m.head, "Subject: "), strings.Join(m.flags, ",")))
		}
	}
	sort.Strings(out)
	return out
}

func changesOf(t *testing.T, rep *report.Report) report.Changes {
	t.Helper()
	if rep.Changes == nil {
		t.Fatalf("the report says no state record was applied: %s", rep.Statement)
	}
	return *rep.Changes
}

// TestDovecotCutoverConverges is issue 13's evidence for import imap: a
// Maildir exported and imported into Dovecot; then at the source one
// message read and flagged, one moved INBOX→Archive, one deleted in Trash,
// one new, and one read that the user meanwhile flagged on the target;
// the delta (--since, with its state record) imported without and then
// with --apply-deletions makes the target equal to the source, except the
// message the user changed, which is a conflict left alone; a further run
// changes nothing.
func TestDovecotCutoverConverges(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret"})
	dir := t.TempDir()
	root := filepath.Join(dir, "Maildir")
	cutoverMaildir(t, root)
	full := exporttest.Export(t, "maildir", root, &maildir.Source{Root: root}, filepath.Join(dir, "full"), "")
	tr := testRun{Options: Options{Account: account(d.Addr, "alice", "alice-secret"), Provider: "dovecot", Settle: time.Millisecond},
		Request: importer.Request{User: "alice", StateDir: filepath.Join(dir, "state")}}
	ctx := context.Background()
	rep, err := tr.run(ctx, []string{full})
	if err != nil || rep.Imported != 6 || rep.Changes != nil {
		t.Fatalf("pre-migration: %v; %s", err, rep.Statement)
	}
	before := targetView(t, d.Addr)
	wantBefore := []string{`Archive: d \Seen`, `INBOX: a \Seen`, `INBOX: b `, `INBOX: c \Seen`, `INBOX: x `, `Trash: e \Seen`}
	if !slices.Equal(before, wantBefore) {
		t.Fatalf("after the pre-migration the target holds\n%s\nwant\n%s", strings.Join(before, "\n"), strings.Join(wantBefore, "\n"))
	}

	// The user works on the new server meanwhile: flags x.
	c := testservers.IMAPLogin(t, d.Addr, "alice", "alice-secret")
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	crit := &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "x"}}}
	found, err := c.UIDSearch(crit, nil).Wait()
	if err != nil || len(found.AllUIDs()) != 1 {
		t.Fatalf("finding x on the target: %v %v", found, err)
	}
	if err := c.Store(imap.UIDSetNum(found.AllUIDs()...), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	c.Logout().Wait()

	// The source changes.
	mv := func(from, to string) {
		if err := os.Rename(filepath.Join(root, from), filepath.Join(root, to)); err != nil {
			t.Fatal(err)
		}
	}
	mv("cur/1000000002.M2P2.host:2,", "cur/1000000002.M2P2.host:2,FS")
	mv("cur/1000000003.M3P3.host:2,S", ".Archive/cur/1000000003.M3P3.host:2,S")
	mv("cur/1000000004.M4P4.host:2,", "cur/1000000004.M4P4.host:2,S")
	if err := os.Remove(filepath.Join(root, ".Trash/cur/1000000006.M6P6.host:2,S")); err != nil {
		t.Fatal(err)
	}
	newName := fmt.Sprintf("%d.M7P7.host", time.Now().Add(time.Hour).Unix())
	if err := os.WriteFile(filepath.Join(root, "new", newName), []byte("Subject: f\nFrom: s@example.org\nMessage-ID: <f@example.org>\n\nnew\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	delta := exporttest.Export(t, "maildir", root, &maildir.Source{Root: root}, filepath.Join(dir, "delta"), full)
	archives := []string{full, delta}

	// Without --apply-deletions: the deletion is listed, not made.
	rep, err = tr.run(ctx, archives)
	if err != nil {
		t.Fatalf("delta: %v; %s", err, rep.Statement)
	}
	t.Logf("delta: %s; %s", rep.Line(), rep.Statement)
	ch := changesOf(t, rep)
	if rep.Imported != 1 || ch.Updated != 1 || ch.Moved != 1 || ch.Deleted != 0 || len(ch.WouldDelete) != 1 || len(ch.Conflicts) != 1 {
		t.Errorf("delta without --apply-deletions: %d added, %+v; want 1 added, 1 updated, 1 moved, 0 deleted, 1 would-delete, 1 conflict", rep.Imported, ch)
	}
	if len(ch.WouldDelete) == 1 && (ch.WouldDelete[0].Folder != "Trash" || ch.WouldDelete[0].Code != report.CodeWouldDelete) {
		t.Errorf("would delete %+v; want the Trash message", ch.WouldDelete[0])
	}
	if len(ch.Conflicts) == 1 && (!strings.HasSuffix(ch.Conflicts[0].Item, "1000000004.M4P4.host") || !strings.Contains(ch.Conflicts[0].Reason, "changed on the target")) {
		t.Errorf("conflict %+v; want x, changed on the target", ch.Conflicts[0])
	}
	if !strings.Contains(rep.Statement, "1 added, 1 updated, 1 moved, 0 deleted, 1 left alone as conflicts") {
		t.Errorf("statement %q", rep.Statement)
	}
	want := []string{`Archive: c \Seen`, `Archive: d \Seen`, `INBOX: a \Seen`, `INBOX: b \Flagged,\Seen`, `INBOX: f `, `INBOX: x \Flagged`, `Trash: e \Seen`}
	if got := targetView(t, d.Addr); !slices.Equal(got, want) {
		t.Errorf("after the delta the target holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// With --apply-deletions: the deleted message goes; the rest is done.
	tr.ApplyDeletions = true
	rep, err = tr.run(ctx, archives)
	if err != nil {
		t.Fatalf("delta with --apply-deletions: %v; %s", err, rep.Statement)
	}
	t.Logf("with --apply-deletions: %s; %s", rep.Line(), rep.Statement)
	ch = changesOf(t, rep)
	if rep.Imported != 0 || ch.Updated != 0 || ch.Moved != 0 || ch.Deleted != 1 || len(ch.WouldDelete) != 0 || len(ch.Conflicts) != 1 {
		t.Errorf("delta with --apply-deletions: %d added, %+v; want only 1 deleted and the conflict still reported", rep.Imported, ch)
	}
	// The source, but for x, which the user flagged and is left so.
	want = []string{`Archive: c \Seen`, `Archive: d \Seen`, `INBOX: a \Seen`, `INBOX: b \Flagged,\Seen`, `INBOX: f `, `INBOX: x \Flagged`}
	converged := targetView(t, d.Addr)
	if !slices.Equal(converged, want) {
		t.Errorf("after --apply-deletions the target holds\n%s\nwant\n%s", strings.Join(converged, "\n"), strings.Join(want, "\n"))
	}

	// Once more: nothing changes, nothing is sent or brought back.
	rep, err = tr.run(ctx, archives)
	if err != nil {
		t.Fatal(err)
	}
	ch = changesOf(t, rep)
	if rep.Imported != 0 || rep.Failed != 0 || ch.Updated != 0 || ch.Moved != 0 || ch.Deleted != 0 || len(ch.WouldDelete) != 0 {
		t.Errorf("third run: %s; %+v; want nothing changed", rep.Statement, ch)
	}
	if got := targetView(t, d.Addr); !slices.Equal(got, converged) {
		t.Errorf("the third run changed the target:\n%s", strings.Join(got, "\n"))
	}
}
