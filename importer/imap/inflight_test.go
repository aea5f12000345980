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

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/faultproxy"
	"github.com/mailhaul/mailhaul/internal/journal"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// TestCancelWithBatchInFlight stops a run (Ctrl-C) while a MULTIAPPEND to
// the real Dovecot is in flight: a proxy holds the server's answer to the
// first APPEND and cancels the run's context meanwhile. Closing our own
// connection is no dropped connection: nothing may say "connection lost"
// or count it as a slowdown, and the statement must not say the rest of
// the archives was not read when all of it was.
//
// When the answer comes soon after the stop, the messages it confirms are
// imported and journalled done. When it does not come in time, they are
// reported as in flight, possibly on the target, and stay pending in the
// journal; the next run finds them there and sends nothing twice.
//
// It failed before: the batch in flight was taken for one cut off by a
// dropped connection and failed ("the run stopped early after its
// connection dropped"), the log said "connection lost", a note said the
// run slowed down for dropped connections, and the statement said the
// rest of the archives was not read.
func TestCancelWithBatchInFlight(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"soon": "secret", "late": "secret"})
	for _, tc := range []struct {
		user string
		hold time.Duration // how long the answer is held after the stop; 0: until the run ended
	}{{"soon", 300 * time.Millisecond}, {"late", 0}} {
		t.Run(tc.user, func(t *testing.T) {
			msgs := uniqueMessages(200)
			dir := t.TempDir()
			archive := filepath.Join(dir, tc.user+".tgz")
			writeArchive(t, archive, []testFolder{{folder: format.Folder{Path: "INBOX", Role: format.RoleInbox}, msgs: msgs}})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			released, read := make(chan struct{}), make(chan struct{})
			var once sync.Once
			px, err := faultproxy.Start(faultproxy.Options{Upstream: d.Addr, Verbs: []string{"APPEND"},
				Answer: func(string) {
					once.Do(func() {
						// The stop comes once the reader finished the
						// archive (bounded: the check below says if not).
						select {
						case <-read:
						case <-time.After(30 * time.Second):
						}
						cancel()
						if tc.hold > 0 {
							time.Sleep(tc.hold)
						} else {
							<-released
						}
					})
				}})
			if err != nil {
				t.Fatal(err)
			}
			defer px.Close()
			opt := testRun{Options: Options{Account: account(px.Addr, tc.user, "secret"), Provider: "dovecot", Connections: 1, BatchMessages: 50, Timeout: 20 * time.Second, Settle: 100 * time.Millisecond,
				readDone: func() { close(read) }}, Request: importer.Request{User: tc.user, StateDir: dir}}
			var logs []string
			var logMu sync.Mutex
			opt.Logf = func(f string, a ...any) {
				logMu.Lock()
				logs = append(logs, fmt.Sprintf(f, a...))
				logMu.Unlock()
			}
			rep, err := opt.run(ctx, []string{archive})
			close(released)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Run error = %v, want context.Canceled", err)
			}
			t.Logf("%s; %s; notes %q", rep.Line(), rep.Statement, rep.Notes)
			if strings.Contains(strings.Join(logs, "\n"), "connection lost") {
				t.Errorf("log reports a lost connection for our own stop:\n%s", strings.Join(logs, "\n"))
			}
			for _, n := range rep.Notes {
				if strings.Contains(n, "slowed down") {
					t.Errorf("note %q: our own stop counted as a slowdown", n)
				}
			}
			if rep.Status != "cancelled" {
				t.Errorf("status %q, want cancelled", rep.Status)
			}
			if n := rep.Imported + rep.Failed + rep.NotAttempted; n != len(msgs) {
				t.Fatalf("%d of %d messages accounted for; the reader did not finish before the stop", n, len(msgs))
			}
			if strings.Contains(rep.Statement, "not read") || !strings.Contains(rep.Statement, "stopped early") {
				t.Errorf("statement %q: every item was read, and the run stopped early", rep.Statement)
			}
			if rep.Imported == 0 && rep.Failed == 0 {
				t.Fatalf("no batch was in flight at the stop: %s", rep.Line())
			}
			inFlight := map[string]bool{}
			for _, f := range rep.Failures {
				inFlight[f.Item] = true
				if !strings.Contains(f.Reason, "in flight when the run stopped") || !strings.Contains(f.Reason, "may be on the target") ||
					strings.Contains(f.Reason, "dropped") {
					t.Errorf("failure %+v: want it called in flight when the run stopped, possibly on the target", f)
				}
			}
			if tc.hold > 0 && rep.Failed != 0 {
				t.Errorf("answer came %s after the stop, yet %d failed; want them imported", tc.hold, rep.Failed)
			}
			if tc.hold == 0 && (rep.Failed == 0 || rep.Failed%50 != 0) {
				t.Errorf("answer never came: %d failed, want the batches in flight (50 each)", rep.Failed)
			}
			// The journal: done for what the target confirmed, pending
			// (to be checked) for what was in flight or not sent.
			recs, err := journal.Records(journal.Path(dir, tc.user, "imap", px.Addr))
			if err != nil {
				t.Fatal(err)
			}
			done := 0
			for i, m := range msgs {
				id := fmt.Sprintf("INBOX#%d", i)
				r, ok := recs[itemKey("INBOX", id, sumOf(crlf(m.body)))]
				switch {
				case ok && r.State == journal.Done:
					done++
					if inFlight[id] {
						t.Errorf("%s: failed in the report, done in the journal", id)
					}
				case inFlight[id] && (!ok || r.State != journal.Pending):
					t.Errorf("%s: in flight, journal state %v (known %v), want pending", id, r.State, ok)
				}
			}
			if done != rep.Imported {
				t.Errorf("journal has %d done, the report %d imported", done, rep.Imported)
			}

			// The next run finishes, adding nothing twice.
			opt.Logf, opt.readDone = nil, nil
			rep2, err := opt.run(context.Background(), []string{archive})
			if err != nil {
				t.Fatal(err)
			}
			if rep2.Failed != 0 || rep2.Imported+rep2.Present != len(msgs) || rep2.Present < rep.Imported+rep.Failed {
				t.Errorf("next run: %s; want all %d there, at least %d of them already (%v)", rep2.Line(), len(msgs), rep.Imported+rep.Failed, rep2.Failures)
			}
			got := readBack(t, d.Addr, tc.user, "secret")
			seen := map[[32]byte]int{}
			for _, m := range got["INBOX"] {
				seen[m.sum]++
			}
			for i, m := range msgs {
				if n := seen[sumOf(crlf(m.body))]; n != 1 {
					t.Errorf("message %d is on the target %d times", i, n)
				}
			}
			if len(got["INBOX"]) != len(msgs) {
				t.Errorf("INBOX holds %d messages, want %d", len(got["INBOX"]), len(msgs))
			}
		})
	}
}
