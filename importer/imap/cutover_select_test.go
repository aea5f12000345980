package imap

import (
	"context"
	"slices"
	"strings"
	"testing"

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
	got := targetView(t, d.Addr)
	if !slices.Contains(got, `INBOX: c \Seen`) && !slices.Contains(got, `Archive: c \Seen`) {
		t.Errorf("c, moved at the source, is gone from the target:\n%s", strings.Join(got, "\n"))
	}
	if !slices.Contains(got, `Trash: e \Seen`) {
		t.Errorf("e in Trash (outside the run's folders) was touched:\n%s", strings.Join(got, "\n"))
	}
}
