package imap

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// TestPlaceholderParentIsCreated imports into a mailbox the target lists
// only as the parent of another (Dovecot over Maildir++ with "/": after
// "Pa/Ch" is created, "Pa" is listed \NonExistent). The importer must
// create it and import into it, not report it refused. It failed before:
// a name in the listing was taken for an existing mailbox, so no CREATE
// was sent and the SELECT's "Mailbox doesn't exist" failed the folder.
func TestPlaceholderParentIsCreated(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"bob": "bob-secret"}, testservers.WithSeparator("/"))
	if _, err := d.Doveadm("mailbox", "create", "-u", "bob", "Pa/Ch"); err != nil {
		t.Fatal(err)
	}
	attrs := listAttrs(t, d.Addr, "bob", "bob-secret")
	if a, ok := attrs["Pa"]; !ok || !(slices.Contains(a, imap.MailboxAttrNonExistent) || slices.Contains(a, imap.MailboxAttrNoSelect)) {
		t.Fatalf("Dovecot lists Pa as %v (listed: %v); the test needs a placeholder parent", a, ok)
	}
	dir := t.TempDir()
	archive := filepath.Join(dir, "bob.tgz")
	msgs := uniqueMessages(5)
	writeArchive(t, archive, []testFolder{
		{folder: format.Folder{Path: "INBOX", Role: format.RoleInbox}, msgs: msgs[:1]},
		{folder: format.Folder{Path: "Pa", Subscribed: true}, msgs: msgs[1:4]},
		{folder: format.Folder{Path: "Pa/Ch"}, msgs: msgs[4:]},
	})
	opt := testRun{Options: Options{Account: account(d.Addr, "bob", "bob-secret"), Provider: "dovecot", Timeout: 20 * time.Second}, Request: importer.Request{User: "bob", StateDir: filepath.Join(dir, "state")}}
	rep, err := opt.run(context.Background(), []string{archive})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s; %s; notes %q", rep.Line(), rep.Statement, rep.Notes)
	if rep.Imported != 5 || rep.Failed != 0 || rep.Status != "ok" {
		t.Errorf("imported %d, failed %d, status %s; want 5, 0, ok (%v)", rep.Imported, rep.Failed, rep.Status, rep.Failures)
	}
	got := readBack(t, d.Addr, "bob", "bob-secret")
	if len(got["Pa"]) != 3 || len(got["Pa/Ch"]) != 1 || len(got["INBOX"]) != 1 {
		t.Errorf("on the target: Pa %d, Pa/Ch %d, INBOX %d messages; want 3, 1, 1 (mailboxes %v)",
			len(got["Pa"]), len(got["Pa/Ch"]), len(got["INBOX"]), keys(got))
	}
	// A second run finds everything there.
	rep2, err := opt.run(context.Background(), []string{archive})
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Imported != 0 || rep2.Present != 5 || rep2.Failed != 0 {
		t.Errorf("second run: %s (%v)", rep2.Line(), rep2.Failures)
	}
}

// listAttrs returns the target's mailboxes with their LIST attributes.
func listAttrs(t *testing.T, addr, user, pass string) map[string][]imap.MailboxAttr {
	t.Helper()
	out := map[string][]imap.MailboxAttr{}
	for _, mb := range testservers.ReadMailboxes(t, addr, user, pass) {
		out[mb.Name] = mb.Attrs
	}
	return out
}
