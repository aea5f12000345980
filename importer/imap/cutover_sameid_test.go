package imap

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// TestCutoverMovesASourceIDInAnotherFolder: a source whose sourceIds do
// not change with the folder (Zimbra's item ids) lists a moved message
// under the same sourceId in its new folder: the placed copy is moved
// there (with its new flags), not left behind as a label copy.
func TestCutoverMovesASourceIDInAnotherFolder(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret"})
	dir := t.TempDir()
	when := time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)
	full := writeStateArchive(t, dir, "full.tgz", time.Time{}, []format.Item{{Kind: format.KindMessage, Folder: "INBOX", SourceID: "zimbra:300",
		Received: when}}, nil)
	delta := writeStateArchive(t, dir, "delta.tgz", when.Add(time.Hour), nil, []format.StateItem{{Kind: format.KindMessage, Folder: "Work",
		SourceID: "zimbra:300", Flags: []string{`\Seen`}}})
	tr := testRun{Options: Options{Account: account(d.Addr, "alice", "alice-secret"), Provider: "dovecot", Settle: time.Millisecond},
		Request: importer.Request{User: "alice", StateDir: filepath.Join(dir, "state"), ApplyDeletions: true}}
	if rep, err := tr.run(context.Background(), []string{full}); err != nil || rep.Imported != 1 {
		t.Fatalf("full: %v; %s", err, rep.Statement)
	}
	for run := range 2 {
		rep, err := tr.run(context.Background(), []string{full, delta})
		if err != nil {
			t.Fatal(err)
		}
		if ch := changesOf(t, rep); run == 0 && (ch.Moved != 1 || ch.Deleted != 0) || run == 1 && (ch.Moved != 0 || ch.Updated != 0 || ch.Deleted != 0) {
			t.Errorf("run %d: %+v", run, ch)
		}
		if got := targetView(t, d.Addr); !slices.Equal(got, []string{`Work: labelled \Seen`}) {
			t.Errorf("run %d: the target holds %q", run, got)
		}
	}
}
