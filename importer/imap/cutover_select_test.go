package imap

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
)

// TestCutoverSelectMovedOutIsNotDeleted: a run restricted to INBOX
// (--folder) with --apply-deletions, where the source moved c from INBOX
// to Archive: c left the selected folders, it was not deleted; the run
// must not delete it (nor touch Archive).
func TestCutoverSelectMovedOutIsNotDeleted(t *testing.T) {
	d, tr, archives := cutoverSetup(t)
	tr.ApplyDeletions = true
	tr.Select = importer.Select{Folders: []string{"INBOX"}}
	rep, err := tr.run(context.Background(), archives)
	if err != nil {
		t.Fatalf("delta restricted to INBOX: %v; %s", err, rep.Statement)
	}
	ch := changesOf(t, rep)
	if ch.Deleted != 0 {
		t.Errorf("a run restricted to INBOX deleted %d messages; c only moved to Archive: %s", ch.Deleted, rep.Statement)
	}
	if want := "1 messages mailhaul placed were moved at the source into folders this run does not take (--folder)"; !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.HasPrefix(n, want) }) {
		t.Errorf("notes %q lack %q", rep.Notes, want)
	}
	got := targetView(t, d.Addr)
	if !slices.Contains(got, `INBOX: c \Seen`) && !slices.Contains(got, `Archive: c \Seen`) {
		t.Errorf("c, moved at the source, is gone from the target:\n%s", strings.Join(got, "\n"))
	}
	if !slices.Contains(got, `Trash: e \Seen`) {
		t.Errorf("e in Trash (outside the run's folders) was touched:\n%s", strings.Join(got, "\n"))
	}
}

// TestCutoverBrokenFolderBlocksDeletions: the delta's export could not
// list Work completely (its summary names Work), and the message
// mailhaul placed in INBOX is in no state line: it may have moved into
// Work, so even with --apply-deletions it is not deleted, and it is
// listed with the reason.
func TestCutoverBrokenFolderBlocksDeletions(t *testing.T) {
	d, tr, dir, full := oneMessagePlaced(t, "Subject: m\r\nMessage-ID: <m@example.org>\r\n\r\nbody\r\n")
	// INBOX holds another message now (not carried: the test is the state).
	delta := writeStateArchive(t, dir, "delta.tgz", time.Unix(2e9, 0), nil,
		[]format.StateItem{{Kind: format.KindMessage, Folder: "INBOX", SourceID: "INBOX/2", Key: "2"}},
		format.Problem{Folder: "Work", Item: "(folder state)", Reason: "the listing failed"})
	rep, err := tr.run(context.Background(), []string{full, delta})
	if err != nil {
		t.Fatal(err)
	}
	ch := changesOf(t, rep)
	if ch.Deleted != 0 || len(ch.WouldDelete) != 1 || !strings.Contains(ch.WouldDelete[0].Reason, `could not list "Work" completely`) {
		t.Errorf("%+v; want no deletion, the INBOX message listed as one that may have moved into Work", ch)
	}
	if got := targetView(t, d.Addr); !slices.Equal(got, []string{"INBOX: m "}) {
		t.Errorf("the target holds %q", got)
	}
}
