package imap

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// TestFlagsChangedBetweenBatches: a delta's two flag batches in INBOX
// (m0 gains \Seen: +FLAGS; m1 trades \Flagged for \Seen: FLAGS). The
// first batch's FETCH learns m1's flags ahead; the user then answers m1
// in another session before m1's batch. m1's change must not overwrite
// the user's \Answered: m1 is a conflict, left as the user has it.
func TestFlagsChangedBetweenBatches(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret"})
	dir := t.TempDir()
	msgs := []testMsg{
		{body: []byte("Subject: m0\r\nMessage-ID: <m0@example.org>\r\n\r\nbody 0\r\n"), id: "INBOX/0", received: time.Unix(1e9, 0)},
		{body: []byte("Subject: m1\r\nMessage-ID: <m1@example.org>\r\n\r\nbody 1\r\n"), id: "INBOX/1", received: time.Unix(1e9, 0), flags: []string{`\Flagged`}},
	}
	full := filepath.Join(dir, "full.tgz")
	writeArchive(t, full, []testFolder{{folder: format.Folder{Path: "INBOX"}, msgs: msgs}})
	delta := writeStateArchive(t, dir, "delta.tgz", time.Unix(2e9, 0), nil, []format.StateItem{
		{Kind: format.KindMessage, Folder: "INBOX", SourceID: "INBOX/0", Flags: []string{`\Seen`}},
		{Kind: format.KindMessage, Folder: "INBOX", SourceID: "INBOX/1", Flags: []string{`\Seen`}},
	})
	tr := testRun{Options: Options{Account: account(d.Addr, "alice", "alice-secret"), Provider: "dovecot", Settle: time.Millisecond, MaxBackoff: 500 * time.Millisecond},
		Request: importer.Request{User: "alice", StateDir: filepath.Join(dir, "state"), ApplyDeletions: true}}
	if rep, err := tr.run(context.Background(), []string{full}); err != nil || rep.Imported != 2 {
		t.Fatalf("full: %v", err)
	}
	var once sync.Once
	tr.changeSent = func() {
		once.Do(func() {
			c := testservers.IMAPLogin(t, d.Addr, "alice", "alice-secret")
			defer func() { c.Logout().Wait() }()
			if _, err := c.Select("INBOX", nil).Wait(); err != nil {
				t.Error(err)
				return
			}
			// m1 is the second message appended.
			if err := c.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagAnswered}}, nil).Close(); err != nil {
				t.Error(err)
			}
		})
	}
	if _, err := tr.run(context.Background(), []string{full, delta}); err != nil {
		t.Logf("delta: %v", err)
	}
	for _, m := range readBack(t, d.Addr, "alice", "alice-secret")["INBOX"] {
		if strings.Contains(m.head, "m1") && !slices.Contains(m.flags, `\Answered`) {
			t.Errorf("m1 has %v: the user's \\Answered, set between two batches, was overwritten", m.flags)
		}
	}
}
