package imap

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/faultproxy"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// TestCutConnectionsExactlyOnce imports through a proxy in front of the
// real Dovecot that cuts APPEND connections at random points (before,
// inside and after a MULTIAPPEND, before and after its tagged answer),
// over many seeds: every message must be on the target exactly once, in
// its folder, and the summary must say so. A failed item is allowed only
// when it is really not on the target. It failed before the check after a
// dropped connection looked in the mailbox the control connection had
// selected, not always in the batch's own (checks of several mailboxes
// take turns on that connection).
func TestCutConnectionsExactlyOnce(t *testing.T) {
	seeds := 10
	if testing.Short() {
		seeds = 3
	}
	users := map[string]string{}
	for seed := 1; seed <= seeds; seed++ {
		users[fmt.Sprintf("cut%d", seed)] = "secret"
	}
	d := testservers.StartDovecot(t, users)
	// Bounded in time as well as in seeds: a slow machine runs fewer.
	deadline := time.Now().Add(60 * time.Second)
	var cuts [4]int
	ran := 0
	for seed := int64(1); seed <= int64(seeds) && time.Now().Before(deadline); seed++ {
		ran++
		user := fmt.Sprintf("cut%d", seed)
		// Most seeds let the importer learn of a cut only once Dovecot has
		// done with what it received: a message missed by the check before
		// a resend is then the check's fault, whatever the machine's load.
		// The last two cut the importer off at once, as a network does, and
		// rely on Options.Settle (2 s here, 5 s by default) for Dovecot to
		// store what it received.
		serverFirst := seed <= int64(seeds)-2
		settle := time.Millisecond
		if !serverFirst {
			settle = 2 * time.Second
		}
		px, err := faultproxy.Start(faultproxy.Options{Upstream: d.Addr, Verbs: []string{"APPEND"}, Rate: 0.35, Seed: seed,
			ServerFirst: serverFirst})
		if err != nil {
			t.Fatal(err)
		}
		msgs := smallMessages(120, seed)
		// Byte-identical copies, two batches' worth: a copy found after a
		// cut must never be one another batch still has in flight.
		copies := identicalCopies(12, fmt.Sprintf("From: a@example.org\r\nSubject: copy of seed %d\r\n\r\nsame\r\n", seed),
			"copy", time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC))
		folders := []testFolder{
			{folder: format.Folder{Path: "INBOX", Role: format.RoleInbox}, msgs: msgs[:60]},
			{folder: format.Folder{Path: "Projects/2024"}, msgs: msgs[60:100]},
			{folder: format.Folder{Path: "Notes"}, msgs: msgs[100:]},
			{folder: format.Folder{Path: "Copies"}, msgs: copies},
		}
		total := len(msgs) + len(copies)
		dir := t.TempDir()
		archive := filepath.Join(dir, user+".tgz")
		writeArchive(t, archive, folders)
		opt := testRun{Options: Options{Account: account(px.Addr, user, "secret"), Provider: "dovecot", BatchMessages: 8, Timeout: 10 * time.Second, MaxBackoff: 100 * time.Millisecond, Settle: settle}, Request: importer.Request{User: user, StateDir: dir}}
		var logs []string
		var logMu sync.Mutex
		opt.Logf = func(f string, a ...any) {
			logMu.Lock()
			logs = append(logs, time.Now().Format("15:04:05.000 ")+fmt.Sprintf(f, a...))
			logMu.Unlock()
		}
		rep, err := opt.run(context.Background(), []string{archive})
		px.Close()
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		st := px.Stats()
		for i, n := range st.Cuts {
			cuts[i] += n
		}
		failed := map[string]bool{}
		for _, f := range rep.Failures {
			failed[f.Item] = true
		}
		got := readBack(t, d.Addr, user, "secret")
		where := map[string]string{"INBOX": "INBOX", "Projects/2024": "Projects.2024", "Notes": "Notes", "Copies": "Copies"}
		for _, f := range folders {
			box := where[f.folder.Path]
			// Each message, by content and internal date, as many times
			// as the archive has it and the report does not fail it.
			type key struct {
				sum  [32]byte
				date int64
			}
			have, want := map[key]int{}, map[key]int{}
			for _, m := range got[box] {
				have[key{m.sum, m.date.Unix()}]++
			}
			for i, m := range f.msgs {
				id := m.id
				if id == "" {
					id = fmt.Sprintf("%s#%d", f.folder.Path, i)
				}
				if !failed[id] {
					want[key{sumOf(crlf(m.body)), m.received.Unix()}]++
				}
			}
			for i, m := range f.msgs {
				k := key{sumOf(crlf(m.body)), m.received.Unix()}
				if have[k] != want[k] {
					subject := crlf(m.body)[strings.Index(string(crlf(m.body)), "Subject"):]
					t.Errorf("seed %d: %s #%d (%s, %s) is in %q %d times, want %d", seed, f.folder.Path, i, firstLine(subject), m.received, box, have[k], want[k])
				}
			}
			if len(got[box]) > len(f.msgs) {
				t.Errorf("seed %d: %q holds %d messages, the archive %d", seed, box, len(got[box]), len(f.msgs))
			}
		}
		if rep.Imported+rep.Present+rep.Failed != total {
			t.Errorf("seed %d: report counts %d imported, %d present, %d failed; want %d in all", seed, rep.Imported, rep.Present, rep.Failed, total)
		}
		t.Logf("seed %d: %s; proxy %+v", seed, rep.Line(), st)
		if t.Failed() {
			t.Logf("seed %d: %s\n%s", seed, rep.Statement, strings.Join(logs, "\n"))
			return
		}
	}
	t.Logf("%d seeds; cuts %v (before, inside, after the command, after its answer)", ran, cuts)
	for p, n := range cuts {
		if n == 0 {
			t.Errorf("no cut %s in any seed", faultproxy.Point(p))
		}
	}
}
