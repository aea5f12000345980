package imap

import (
	"context"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailhaul/mailhaul/compare"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

func (r testRun) compare(t *testing.T, archives []string) *compare.Result {
	t.Helper()
	req := r.Request
	req.Archives = archives
	res, err := New(r.Options).Compare(context.Background(), req)
	if err != nil {
		t.Fatalf("compare: %v", err)
	}
	return res
}

// folderOf is the result's folder for a target mailbox.
func folderOf(t *testing.T, res *compare.Result, name string) *compare.Folder {
	t.Helper()
	for i := range res.Folders {
		if res.Folders[i].Target == name {
			return &res.Folders[i]
		}
	}
	t.Fatalf("no folder %q in the comparison: %+v", name, res.Folders)
	return nil
}

// TestDovecotCompare: after the full import the target equals the
// archive; then each change a user or a faulty run could make on the
// target shows as what it is: a deleted message is missing, an appended
// copy a duplicate, a changed flag a flag difference (all three make the
// comparison differ), new mail extra (which does not).
func TestDovecotCompare(t *testing.T) {
	defer func(n int) { listChunk = n }(listChunk)
	listChunk = 2 // several FETCH ranges per mailbox
	d, tr, archives := cutoverSetup(t)
	full := archives[:1]
	res := tr.compare(t, full)
	if res.Differs() || res.Status != "equal" || res.Extra != 0 {
		t.Fatalf("after the full import: %+v", res)
	}
	if in := folderOf(t, res, "INBOX"); in.SourceCount != 4 || in.TargetCount != 4 || in.SourceBytes != in.TargetBytes || in.SourceBytes == 0 {
		t.Errorf("INBOX counts %+v; want 4 and 4 with equal bytes", in)
	}

	// New mail of the user's own on the target: extra, still equal.
	c := testservers.IMAPLogin(t, d.Addr, "alice", "alice-secret")
	mine := "Subject: mine\r\nMessage-ID: <mine@example.org>\r\n\r\nthe user's own\r\n"
	appendTo := func(box, msg string) {
		t.Helper()
		cmd := c.Append(box, int64(len(msg)), nil)
		cmd.Write([]byte(msg))
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	appendTo("INBOX", mine)
	c.Logout().Wait()
	res = tr.compare(t, full)
	if in := folderOf(t, res, "INBOX"); res.Differs() || len(in.Extra) != 1 || in.Extra[0].MessageID != "<mine@example.org>" || in.TargetCount != 5 {
		t.Fatalf("with the user's own mail: %+v", res)
	}

	// A deleted message is missing.
	onTargetDo(t, d.Addr, "Archive", "d", func(c *imapclient.Client, uid imap.UIDSet) error {
		if err := c.Store(uid, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			return err
		}
		return c.UIDExpunge(uid).Close()
	})
	// A changed flag is a flag difference.
	onTargetDo(t, d.Addr, "INBOX", "a", func(c *imapclient.Client, uid imap.UIDSet) error {
		return c.Store(uid, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close()
	})
	// A second copy of a message is a duplicate.
	c = testservers.IMAPLogin(t, d.Addr, "alice", "alice-secret")
	appendTo("Trash", "Subject: e\r\nFrom: s@example.org\r\nMessage-ID: <e@example.org>\r\n\r\nbody of e\r\n")
	c.Logout().Wait()

	res = tr.compare(t, full)
	if !res.Differs() || res.Status != "differs" || res.Missing != 1 || res.Duplicates != 1 || res.FlagDiffs != 1 || res.Extra != 1 {
		t.Fatalf("after the changes: %+v", res)
	}
	if ar := folderOf(t, res, "Archive"); len(ar.Missing) != 1 || ar.Missing[0].MessageID != "<d@example.org>" || !strings.HasSuffix(ar.Missing[0].Ref, "1000000005.M5P5.host") {
		t.Errorf("Archive: %+v; want d missing", ar)
	}
	if tr := folderOf(t, res, "Trash"); len(tr.Duplicates) != 1 || tr.Duplicates[0].MessageID != "<e@example.org>" || tr.Duplicates[0].Copies != 1 {
		t.Errorf("Trash: %+v; want one more copy of e", tr)
	}
	if in := folderOf(t, res, "INBOX"); len(in.Flags) != 1 || in.Flags[0].MessageID != "<a@example.org>" ||
		strings.Join(in.Flags[0].Source, " ") != `\seen` || strings.Join(in.Flags[0].Target, " ") != `\flagged \seen` {
		t.Errorf("INBOX flags: %+v; want a: source \\seen, target \\flagged \\seen", in.Flags)
	}
}

// TestDovecotCompareAfterCutover: after the delta (flags, a move, a
// deletion, new mail) imported with --apply-deletions, the comparison
// with the delta's state record says equal; before the delta's import it
// says what is still to do.
func TestDovecotCompareAfterCutover(t *testing.T) {
	_, tr, archives := cutoverSetup(t)
	res := tr.compare(t, archives)
	if res.State != archives[1] {
		t.Errorf("expected state from %q; want the delta's state record", res.State)
	}
	// Before the delta's import: f missing, c missing in Archive (and
	// extra in INBOX), b's and x's flags, e still in Trash (extra).
	if !res.Differs() || res.Missing != 2 || res.FlagDiffs != 2 || res.Extra != 2 {
		t.Errorf("before the delta's import: %d missing, %d flag differences, %d extra; want 2, 2, 2: %+v", res.Missing, res.FlagDiffs, res.Extra, res)
	}
	tr.ApplyDeletions = true
	if rep, err := tr.run(context.Background(), archives); err != nil {
		t.Fatalf("delta: %v; %s", err, rep.Statement)
	}
	res = tr.compare(t, archives)
	if res.Differs() || res.Extra != 0 || res.Missing != 0 {
		t.Fatalf("after the delta with --apply-deletions: %+v", res)
	}
	if ar := folderOf(t, res, "Archive"); ar.SourceCount != 2 || ar.TargetCount != 2 {
		t.Errorf("Archive: %+v; want c and d", ar)
	}
}
