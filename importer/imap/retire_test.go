package imap

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/importer/imap/faultserver"
	"github.com/mailhaul/mailhaul/progress"
)

// TestCancelWaitsForRetiredConnection cancels a run while a connection it
// has replaced (its error budget spent) still has commands in flight. Run
// must wait for them: every message read must end in the report it
// returns, none left behind in a queue nobody reads.
func TestCancelWaitsForRetiredConnection(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	first := 0 // the first connection that appends
	hook := func(conn, n int) error {
		mu.Lock()
		if first == 0 {
			first = conn
		}
		isFirst := conn == first
		mu.Unlock()
		switch {
		case !isFirst:
			return nil
		case n == 1:
			// Let the client pipeline the rest behind this command.
			time.Sleep(200 * time.Millisecond)
			return &imap.Error{Type: imap.StatusResponseTypeNo, Text: "refused by the test"}
		default:
			<-release // held in flight until the test ends
			return nil
		}
	}
	srv, err := faultserver.Start(faultserver.Options{Users: map[string]string{"u": "p"}, Hook: hook})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	defer close(release)

	msgs := uniqueMessages(17)
	archive := filepath.Join(t.TempDir(), "u.tgz")
	writeArchive(t, archive, []testFolder{{folder: format.Folder{Path: "INBOX", Role: format.RoleInbox}, msgs: msgs}})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logMu sync.Mutex
	var logs []string
	// The retired connection's collectors wait stopGrace for the answers
	// held here before they give up: a Run that does not wait for them
	// returns first.
	opt := testRun{Options: Options{Account: account(srv.Addr, "u", "p"), Timeout: 10 * time.Second, Connections: 1, ErrorBudget: 1, Settle: 50 * time.Millisecond},
		// The first message confirmed went over the new connection: stop.
		Request: importer.Request{User: "u", Progress: func(progress.Event) { cancel() }, Logf: func(f string, a ...any) {
			logMu.Lock()
			logs = append(logs, fmt.Sprintf(f, a...))
			logMu.Unlock()
		}}}
	rep, err := opt.run(ctx, []string{archive})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error = %v, want context.Canceled", err)
	}
	if got := rep.Imported + rep.Present + rep.Failed; got != len(msgs) {
		t.Errorf("report counts %d imported, %d present, %d failed: %d messages, want all %d",
			rep.Imported, rep.Present, rep.Failed, got, len(msgs))
	}
	uncertain := 0
	for _, f := range rep.Failures {
		if f.Reason == inFlightReason {
			uncertain++
		}
	}
	if uncertain == 0 {
		t.Errorf("no failure says its message was in flight and may be on the target: %v", rep.Failures)
	}
	logMu.Lock()
	all := strings.Join(logs, "\n")
	logMu.Unlock()
	if !strings.Contains(all, "reconnecting before the server's limit") {
		t.Errorf("the test did not retire a connection with commands in flight; log:\n%s", all)
	}
}
