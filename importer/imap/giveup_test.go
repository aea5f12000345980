package imap

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/importer/imap/faultserver"
)

// TestGiveUpOnlyAfterCheck drops the connection of every APPEND, half of
// them after the server stored the message, so some messages run out of
// attempts. A message the report fails must not be on the target, and
// every other one must be there exactly once. It failed when a message
// whose last attempt was stored was failed without a check (about one in
// 64 messages; 200 make that near certain).
func TestGiveUpOnlyAfterCheck(t *testing.T) {
	srv, err := faultserver.Start(faultserver.Options{Users: map[string]string{"u": "p"}, DropRate: 1, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	msgs := uniqueMessages(200)
	dir := t.TempDir()
	archive := filepath.Join(dir, "u.tgz")
	writeArchive(t, archive, []testFolder{{folder: format.Folder{Path: "INBOX", Role: format.RoleInbox}, msgs: msgs}})
	opt := testRun{Options: Options{Account: account(srv.Addr, "u", "p"), Timeout: 5 * time.Second, BatchMessages: 10, MaxBackoff: 10 * time.Millisecond, Settle: time.Millisecond}, Request: importer.Request{User: "u"}}
	rep, err := opt.run(context.Background(), []string{archive})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s; %s", rep.Line(), rep.Statement)
	failed := map[string]bool{}
	for _, f := range rep.Failures {
		failed[f.Item] = true
	}
	have := map[int64]int{}
	for _, m := range readBack(t, srv.Addr, "u", "p")["INBOX"] {
		have[m.date.Unix()]++
	}
	for i, m := range msgs {
		want := 1
		if failed["INBOX#"+itoa(i)] {
			want = 0
		}
		if n := have[m.received.Unix()]; n != want {
			t.Errorf("message %d is on the target %d times, want %d (failed in the report: %v)", i, n, want, want == 0)
		}
	}
	if rep.Failed == 0 {
		t.Log("no batch ran out of attempts with this seed")
	}
	if rep.Imported+rep.Failed != len(msgs) {
		t.Errorf("imported %d + failed %d, want %d", rep.Imported, rep.Failed, len(msgs))
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
