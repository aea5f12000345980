package imap

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/journal"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// identicalCopies builds what Dovecot's search-intdate.mbox holds (written
// here, not copied): n byte-identical messages, each with its own received
// date and its own sourceId.
func identicalCopies(n int, body string, prefix string, from time.Time) []testMsg {
	out := make([]testMsg, n)
	for i := range out {
		out[i] = testMsg{body: []byte(body), received: from.Add(time.Duration(i) * 24 * time.Hour),
			id: fmt.Sprintf("%s#%d", prefix, i)}
	}
	return out
}

const (
	copyWithID    = "From: a@example.org\r\nTo: b@example.org\r\nMessage-ID: <same@example.org>\r\nSubject: the same\r\n\r\nbody\r\n"
	copyWithoutID = "From: a@example.org\r\nSubject: no id\r\n\r\nsame bytes again\r\n"
)

// datesIn returns the internal dates of the messages of box whose bytes
// are body, as Unix seconds.
func datesIn(got map[string][]onTarget, box, body string) map[int64]int {
	sum := sumOf(crlf([]byte(body)))
	out := map[int64]int{}
	for _, m := range got[box] {
		if m.sum == sum {
			out[m.date.Unix()]++
		}
	}
	return out
}

// TestIdenticalCopiesKept imports byte-identical messages with different
// received dates into one folder: every copy must arrive with its date,
// and a re-run (with and without the journal) and a delta overlapping the
// full archive by sourceId must add nothing, while new copies in the delta
// do arrive. An old journal keyed by content alone must still prevent a
// duplicate of the copy it recorded.
func TestIdenticalCopiesKept(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret", "bob": "bob-secret"})
	dir := t.TempDir()
	base := time.Date(2003, 5, 1, 10, 0, 0, 0, time.UTC)
	inbox := identicalCopies(16, copyWithID, "intdate", base)
	other := identicalCopies(3, copyWithoutID, "noid", base)
	full := []testFolder{
		{folder: format.Folder{Path: "INBOX", Role: format.RoleInbox}, msgs: inbox},
		{folder: format.Folder{Path: "Other"}, msgs: other},
	}
	fullPath := filepath.Join(dir, "full.tgz")
	writeArchive(t, fullPath, full)
	opt := testRun{Options: Options{Account: account(d.Addr, "alice", "alice-secret"), Provider: "dovecot", Settle: 50 * time.Millisecond}, Request: importer.Request{User: "alice", StateDir: filepath.Join(dir, "state")}}
	ctx := context.Background()
	total := len(inbox) + len(other)

	check := func(what string, nInbox, nOther int, dates []testMsg) {
		t.Helper()
		got := readBack(t, d.Addr, "alice", "alice-secret")
		if n := len(got["INBOX"]); n != nInbox {
			t.Errorf("%s: INBOX holds %d messages, want %d", what, n, nInbox)
		}
		if n := len(got["Other"]); n != nOther {
			t.Errorf("%s: Other holds %d messages, want %d", what, n, nOther)
		}
		have := datesIn(got, "INBOX", copyWithID)
		for _, m := range dates {
			if have[m.received.Unix()] != 1 {
				t.Errorf("%s: the copy received %s is in INBOX %d times, want 1", what, m.received, have[m.received.Unix()])
			}
		}
	}

	rep, err := opt.run(ctx, []string{fullPath})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Imported != total || rep.Present != 0 || rep.Failed != 0 {
		t.Errorf("first run: %s; want all %d imported", rep.Line(), total)
	}
	check("first run", 16, 3, inbox)

	rep, err = opt.run(ctx, []string{fullPath})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Imported != 0 || rep.Present != total {
		t.Errorf("re-run: %s; want 0 imported, %d present", rep.Line(), total)
	}
	noJournal := opt
	noJournal.StateDir = filepath.Join(dir, "state-2")
	rep, err = noJournal.run(ctx, []string{fullPath})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Imported != 0 || rep.Present != total {
		t.Errorf("re-run without journal: %s; want 0 imported, %d present", rep.Line(), total)
	}
	check("re-runs", 16, 3, inbox)

	// The delta repeats five copies of the full archive (same sourceIds)
	// and brings two more identical copies with new dates and sourceIds.
	more := identicalCopies(2, copyWithID, "intdate-new", base.Add(100*24*time.Hour))
	delta := []testFolder{{folder: format.Folder{Path: "INBOX", Role: format.RoleInbox},
		msgs: append(append([]testMsg{}, inbox[11:]...), more...)}}
	deltaPath := filepath.Join(dir, "delta.tgz")
	writeArchive(t, deltaPath, delta)
	rep, err = opt.run(ctx, []string{deltaPath})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Imported != 2 || rep.Present != 5 {
		t.Errorf("delta: %s; want 2 imported, 5 present", rep.Line())
	}
	all := append(append([]testMsg{}, inbox...), more...)
	check("delta", 18, 3, all)
	// Full and delta together without a journal: 18+3 items, all there.
	noJournal.StateDir = filepath.Join(dir, "state-3")
	rep, err = noJournal.run(ctx, []string{fullPath, deltaPath})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Imported != 0 || rep.Present != total+len(delta[0].msgs) {
		t.Errorf("full and delta without journal: %s; want 0 imported, %d present", rep.Line(), total+len(delta[0].msgs))
	}
	check("full and delta again", 18, 3, all)

	// An old journal (keyed by folder and content) that recorded one copy:
	// the other copies are sent, the recorded one is not.
	bobState := filepath.Join(dir, "bob-state")
	bobOpt := testRun{Options: Options{Account: account(d.Addr, "bob", "bob-secret"), Provider: "dovecot", Settle: 50 * time.Millisecond}, Request: importer.Request{User: "bob", StateDir: bobState}}
	one := filepath.Join(dir, "one.tgz")
	writeArchive(t, one, []testFolder{{folder: format.Folder{Path: "INBOX", Role: format.RoleInbox}, msgs: inbox[:1]}})
	if _, err := bobOpt.run(ctx, []string{one}); err != nil {
		t.Fatal(err)
	}
	jpath := journal.Path(bobState, "bob", "imap", d.Addr)
	recs, err := journal.Records(jpath)
	if err != nil || len(recs) != 1 {
		t.Fatalf("bob's journal: %v, %d records", err, len(recs))
	}
	os.Remove(jpath)
	j, err := journal.Open(jpath)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		r.Key = contentKey("INBOX", sumOf(crlf([]byte(copyWithID))))
		if err := j.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	rep, err = bobOpt.run(ctx, []string{fullPath})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Imported != total-1 || rep.Present != 1 {
		t.Errorf("with an old journal: %s; want %d imported, 1 present", rep.Line(), total-1)
	}
	got := readBack(t, d.Addr, "bob", "bob-secret")
	if n := len(got["INBOX"]); n != 16 {
		t.Errorf("with an old journal: bob's INBOX holds %d messages, want 16", n)
	}
}
