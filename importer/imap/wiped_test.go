package imap

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// A journal speaks of mailboxes as they were. When a mailbox is gone from
// the target (the administrator wiped the account) and this run creates it
// again, nothing in it can be "already there": its messages are sent
// again, and the last line does not claim messages the server lacks.
func TestWipedMailboxIsFilledAgainDovecot(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret"})
	dir := t.TempDir()
	archive := filepath.Join(dir, "alice.tgz")
	at := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	writeArchive(t, archive, []testFolder{{folder: format.Folder{Path: "Work"}, msgs: []testMsg{
		{body: []byte("Subject: one\r\nMessage-ID: <1@x>\r\n\r\none\r\n"), received: at},
		{body: []byte("Subject: two\r\nMessage-ID: <2@x>\r\n\r\ntwo\r\n"), received: at},
	}}})
	opt := testRun{Options: Options{Account: account(d.Addr, "alice", "alice-secret"), Provider: "dovecot"},
		Request: importer.Request{User: "alice", StateDir: filepath.Join(dir, "state")}}
	ctx := context.Background()
	if rep, err := opt.run(ctx, []string{archive}); err != nil || rep.Imported != 2 {
		t.Fatalf("first run: %v %+v", err, rep)
	}
	c := testservers.IMAPLogin(t, d.Addr, "alice", "alice-secret")
	if err := c.Delete("Work").Wait(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	rep, err := opt.run(ctx, []string{archive})
	if err != nil || rep.Imported != 2 || rep.Present != 0 {
		t.Fatalf("after the wipe: %v, %d imported, %d present; want both sent again\n%s", err, rep.Imported, rep.Present, rep.Statement)
	}
	if got := readBack(t, d.Addr, "alice", "alice-secret"); len(got["Work"]) != 2 {
		t.Errorf("Work holds %d messages after the second run; want 2", len(got["Work"]))
	}
}
