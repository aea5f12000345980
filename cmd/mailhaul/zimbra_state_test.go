package main

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export/zimbra/zimbratest"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// A cutover from a live Zimbra converges: a pre-migration into the real
// Dovecot, then on the Zimbra a message read and flagged, a tag removed,
// a message moved, one deleted and new mail; the delta (its state record
// from SearchRequest) imported with --apply-deletions leaves Dovecot
// holding exactly the Zimbra mailbox, each message once, with its flags.
func TestZimbraLiveDeltaConverges(t *testing.T) {
	items := zimbraLiveItems()
	z := startLiveZimbra(t, "zed", zimbratest.ServerOptions{}, items...)
	dir := t.TempDir()
	mustRun(t, append([]string{"-q", "export", "zimbra", "--user", "zed", "--out", filepath.Join(dir, "pre")}, z.args...)...)
	full := filepath.Join(dir, "pre", "zed.tgz")

	d := testservers.StartDovecot(t, map[string]string{"zed": "zed-secret"})
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("zed-secret\n"), 0o600)
	base := []string{"import", "imap", "--url", "imap://" + d.Addr, "--user", "zed", "--password-file", pw,
		"--provider", "dovecot", "--state", filepath.Join(dir, "state"), "--settle", "1ms"}
	if code, stdout, stderr := mailhaul(t, append(base, full)...); code != exitOK {
		t.Fatalf("pre-migration import: exit %d\n%s\n%s", code, stdout, stderr)
	}

	// On the Zimbra: 300 read and flagged, 301's tag removed, 303 moved
	// from Projects to Inbox, 310 deleted from Trash, 320 new.
	late := zmsg(320, "/Inbox", 2, "new mail")
	z.mu.Lock()
	z.mb.Items = slices.DeleteFunc(z.mb.Items, func(it zimbratest.Item) bool { return it.ID == 310 })
	for i := range z.mb.Items {
		it := &z.mb.Items[i]
		switch it.ID {
		case 300:
			it.Unread, it.Flags = 0, zimbratest.FlagFlagged
		case 301:
			it.Tags = nil
		case 303:
			it.Folder, it.FolderID = "/Inbox", 2
		}
	}
	z.mu.Unlock()
	z.add("zed", late)
	cutoff := zday.Add(312 * time.Hour).Format(time.RFC3339)
	mustRun(t, append([]string{"-q", "export", "zimbra", "--user", "zed", "--out", filepath.Join(dir, "delta"), "--after", cutoff}, z.args...)...)
	deltas, _ := filepath.Glob(filepath.Join(dir, "delta", "zed.after-*.tgz"))
	if len(deltas) != 1 {
		t.Fatalf("delta archives %v", deltas)
	}
	code, stdout, stderr := mailhaul(t, append(base, "--apply-deletions", full, deltas[0])...)
	if code != exitOK {
		t.Fatalf("delta import: exit %d\n%s\n%s", code, stdout, stderr)
	}

	want := map[int]struct {
		mailbox string
		flags   []string
	}{
		300: {"INBOX", []string{`\Flagged`, `\Seen`}},
		301: {"INBOX", []string{`\Answered`, `\Flagged`, `\Seen`}},
		302: {"Sent", []string{"$Forwarded", `\Seen`}},
		303: {"INBOX", []string{`\Seen`}},
		311: {"Junk", []string{`\Seen`}},
		320: {"INBOX", []string{`\Seen`}},
	}
	check := func(when string) {
		where := map[[32]byte][]string{}
		flags := map[[32]byte][]string{}
		n := 0
		for _, mb := range testservers.ReadMailboxes(t, d.Addr, "zed", "zed-secret") {
			for _, m := range mb.Messages {
				n++
				where[m.SHA256] = append(where[m.SHA256], mb.Name)
				f := slices.DeleteFunc(slices.Clone(m.Flags), func(f string) bool { return f == `\Recent` })
				slices.Sort(f)
				flags[m.SHA256] = f
			}
		}
		z.mu.Lock()
		now := slices.Clone(z.mb.Items)
		z.mu.Unlock()
		for _, it := range now {
			w, ok := want[it.ID]
			if it.Type != zimbratest.TypeMessage {
				continue
			}
			if !ok {
				t.Fatalf("message %d has no expectation", it.ID)
			}
			sum := sha256.Sum256(it.Blob)
			if !slices.Equal(where[sum], []string{w.mailbox}) || !slices.Equal(flags[sum], w.flags) {
				t.Errorf("%s: message %d: in %q flags %q; want %s %q", when, it.ID, where[sum], flags[sum], w.mailbox, w.flags)
			}
		}
		if n != len(want) {
			t.Errorf("%s: Dovecot holds %d messages, the Zimbra %d", when, n, len(want))
		}
	}
	check("after the delta")
	if !strings.Contains(stdout, "1 added, 2 updated, 1 moved, 1 deleted, 0 left alone as conflicts") {
		t.Errorf("the statement does not count what converged:\n%s%s", stdout, stderr)
	}
	// Run again: nothing left to do, nothing duplicated.
	code, stdout, stderr = mailhaul(t, append(base, "--apply-deletions", full, deltas[0])...)
	if code != exitOK || !strings.Contains(stdout, "0 added, 0 updated, 0 moved, 0 deleted") {
		t.Errorf("second run: exit %d\n%s%s", code, stdout, stderr)
	}
	check("after the second run")
}
