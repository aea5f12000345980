package imap_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	imapsrc "github.com/mailhaul/mailhaul/export/imap"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	imapimport "github.com/mailhaul/mailhaul/importer/imap"
	"github.com/mailhaul/mailhaul/internal/faultproxy"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/report"
)

// corpus reads n real messages (without NUL bytes, which Dovecot stores
// re-encoded) from testdata/corpus/mail.
func corpus(t testing.TB, n int) [][]byte {
	t.Helper()
	var out [][]byte
	root := filepath.Join("..", "..", "testdata", "corpus", "mail")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".eml") || len(out) >= n {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && !bytes.Contains(b, []byte{0}) {
			out = append(out, b)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < n {
		t.Fatalf("only %d corpus messages under %s", len(out), root)
	}
	return out
}

// writeCorpus writes the test archive: folders with roles, a hierarchy,
// a non-ASCII name, an empty folder, flags, keywords and dates.
func writeCorpus(t testing.TB, path string, n int, big []byte) {
	t.Helper()
	msgs := corpus(t, n)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := format.NewWriter(f, format.Manifest{User: "alice", Source: format.Source{Kind: "test"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	folders := []format.Folder{
		{Path: "INBOX", Role: format.RoleInbox, Subscribed: true},
		{Path: "Sent", Role: format.RoleSent, Subscribed: true},
		{Path: "Work/2024", Subscribed: true},
		{Path: "Ünïcødé & Co"},
		{Path: "Empty"},
	}
	for _, fo := range folders {
		fo.Kind = format.FolderMail
		if err := w.AddFolder(fo); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Date(2022, 5, 6, 7, 8, 9, 0, time.UTC)
	flagSets := [][]string{{`\Seen`}, {`\Seen`, `\Answered`}, nil, {`\Flagged`, `$Forwarded`, `Custom_Label`}}
	for i, m := range msgs {
		it := format.Item{Kind: format.KindMessage, Folder: folders[i%4].Path, Flags: flagSets[i%4],
			Received: base.Add(time.Duration(i) * 97 * time.Minute), SourceID: fmt.Sprint("m", i)}
		if err := w.AddItem(it, bytes.NewReader(m)); err != nil {
			t.Fatal(err)
		}
	}
	if big != nil {
		it := format.Item{Kind: format.KindMessage, Folder: "INBOX", Received: base, SourceID: "big"}
		if err := w.AddItem(it, bytes.NewReader(big)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// seedAlice fills alice's mailbox with n corpus messages (and big, when
// set) through import imap, and returns it as read back.
func seedAlice(t testing.TB, d *testservers.Dovecot, dir string, n int, big []byte) []testservers.Mailbox {
	t.Helper()
	seed := filepath.Join(dir, "seed.tgz")
	writeCorpus(t, seed, n, big)
	importInto(t, d.Addr, "alice", "a-secret", seed, filepath.Join(dir, "state-a"))
	return testservers.ReadMailboxes(t, d.Addr, "alice", "a-secret")
}

// importInto loads archive into user's mailbox with import imap.
func importInto(t testing.TB, addr, user, pass, archive, state string) *report.Report {
	t.Helper()
	opt := imapimport.Options{Account: imapconn.Account{Addr: addr, User: user, Secret: imapconn.Password(pass)}, Provider: "dovecot"}
	res, err := imapimport.New(opt).Import(context.Background(), importer.Request{User: user, Archives: []string{archive}, StateDir: state})
	if err != nil {
		t.Fatalf("import into %s: %v", user, err)
	}
	if res.Report.Failed != 0 {
		t.Fatalf("import into %s: %d failed: %v", user, res.Report.Failed, res.Report.Failures)
	}
	return res.Report
}

// exportFrom runs export imap for user into out.
func exportFrom(t testing.TB, src *imapsrc.Source, user, out, after string) (*report.Export, error) {
	t.Helper()
	return export.Run(context.Background(), export.Job{User: user, Kind: "imap", Path: "imap://" + src.Account.Addr,
		PathIsURL: true, Source: src, Out: out, After: after, Tool: "test"})
}

func source(addr, user, pass string) *imapsrc.Source {
	lim, _ := imapconn.ProviderLimits("dovecot")
	return &imapsrc.Source{Account: imapconn.Account{Addr: addr, User: user, Secret: imapconn.Password(pass)}, Limits: lim}
}

// sameMailboxes compares two users' mailboxes as read back over IMAP:
// names, subscriptions, and every message's bytes, flags and date.
func sameMailboxes(t *testing.T, a, b []testservers.Mailbox) {
	t.Helper()
	byName := func(x, y testservers.Mailbox) int { return strings.Compare(x.Name, y.Name) }
	slices.SortFunc(a, byName)
	slices.SortFunc(b, byName)
	if len(a) != len(b) {
		t.Fatalf("%d mailboxes, want %d: %v / %v", len(b), len(a), names(b), names(a))
	}
	for i := range a {
		ma, mb := a[i], b[i]
		if ma.Name != mb.Name || ma.Subscribed != mb.Subscribed {
			t.Errorf("mailbox %d: %q subscribed=%v, want %q subscribed=%v", i, mb.Name, mb.Subscribed, ma.Name, ma.Subscribed)
			continue
		}
		if len(ma.Messages) != len(mb.Messages) {
			t.Errorf("%s: %d messages, want %d", ma.Name, len(mb.Messages), len(ma.Messages))
			continue
		}
		// The importer appends over parallel connections: the order of
		// the messages in a mailbox is not theirs to keep.
		byDate := func(x, y testservers.Message) int {
			if c := x.Date.Compare(y.Date); c != 0 {
				return c
			}
			return bytes.Compare(x.SHA256[:], y.SHA256[:])
		}
		slices.SortFunc(ma.Messages, byDate)
		slices.SortFunc(mb.Messages, byDate)
		for j := range ma.Messages {
			x, y := ma.Messages[j], mb.Messages[j]
			if x.SHA256 != y.SHA256 || !slices.Equal(x.Flags, y.Flags) || !x.Date.Equal(y.Date) {
				t.Errorf("%s message %d: %q %v %s, want %q %v %s", ma.Name, j, y.Head, y.Flags, y.Date, x.Head, x.Flags, x.Date)
			}
		}
	}
}

func names(m []testservers.Mailbox) []string {
	var out []string
	for _, x := range m {
		out = append(out, x.Name)
	}
	return out
}

func total(m []testservers.Mailbox) int {
	n := 0
	for _, x := range m {
		n += len(x.Messages)
	}
	return n
}

// TestRoundTripThroughDovecot: a corpus imported into alice with import
// imap, exported with export imap, imported into bob: every message
// byte-identical, with flags, keywords, INTERNALDATE and folder, empty
// folders and subscriptions too; the archive records each folder's
// UIDVALIDITY and HIGHESTMODSEQ (Dovecot offers CONDSTORE).
func TestRoundTripThroughDovecot(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "a-secret", "bob": "b-secret"})
	dir := t.TempDir()
	a := seedAlice(t, d, dir, 80, nil)

	src := source(d.Addr, "alice", "a-secret")
	src.Chunk = 7 // several chunks per folder
	// Folders are spread over parallel connections, never more than the
	// provider's cap however many are asked for.
	src.Connections, src.Limits.MaxConnections = 100, 3
	var dials atomic.Int32
	src.Dial = func(ctx context.Context, a imapconn.Account) (*imapconn.Conn, error) {
		dials.Add(1)
		return imapconn.Dial(ctx, a)
	}
	rep, err := exportFrom(t, src, "alice", filepath.Join(dir, "out"), "")
	if err != nil {
		t.Fatal(err)
	}
	if n := dials.Load(); n != 3 {
		t.Errorf("%d connections, want the cap of 3", n)
	}
	if rep.Status != "ok" || rep.Counts.Messages != total(a) {
		t.Fatalf("export: status %s, %d messages, want ok and %d; errors %v", rep.Status, rep.Counts.Messages, total(a), rep.Errors)
	}
	checkFolderState(t, rep.Archive, map[string]format.Role{"INBOX": format.RoleInbox, "Sent": format.RoleSent, "Work/2024": "", "Ünïcødé & Co": "", "Empty": "",
		// the special-use folders of the test server's configuration
		"Drafts": format.RoleDrafts, "Junk": format.RoleJunk, "Trash": format.RoleTrash})

	importInto(t, d.Addr, "bob", "b-secret", rep.Archive, filepath.Join(dir, "state-b"))
	sameMailboxes(t, a, testservers.ReadMailboxes(t, d.Addr, "bob", "b-secret"))
}

// checkFolderState reads the archive's folder records: the paths and
// roles want names, each with the mailbox's UIDVALIDITY and
// HIGHESTMODSEQ.
func checkFolderState(t *testing.T, archive string, want map[string]format.Role) {
	t.Helper()
	seen := map[string]bool{}
	err := importer.Walk(context.Background(), []string{archive}, importer.Visitor{
		Folder: func(_ string, f format.Folder, _ []string) error {
			role, ok := want[f.Path]
			if !ok {
				t.Errorf("unexpected folder %q", f.Path)
			}
			if f.Role != role {
				t.Errorf("folder %q: role %q, want %q", f.Path, f.Role, role)
			}
			if f.IMAP == nil || f.IMAP.UIDValidity == 0 || f.IMAP.HighestModSeq == 0 || f.IMAP.UIDNext == 0 {
				t.Errorf("folder %q: IMAP state %+v, want UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ", f.Path, f.IMAP)
			}
			seen[f.Path] = true
			return nil
		},
		Item: func(_ string, e *format.Entry) error {
			if !strings.Contains(e.Item.SourceID, ":") {
				t.Errorf("item %s: sourceId %q, want UIDVALIDITY:UID", e.Name, e.Item.SourceID)
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range want {
		if !seen[p] {
			t.Errorf("folder %q missing from the archive", p)
		}
	}
}

// TestDeltaAfter exports only what arrived at or after --after: SEARCH
// SINCE narrows, INTERNALDATE decides to the second.
func TestDeltaAfter(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "a-secret"})
	dir := t.TempDir()
	a := seedAlice(t, d, dir, 40, nil)
	var dates []time.Time
	for _, mb := range a {
		for _, m := range mb.Messages {
			dates = append(dates, m.Date)
		}
	}
	slices.SortFunc(dates, func(x, y time.Time) int { return x.Compare(y) })
	cut := dates[len(dates)/2] // exactly one message's date: it is kept
	want := 0
	for _, dt := range dates {
		if !dt.Before(cut) {
			want++
		}
	}
	rep, err := exportFrom(t, source(d.Addr, "alice", "a-secret"), "alice", filepath.Join(dir, "out"), cut.Format(time.RFC3339))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts.Messages != want || rep.Status != "ok" || rep.Skipped[export.SkipBeforeCutoff] != len(dates)-want {
		t.Errorf("delta after %s: %d messages (%s), skipped %v; want %d, and %d skipped", cut, rep.Counts.Messages, rep.Status,
			rep.Skipped, want, len(dates)-want)
	}
	err = importer.Walk(context.Background(), []string{rep.Archive}, importer.Visitor{Item: func(_ string, e *format.Entry) error {
		if e.Item.Received.Before(cut) {
			t.Errorf("%s received %s, before the cutoff %s", e.Name, e.Item.Received, cut)
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDeltaAfterAcrossTimeZones: SEARCH SINCE compares dates, each side in
// its own zone: the server's (here UTC-12) and the cutoff's (here +14, as
// written on the command line). 26 hours apart, "the day before" in the
// cutoff's zone is after the server's date of a message received exactly
// at the cutoff, and SEARCH would leave it out before the exact test ever
// saw it.
func TestDeltaAfterAcrossTimeZones(t *testing.T) {
	t.Setenv("TZ", "Etc/GMT+12") // Dovecot's zone (POSIX signs: UTC-12)
	d := testservers.StartDovecot(t, map[string]string{"alice": "a-secret"})
	c := testservers.IMAPLogin(t, d.Addr, "alice", "a-secret")
	at := time.Date(2024, 3, 10, 10, 30, 0, 0, time.UTC) // 9 March 22:30 at UTC-12, 11 March 00:30 at +14
	for i, when := range []time.Time{at.Add(-time.Hour), at, at.Add(time.Hour)} {
		m := "From: a@example.org\r\nSubject: m" + string(rune('0'+i)) + "\r\n\r\nbody\r\n"
		app := c.Append("INBOX", int64(len(m)), &imap.AppendOptions{Time: when.In(time.FixedZone("", -12*3600))})
		app.Write([]byte(m))
		app.Close()
		if _, err := app.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	c.Logout().Wait()
	cutoff := at.In(time.FixedZone("", 14*3600)).Format(time.RFC3339)
	if !strings.HasPrefix(cutoff, "2024-03-11T00:30:00+14:00") {
		t.Fatalf("cutoff %s", cutoff)
	}
	rep, err := exportFrom(t, source(d.Addr, "alice", "a-secret"), "alice", filepath.Join(t.TempDir(), "out"), cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts.Messages != 2 || rep.Skipped[export.SkipBeforeCutoff] != 1 {
		t.Errorf("after %s: %d messages, skipped %v; want the 2 received at or after it, 1 skipped", cutoff, rep.Counts.Messages, rep.Skipped)
	}
}

// TestWrongPasswordIsNotRetried: a refused login is tried once, never
// again (each retry would count towards the server's lockout), and the
// export ends naming the refusal, without an archive.
func TestWrongPasswordIsNotRetried(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "a-secret"})
	src := source(d.Addr, "alice", "not-the-password")
	src.Retry = quickRetry
	var dials atomic.Int32
	src.Dial = func(ctx context.Context, a imapconn.Account) (*imapconn.Conn, error) {
		dials.Add(1)
		return imapconn.Dial(ctx, a)
	}
	rep, err := exportFrom(t, src, "alice", filepath.Join(t.TempDir(), "out"), "")
	if err == nil || !strings.Contains(err.Error(), "refused") || strings.Contains(err.Error(), "not-the-password") {
		t.Errorf("export with a wrong password: %v; want the login's refusal, without the password", err)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d logins, want 1", n)
	}
	if rep == nil || rep.Status == "ok" {
		t.Errorf("report %+v: want a failed run", rep)
	}
}

// TestDeltaCarriesState: a delta (--since) ends with the state record:
// one line for every message the mailbox holds, exported or not, by
// folder and sourceId, with its flags now; an expunged message has none.
func TestDeltaCarriesState(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "a-secret"})
	dir := t.TempDir()
	a := seedAlice(t, d, dir, 30, nil)
	full, err := exportFrom(t, source(d.Addr, "alice", "a-secret"), "alice", filepath.Join(dir, "full"), "")
	if err != nil {
		t.Fatal(err)
	}
	c := testservers.IMAPLogin(t, d.Addr, "alice", "a-secret")
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for _, op := range []struct {
		uid  imap.UID
		flag imap.Flag
	}{{1, imap.FlagFlagged}, {2, imap.FlagDeleted}} {
		if err := c.Store(imap.UIDSetNum(op.uid), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{op.flag}, Silent: true}, nil).Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	c.Logout().Wait()

	// Through cuts around the UID commands: a retry writes no state line
	// twice.
	p, err := faultproxy.Start(faultproxy.Options{Upstream: d.Addr, Verbs: []string{"UID"}, Rate: 0.5, Seed: 3,
		Points: []faultproxy.Point{faultproxy.Before, faultproxy.AfterCommand}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	src := source(p.Addr, "alice", "a-secret")
	src.Chunk, src.Retry = 4, quickRetry
	delta, err := export.Run(context.Background(), export.Job{User: "alice", Kind: "imap", Path: "imap://" + d.Addr, PathIsURL: true,
		Source: src, Out: filepath.Join(dir, "delta"), Since: full.Archive, Overlap: time.Hour, Tool: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Cuts[faultproxy.Before]+st.Cuts[faultproxy.AfterCommand] == 0 {
		t.Errorf("the proxy cut nothing: %+v", st)
	}
	if delta.Status != "ok" {
		t.Fatalf("delta: %s, errors %+v", delta.Status, delta.Errors)
	}
	// Dovecot gives each mailbox of a user its own UIDVALIDITY, so the
	// sourceIds (UIDVALIDITY:UID) are unique across folders here.
	before, _ := exporttest.ReadArchive(t, full.Archive)
	_, state := exporttest.ReadArchive(t, delta.Archive)
	if len(state) != total(a)-1 {
		t.Errorf("the state lists %d messages, want the %d left", len(state), total(a)-1)
	}
	gone := 0
	for id, it := range before {
		st, ok := state[id]
		switch {
		case it.Folder == "INBOX" && strings.HasSuffix(id, ":2"):
			if ok {
				t.Errorf("INBOX %s was expunged, yet the state lists it", id)
			}
			gone++
		case !ok || st.Folder != it.Folder:
			t.Errorf("%s %s is in the mailbox, not in the state (%+v)", it.Folder, id, st)
		case it.Folder == "INBOX" && strings.HasSuffix(id, ":1") && !slices.Contains(st.Flags, `\Flagged`):
			t.Errorf("INBOX %s flags %v in the state, want \\Flagged, set since the full export", id, st.Flags)
		}
	}
	if gone != 1 {
		t.Errorf("%d expunged messages among the full export's, want 1", gone)
	}
}
