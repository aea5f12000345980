package imap

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// TestRefusedFolderFailsOnlyItsItems imports into a Dovecot with "/" as
// separator over Maildir++, which refuses "." in a mailbox name
// (Thunderbird's "Release v1.2"). That folder's messages must fail, each
// with the server's answer and the way out; the folders around it are
// imported; a run with --folder-map then brings the rest.
func TestRefusedFolderFailsOnlyItsItems(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret"}, testservers.WithSeparator("/"))
	dir := t.TempDir()
	archive := filepath.Join(dir, "alice.tgz")
	msgs := uniqueMessages(7)
	folders := []testFolder{
		{folder: format.Folder{Path: "INBOX", Role: format.RoleInbox}, msgs: msgs[:2]},
		{folder: format.Folder{Path: "Release v1.2", Subscribed: true}, msgs: msgs[2:5]},
		{folder: format.Folder{Path: "Release v1.2/Notes"}, msgs: msgs[5:6]},
		{folder: format.Folder{Path: "Later"}, msgs: msgs[6:]},
	}
	writeArchive(t, archive, folders)
	opt := Options{Addr: d.Addr, User: "alice", Password: "alice-secret", Provider: "dovecot",
		StateDir: filepath.Join(dir, "state"), Timeout: 20 * time.Second}
	ctx := context.Background()

	rep, err := Run(ctx, []string{archive}, opt)
	if err != nil {
		t.Fatalf("Run stopped the whole user: %v", err)
	}
	t.Logf("%s; %s; notes %q", rep.Line(), rep.Statement, rep.Notes)
	if rep.Imported != 3 || rep.Failed != 4 {
		t.Errorf("imported %d, failed %d; want 3 and 4 (%v)", rep.Imported, rep.Failed, rep.Failures)
	}
	for _, f := range rep.Failures {
		if !strings.HasPrefix(f.Folder, "Release v1.2") || !strings.Contains(f.Reason, "refused") ||
			!strings.Contains(f.Reason, "not allowed") || !strings.Contains(f.Reason, "--folder-map") {
			t.Errorf("failure %+v: want the refused folder, the server's answer and --folder-map", f)
		}
	}
	if !strings.Contains(rep.Statement, "4 of 7 items are NOT on the target") {
		t.Errorf("statement %q", rep.Statement)
	}
	got := readBack(t, d.Addr, "alice", "alice-secret")
	if len(got["INBOX"]) != 2 || len(got["Later"]) != 1 {
		t.Errorf("on the target: INBOX %d, Later %d messages; want 2 and 1 (mailboxes %v)", len(got["INBOX"]), len(got["Later"]), keys(got))
	}

	// The fix the failures offer.
	opt.FolderMap = []FolderRule{{From: "Release v1.2", To: "Release v1_2"}}
	rep2, err := Run(ctx, []string{archive}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Imported != 4 || rep2.Present != 3 || rep2.Failed != 0 {
		t.Errorf("with --folder-map: imported %d, present %d, failed %d (%v); want 4, 3, 0", rep2.Imported, rep2.Present, rep2.Failed, rep2.Failures)
	}
	got = readBack(t, d.Addr, "alice", "alice-secret")
	if len(got["Release v1_2"]) != 3 || len(got["Release v1_2/Notes"]) != 1 {
		t.Errorf("after --folder-map: mailboxes %v", keys(got))
	}
}
