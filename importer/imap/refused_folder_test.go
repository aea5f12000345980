package imap

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
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
	opt := testRun{Options: Options{Account: account(d.Addr, "alice", "alice-secret"), Provider: "dovecot", Timeout: 20 * time.Second}, Request: importer.Request{User: "alice", StateDir: filepath.Join(dir, "state")}}
	ctx := context.Background()

	rep, err := opt.run(ctx, []string{archive})
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
	rep2, err := opt.run(ctx, []string{archive})
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

// TestRefusedEmptyFolderIsAFailure imports an empty folder the target
// refuses ("Empty v1.0" on Dovecot with "/"): the folder is not on the
// target, so the run is partial, with a failure for the folder itself
// that gives the server's answer and the way out, and the statement does
// not say everything is there. It failed before: with no message to fail,
// the refusal was only a note and the run ended "all 1 items ... are on
// the target", status ok.
func TestRefusedEmptyFolderIsAFailure(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret"}, testservers.WithSeparator("/"))
	dir := t.TempDir()
	archive := filepath.Join(dir, "alice.tgz")
	writeArchive(t, archive, []testFolder{
		{folder: format.Folder{Path: "INBOX", Role: format.RoleInbox}, msgs: uniqueMessages(1)},
		{folder: format.Folder{Path: "Empty v1.0"}},
		{folder: format.Folder{Path: "Kept"}},
	})
	opt := testRun{Options: Options{Account: account(d.Addr, "alice", "alice-secret"), Provider: "dovecot", Timeout: 20 * time.Second}, Request: importer.Request{User: "alice", StateDir: filepath.Join(dir, "state")}}
	rep, err := opt.run(context.Background(), []string{archive})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("%s; %s; failures %+v", rep.Line(), rep.Statement, rep.Failures)
	if rep.Status != "partial" || !rep.Partial() {
		t.Errorf("status %q, partial %v; want a partial run (exit 3)", rep.Status, rep.Partial())
	}
	if strings.HasPrefix(rep.Statement, "all ") || !strings.Contains(rep.Statement, "folders of the archives are NOT on the target") {
		t.Errorf("statement %q: want it to say a folder is not on the target", rep.Statement)
	}
	var found bool
	for _, f := range rep.Failures {
		if f.Folder == "Empty v1.0" && f.Item == "" && strings.Contains(f.Reason, "not allowed") && strings.Contains(f.Reason, "--folder-map") {
			found = true
		}
	}
	if !found {
		t.Errorf("failures %+v: want one for folder \"Empty v1.0\" itself, with the server's answer and --folder-map", rep.Failures)
	}
	if rep.Imported != 1 {
		t.Errorf("imported %d, want 1", rep.Imported)
	}
	got := readBack(t, d.Addr, "alice", "alice-secret")
	if _, ok := got["Kept"]; !ok || len(got["INBOX"]) != 1 {
		t.Errorf("on the target: %v; want INBOX with 1 message and Kept", keys(got))
	}
}
