package imap

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/export/maildir"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/journal"
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

// onTargetDo does what a user would on the target: fn on the message of
// subject in mailbox, selected.
func onTargetDo(t *testing.T, addr, mailbox, subject string, fn func(c *imapclient.Client, uid imap.UIDSet) error) {
	t.Helper()
	c := testservers.IMAPLogin(t, addr, "alice", "alice-secret")
	defer func() { c.Logout().Wait() }()
	if _, err := c.Select(mailbox, nil).Wait(); err != nil {
		t.Fatalf("select %s on the target: %v", mailbox, err)
	}
	crit := &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: subject}}}
	found, err := c.UIDSearch(crit, nil).Wait()
	if err != nil || len(found.AllUIDs()) != 1 {
		t.Fatalf("finding %s in %s on the target: %v %v", subject, mailbox, found, err)
	}
	if err := fn(c, imap.UIDSetNum(found.AllUIDs()...)); err != nil {
		t.Fatalf("on the target, %s in %s: %v", subject, mailbox, err)
	}
}

func changesOf(t *testing.T, rep *report.Report) report.Changes {
	t.Helper()
	if rep.Changes == nil {
		t.Fatalf("the report says no state record was applied: %s", rep.Statement)
	}
	return *rep.Changes
}

// cutoverSetup is the cutover tests' start: the Maildir exported and
// imported into Dovecot, then changed at the source (b read and flagged,
// c moved to Archive, x read, e deleted from Trash, f new) and exported
// as a delta. It returns the server, the run and the archives, full first.
func cutoverSetup(t *testing.T) (*testservers.Dovecot, testRun, []string) {
	t.Helper()
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
	return d, tr, archives
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
	d, tr, archives := cutoverSetup(t)
	ctx := context.Background()
	// The user works on the new server meanwhile: flags x.
	onTargetDo(t, d.Addr, "INBOX", "x", func(c *imapclient.Client, uid imap.UIDSet) error {
		return c.Store(uid, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close()
	})

	// A dry run with --apply-deletions says what the import would do, and
	// changes nothing.
	dry := tr
	dry.ApplyDeletions = true
	unchanged := targetView(t, d.Addr)
	_, drep, err := dry.dryRun(ctx, archives)
	if err != nil {
		t.Fatal(err)
	}
	if dch := changesOf(t, drep); drep.WouldImport != 1 || dch.Updated != 1 || dch.Moved != 1 || dch.Deleted != 1 || len(dch.Conflicts) != 1 ||
		!strings.Contains(drep.Statement, "would make 1 added, 1 updated, 1 moved, 1 deleted, 1 left alone as conflicts") {
		t.Errorf("dry run: %d would be imported, %+v; %s", drep.WouldImport, dch, drep.Statement)
	}
	if got := targetView(t, d.Addr); !slices.Equal(got, unchanged) {
		t.Errorf("the dry run changed the target:\n%s", strings.Join(got, "\n"))
	}

	// Without --apply-deletions: the deletion is listed, not made.
	rep, err := tr.run(ctx, archives)
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
	// The last line: x keeps the target's flag, so never "all ... on the
	// target"; the 7 items of the full and the delta are counted once.
	if want := "not all 7 items of the archives are on the target in the source's version: 1 left alone as conflicts keep the target's version, " +
		"each listed under conflicts with its reason (1 imported now, 6 already there, 0 skipped on purpose); " +
		"converging on the source's state: 1 added, 1 updated, 1 moved, 0 deleted, 1 left alone as conflicts; " +
		"1 deleted at the source are still on the target, listed under wouldDelete (--apply-deletions deletes them)"; rep.Statement != want {
		t.Errorf("statement:\n%s\nwant\n%s", rep.Statement, want)
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

// TestDovecotCutoverFinishesAnUnjournaledMove: a run stopped between a
// MOVE (or an EXPUNGE) and its journal line is finished by the next one:
// the message found in the destination by Message-ID and size is taken
// as moved, the one already gone as deleted, and neither is a conflict.
func TestDovecotCutoverFinishesAnUnjournaledMove(t *testing.T) {
	d, tr, archives := cutoverSetup(t)
	// What the stopped run did on the target, without a journal line.
	onTargetDo(t, d.Addr, "INBOX", "c", func(c *imapclient.Client, uid imap.UIDSet) error {
		_, err := c.Move(uid, "Archive").Wait()
		return err
	})
	onTargetDo(t, d.Addr, "Trash", "e", func(c *imapclient.Client, uid imap.UIDSet) error {
		if err := c.Store(uid, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			return err
		}
		return c.UIDExpunge(uid).Close()
	})
	tr.ApplyDeletions = true
	rep, err := tr.run(context.Background(), archives)
	if err != nil {
		t.Fatalf("%v; %s", err, rep.Statement)
	}
	ch := changesOf(t, rep)
	if rep.Imported != 1 || ch.Moved != 1 || ch.Updated != 2 || len(ch.Conflicts) != 0 || len(ch.WouldDelete) != 0 {
		t.Errorf("%d added, %+v; want 1 added, 1 moved, 2 updated, no conflict", rep.Imported, ch)
	}
	want := []string{`Archive: c \Seen`, `Archive: d \Seen`, `INBOX: a \Seen`, `INBOX: b \Flagged,\Seen`, `INBOX: f `, `INBOX: x \Seen`}
	if got := targetView(t, d.Addr); !slices.Equal(got, want) {
		t.Errorf("the target holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The journal knows it all now: a second run changes nothing.
	rep, err = tr.run(context.Background(), archives)
	if ch := changesOf(t, rep); err != nil || ch.Moved+ch.Updated+ch.Deleted+len(ch.Conflicts) != 0 || rep.Imported != 0 {
		t.Errorf("second run: %v; %s", err, rep.Statement)
	}
}

// TestDovecotCutoverWithoutJournal: the journal of the pre-migration is
// lost; the delta's import finds the messages by Message-ID and size, and
// takes those with the archive's flags as mailhaul's: the target still
// converges on the source.
func TestDovecotCutoverWithoutJournal(t *testing.T) {
	d, tr, archives := cutoverSetup(t)
	if err := os.RemoveAll(tr.StateDir); err != nil {
		t.Fatal(err)
	}
	tr.ApplyDeletions = true
	rep, err := tr.run(context.Background(), archives)
	if err != nil {
		t.Fatalf("%v; %s", err, rep.Statement)
	}
	ch := changesOf(t, rep)
	if rep.Imported != 1 || ch.Updated != 2 || ch.Moved != 1 || ch.Deleted != 1 || len(ch.Conflicts) != 0 {
		t.Errorf("%d added, %+v; want 1 added, 2 updated (b and x), 1 moved, 1 deleted, no conflict", rep.Imported, ch)
	}
	want := []string{`Archive: c \Seen`, `Archive: d \Seen`, `INBOX: a \Seen`, `INBOX: b \Flagged,\Seen`, `INBOX: f `, `INBOX: x \Seen`}
	if got := targetView(t, d.Addr); !slices.Equal(got, want) {
		t.Errorf("the target holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestDovecotCutoverLeavesOlderJournalsAlone: records of a journal
// written before the cutover fields (no sourceId, folder or flags) still
// read, keep their messages from being sent again, and the state record
// changes none of them; the report says so.
func TestDovecotCutoverLeavesOlderJournalsAlone(t *testing.T) {
	d, tr, archives := cutoverSetup(t)
	// Rewrite the journal as an earlier version wrote it.
	paths, _ := filepath.Glob(filepath.Join(tr.StateDir, "*", "*.journal"))
	if len(paths) != 1 {
		t.Fatalf("journals: %v", paths)
	}
	recs, err := journal.Records(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	var lines []byte
	for _, r := range recs {
		old := journal.Record{Key: r.Key, State: r.State, Where: r.Where, Ref: r.Ref, At: r.At}
		b, _ := json.Marshal(old)
		lines = append(append(lines, b...), '\n')
	}
	if err := os.WriteFile(paths[0], lines, 0o600); err != nil {
		t.Fatal(err)
	}
	before := targetView(t, d.Addr)
	tr.ApplyDeletions = true
	rep, err := tr.run(context.Background(), archives)
	if err != nil {
		t.Fatalf("%v; %s", err, rep.Statement)
	}
	ch := changesOf(t, rep)
	if rep.Imported != 1 || rep.Present != 6 || ch.Updated+ch.Moved+ch.Deleted+len(ch.Conflicts)+len(ch.WouldDelete) != 0 {
		t.Errorf("%d added, %d present, %+v; want the new message alone, nothing changed", rep.Imported, rep.Present, ch)
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "6 messages were placed by an earlier mailhaul") }) {
		t.Errorf("notes %q do not say that 6 messages were left alone", rep.Notes)
	}
	want := append(slices.Clone(before), `INBOX: f `)
	sort.Strings(want)
	if got := targetView(t, d.Addr); !slices.Equal(got, want) {
		t.Errorf("the target holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCutoverKeepsLabelCopies: a message stored once with labels was
// placed in each label's folder under one sourceId; a delta's state that
// lists it once (in its own folder) deletes none of the copies, even
// with --apply-deletions, and changes its flags where it is listed.
func TestCutoverKeepsLabelCopies(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret"})
	dir := t.TempDir()
	when := time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)
	full := writeStateArchive(t, dir, "full.tgz", time.Time{}, []format.Item{{Kind: format.KindMessage, Folder: "INBOX", SourceID: "m1",
		Labels: []string{"Work"}, Received: when}}, nil)
	delta := writeStateArchive(t, dir, "delta.tgz", when.Add(time.Hour), nil, []format.StateItem{{Kind: format.KindMessage, Folder: "INBOX",
		SourceID: "m1", Flags: []string{`\Seen`}}})
	tr := testRun{Options: Options{Account: account(d.Addr, "alice", "alice-secret"), Provider: "dovecot", Settle: time.Millisecond},
		Request: importer.Request{User: "alice", StateDir: filepath.Join(dir, "state"), ApplyDeletions: true}}
	if rep, err := tr.run(context.Background(), []string{full}); err != nil || rep.Imported != 2 {
		t.Fatalf("full: %v; %s", err, rep.Statement)
	}
	rep, err := tr.run(context.Background(), []string{full, delta})
	if err != nil {
		t.Fatal(err)
	}
	ch := changesOf(t, rep)
	if ch.Deleted != 0 || len(ch.WouldDelete) != 0 || ch.Updated != 1 || ch.Moved != 0 {
		t.Errorf("%+v; want the INBOX copy updated, the Work copy left", ch)
	}
	want := []string{`INBOX: labelled \Seen`, `Work: labelled `}
	if got := targetView(t, d.Addr); !slices.Equal(got, want) {
		t.Errorf("the target holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCutoverDeletesNothingItCannotTellFromAMove: a state line mailhaul
// cannot match (a new sourceId without key or Message-ID) may be a placed
// message moved: no deletion is made, even with --apply-deletions, and
// the one that would be is listed with the reason.
func TestCutoverDeletesNothingItCannotTellFromAMove(t *testing.T) {
	d, tr, dir, full := oneMessagePlaced(t, "Subject: m\r\n\r\nbody\r\n")
	delta := writeStateArchive(t, dir, "delta.tgz", time.Unix(2e9, 0), nil,
		[]format.StateItem{{Kind: format.KindMessage, Folder: "Work", SourceID: "Work/7"}})
	rep, err := tr.run(context.Background(), []string{full, delta})
	if err != nil {
		t.Fatal(err)
	}
	ch := changesOf(t, rep)
	if ch.Deleted != 0 || len(ch.WouldDelete) != 1 || !strings.Contains(ch.WouldDelete[0].Reason, "may have moved") {
		t.Errorf("%+v; want no deletion, the INBOX message listed as one that may have moved", ch)
	}
	if got := targetView(t, d.Addr); !slices.Equal(got, []string{"INBOX: m "}) {
		t.Errorf("the target holds %q", got)
	}
}

// oneMessagePlaced is a full archive of INBOX (one message, body) and an
// empty Work, imported into a new Dovecot by a run with
// --apply-deletions; it returns the server, the run, its directory and
// the archive.
func oneMessagePlaced(t *testing.T, body string) (*testservers.Dovecot, testRun, string, string) {
	t.Helper()
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret"})
	dir := t.TempDir()
	full := filepath.Join(dir, "full.tgz")
	writeArchive(t, full, []testFolder{{folder: format.Folder{Path: "INBOX"}, msgs: []testMsg{
		{body: []byte(body), id: "INBOX/1", received: time.Unix(1e9, 0)}}},
		{folder: format.Folder{Path: "Work"}}})
	tr := testRun{Options: Options{Account: account(d.Addr, "alice", "alice-secret"), Provider: "dovecot", Settle: time.Millisecond},
		Request: importer.Request{User: "alice", StateDir: filepath.Join(dir, "state"), ApplyDeletions: true}}
	if rep, err := tr.run(context.Background(), []string{full}); err != nil || rep.Imported != 1 {
		t.Fatalf("full: %v; %s", err, rep.Statement)
	}
	return d, tr, dir, full
}

// writeStateArchive writes an archive of folders INBOX and Work into dir:
// items (each the one "labelled" message) and, for a delta (after set),
// the state record; problems go in its summary.
func writeStateArchive(t *testing.T, dir, name string, after time.Time, items []format.Item, state []format.StateItem, problems ...format.Problem) string {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := format.NewWriter(f, format.Manifest{User: "alice", Source: format.Source{Kind: "test"}, After: after},
		&format.WriterOptions{SpillDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"INBOX", "Work"} {
		if err := w.AddFolder(format.Folder{Kind: format.FolderMail, Path: p}); err != nil {
			t.Fatal(err)
		}
	}
	for _, it := range items {
		if err := w.AddItem(it, strings.NewReader("Subject: labelled\r\nMessage-ID: <l@example.com>\r\n\r\nbody\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range problems {
		w.AddError(p) // in the summary, before the state
	}
	for _, s := range state {
		if err := w.AddState(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
