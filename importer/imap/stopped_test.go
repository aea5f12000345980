package imap

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/importer/imap/faultserver"
	"github.com/mailhaul/mailhaul/progress"
)

// TestStoppedRunClaimsNothing cancels a run after its first messages have
// landed: the report written for it must not say every message is on the
// target, since the rest of the archive was never read.
func TestStoppedRunClaimsNothing(t *testing.T) {
	srv, err := faultserver.Start(faultserver.Options{Users: map[string]string{"u": "p"}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	msgs := uniqueMessages(400)
	archive := filepath.Join(t.TempDir(), "u.tgz")
	writeArchive(t, archive, []testFolder{{folder: format.Folder{Path: "INBOX", Role: format.RoleInbox}, msgs: msgs}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opt := testRun{Options: Options{Account: account(srv.Addr, "u", "p"), Timeout: 10 * time.Second, Connections: 1, Settle: 50 * time.Millisecond}, Request: importer.Request{User: "u", Progress: func(progress.Event) { cancel() }}}
	rep, err := opt.run(ctx, []string{archive})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error = %v, want context.Canceled", err)
	}
	if rep == nil {
		t.Fatal("no report for a stopped run")
	}
	if n := rep.Imported + rep.Present + rep.Failed; n >= len(msgs) {
		t.Skipf("the run finished all %d messages before it was stopped", n)
	}
	if strings.HasPrefix(rep.Statement, "all ") || !strings.Contains(rep.Statement, "stopped early") {
		t.Errorf("statement of a stopped run = %q, want it to say the run stopped early", rep.Statement)
	}
}
