package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/compare"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// TestCompareIMAP: from the command line, import imap --verify ends with
// the comparison's statement (exit 0 when equal, also after a delta with
// --apply-deletions); compare imap exits 3 listing a message deleted on
// the target, its --json result says so, and a comparison that cannot be
// made (a wrong password) exits 1.
func TestCompareIMAP(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret"})
	dir := t.TempDir()
	src := filepath.Join(dir, "Maildir")
	for _, sub := range []string{"cur", "new", "tmp", ".Trash/cur", ".Trash/new", ".Trash/tmp"} {
		os.MkdirAll(filepath.Join(src, sub), 0o755)
	}
	gone := filepath.Join(src, ".Trash/cur/1000000001.M1P1.host:2,S")
	kept := filepath.Join(src, "cur/1000000002.M2P2.host:2,")
	os.WriteFile(kept, []byte("Subject: kept\nMessage-ID: <kept@x>\n\nkept\n"), 0o644)
	os.WriteFile(gone, []byte("Subject: gone\nMessage-ID: <gone@x>\n\ngone\n"), 0o644)
	mustRun(t, "export", "maildir", "--user", "alice", "--src", src, "--out", filepath.Join(dir, "full"))
	full := filepath.Join(dir, "full", "alice.tgz")
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("alice-secret\n"), 0o600)
	login := []string{"--url", "imap://" + d.Addr, "--user", "alice", "--password-file", pw, "--provider", "dovecot"}
	imp := append([]string{"import", "imap", "--state", filepath.Join(dir, "state"), "--settle", "1ms", "--verify"}, login...)
	code, stdout, stderr := mailhaul(t, append(imp, full)...)
	if code != exitOK || !strings.Contains(lastLine(stdout), "alice: the target is equal to the archives (2 folders; 0 extra messages") {
		t.Fatalf("full import --verify: exit %d\n%s\n%s", code, stdout, stderr)
	}

	// At the source: kept read, gone deleted; the delta with its state.
	os.Rename(kept, kept+"S")
	os.Remove(gone)
	mustRun(t, "export", "maildir", "--user", "alice", "--src", src, "--out", filepath.Join(dir, "delta"), "--since", full)
	deltas, _ := filepath.Glob(filepath.Join(dir, "delta", "alice*.tgz"))
	if len(deltas) != 1 {
		t.Fatalf("delta archives: %v", deltas)
	}
	cmp := append([]string{"compare", "imap", full, deltas[0]}, login...)
	code, stdout, stderr = mailhaul(t, cmp...)
	if code != exitPartial || !strings.Contains(stdout, `flags differ: alice: INBOX: INBOX/1000000002.M2P2.host <kept@x> (45 bytes): source (\seen), target ()`) ||
		!strings.Contains(stdout, "extra: alice: Trash: UID 1 <gone@x>") {
		t.Errorf("compare before the delta's import: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = mailhaul(t, append(imp, "--apply-deletions", full, deltas[0])...)
	if code != exitOK || !strings.Contains(lastLine(stdout), "the target is equal to the state record of") || !strings.Contains(lastLine(stdout), "0 extra") {
		t.Fatalf("delta import --apply-deletions --verify: exit %d\n%s\n%s", code, stdout, stderr)
	}

	// Deleted on the target: missing, exit 3, in text and JSON.
	expungeFirst(t, d.Addr, "alice", "alice-secret", "INBOX")
	code, stdout, stderr = mailhaul(t, cmp...)
	if code != exitPartial || !strings.Contains(stdout, "missing: alice: INBOX: INBOX/1000000002.M2P2.host <kept@x>") ||
		!strings.Contains(lastLine(stdout), "the target differs from the state record of") || !strings.Contains(lastLine(stdout), "1 missing") {
		t.Errorf("compare after a deletion on the target: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = mailhaul(t, append([]string{"--json"}, cmp...)...)
	var res compare.Result
	if err := json.Unmarshal([]byte(lastLine(stdout)), &res); err != nil || code != exitPartial || res.Status != "differs" || res.Missing != 1 {
		t.Errorf("compare --json: exit %d, %v, %+v\n%s\n%s", code, err, res, stdout, stderr)
	}

	// Cannot compare, the login refused: exit 16 (authentication).
	os.WriteFile(pw, []byte("wrong\n"), 0o600)
	if code, stdout, stderr = mailhaul(t, cmp...); code != exitAuth {
		t.Errorf("with a wrong password: exit %d, want %d\n%s\n%s", code, exitAuth, stdout, stderr)
	}
}
