package mbox

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/importer/localfile"
	"github.com/mailhaul/mailhaul/importer/localfile/localfiletest"
	"github.com/mailhaul/mailhaul/internal/journal"
	mboxfmt "github.com/mailhaul/mailhaul/mailbox/mbox"
	"github.com/mailhaul/mailhaul/progress"
)

type testItem = localfiletest.Item

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

var writeArchive = localfiletest.WriteArchive

func runRestore(t *testing.T, ctx context.Context, dir, state string, dry bool, archives ...string) (*importer.Result, error) {
	t.Helper()
	return New(dir).Import(ctx, importer.Request{User: "alice", Archives: archives, StateDir: state, DryRun: dry})
}

type readMsg struct {
	from, text string
	flags      mboxfmt.Flags
}

// readMbox reads a restored file back as any mbox reader would.
func readMbox(t *testing.T, path string) []readMsg {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := mboxfmt.DetectDialect(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	r := mboxfmt.NewReader(bytes.NewReader(b), d)
	var out []readMsg
	for {
		m, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		body, err := io.ReadAll(m.Body)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, readMsg{m.FromLine, string(m.Header) + string(body), mboxfmt.MessageFlags(m.Header)})
	}
}

func TestRestoreWritesThunderbirdTree(t *testing.T) {
	tmp := t.TempDir()
	arch := filepath.Join(tmp, "a.tar.gz")
	writeArchive(t, arch, []string{"INBOX", "INBOX/Lists", "Work", "Work/2024", "Empty", "Contacts|contacts"}, []testItem{
		{Folder: "INBOX", ID: "1", Flags: []string{`\Seen`, `\Flagged`, "$Label1"}, Recv: t0, Body: "Subject: one\n\nFrom here\n>From there\n"},
		{Folder: "INBOX", ID: "2", Recv: t0.Add(time.Hour), Body: "Subject: two\r\nStatus: RO\r\n\r\nunread now\r\n"},
		{Folder: "Work/2024", ID: "3", Flags: []string{`\Answered`}, Recv: t0, Body: "Subject: three\nX-Status: A\n\nx\n"},
		{Folder: "INBOX/Lists", ID: "4", Body: "Subject: undated\n\ny\n"},
		{Folder: "Contacts", ID: "c", Kind: format.KindContact, Body: "BEGIN:VCARD\r\nEND:VCARD\r\n"},
	})
	dir := filepath.Join(tmp, "out")
	var events []progress.Event
	res, err := New(dir).Import(t.Context(), importer.Request{User: "alice", Archives: []string{arch},
		Progress: func(e progress.Event) { events = append(events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Report
	if rep.Imported != 4 || rep.Skipped != 1 || rep.Skips[SkipNotMail] != 1 || rep.Failed != 0 || rep.Status != "ok" {
		t.Fatalf("report %+v", rep)
	}
	if len(events) != 4 || events[3].Items != 4 || events[3].Stage != "restore" || events[3].Bytes != rep.Bytes {
		t.Errorf("progress events %+v", events)
	}
	inbox := readMbox(t, filepath.Join(dir, "Inbox"))
	if len(inbox) != 2 {
		t.Fatalf("Inbox holds %d messages, want 2", len(inbox))
	}
	if inbox[0].from != "From MAILER-DAEMON Wed Mar  4 05:06:07 2026" ||
		!slices.Equal(inbox[0].flags, mboxfmt.Flags{`\Seen`, `\Flagged`, "$Label1"}) ||
		!strings.HasSuffix(inbox[0].text, "\n\nFrom here\n>From there\n") {
		t.Errorf("message 1 read back as %+v", inbox[0])
	}
	// Its header said \Seen, the archive says unread: the archive wins.
	if len(inbox[1].flags) != 0 || !strings.HasPrefix(inbox[1].text, "Subject: two\r\n") || !strings.HasSuffix(inbox[1].text, "\r\n\r\nunread now\r\n") {
		t.Errorf("message 2 read back as %+v", inbox[1])
	}
	// Flags the header already says: the message is written byte for byte.
	if work := readMbox(t, filepath.Join(dir, "Work.sbd", "2024")); len(work) != 1 || work[0].text != "Subject: three\nX-Status: A\n\nx\n" {
		t.Errorf("Work/2024 read back as %+v", work)
	}
	lists := readMbox(t, filepath.Join(dir, "Inbox.sbd", "Lists"))
	if h := mboxfmt.ParseHeader([]byte(lists[0].text)); len(lists) != 1 || !mboxfmt.ReceivedTime(lists[0].from, &h).IsZero() {
		t.Errorf("undated message read back as %+v", lists)
	}
	for name, want := range map[string]fs.FileMode{"Work": 0o600, "Empty": 0o600, "Work.sbd": fs.ModeDir | 0o700, "Inbox.sbd": fs.ModeDir | 0o700, ".": fs.ModeDir | 0o700} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode() != want {
			t.Errorf("%s: %v %v, want mode %v", name, fi.Mode(), err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "Contacts")); err == nil {
		t.Error("an address book became an mbox file")
	}
}

func countMessages(t *testing.T, dir string) map[string]int {
	t.Helper()
	got := map[string]int{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			for _, m := range readMbox(t, p) {
				got[filepath.ToSlash(rel)+":"+m.text]++
			}
		}
		return nil
	})
	return got
}

// TestFullDeltaAndRerunGiveTheUnion: a delta overlapping its full archive
// and a second run add nothing twice; two equal messages stay two.
func TestFullDeltaAndRerunGiveTheUnion(t *testing.T) {
	tmp := t.TempDir()
	full, delta := filepath.Join(tmp, "full.tar.gz"), filepath.Join(tmp, "delta.tar.gz")
	same := "Subject: same\n\nsame\n"
	writeArchive(t, full, []string{"INBOX"}, []testItem{
		{Folder: "INBOX", ID: "1", Recv: t0, Body: "Subject: 1\n\n1\n"},
		{Folder: "INBOX", ID: "2", Recv: t0, Body: same},
		{Folder: "INBOX", ID: "3", Recv: t0, Body: same},
	})
	writeArchive(t, delta, []string{"INBOX", "Sent"}, []testItem{
		{Folder: "INBOX", ID: "3", Recv: t0, Body: same},
		{Folder: "INBOX", ID: "4", Recv: t0, Body: "Subject: 4\n\n4\n"},
		{Folder: "Sent", ID: "5", Recv: t0, Body: "Subject: 5\n\n5\n"},
	})
	dir := filepath.Join(tmp, "out")
	want := map[string]int{"Inbox:Subject: 1\n\n1\n": 1, "Inbox:" + same: 2, "Inbox:Subject: 4\n\n4\n": 1, "Sent:Subject: 5\n\n5\n": 1}
	res, err := runRestore(t, t.Context(), dir, "", false, full, delta)
	if err != nil || res.Report.Imported != 5 || res.Report.Present != 1 {
		t.Fatalf("first run: %v %+v", err, res.Report)
	}
	res, err = runRestore(t, t.Context(), dir, "", false, full, delta)
	if err != nil || res.Report.Imported != 0 || res.Report.Present != 6 {
		t.Fatalf("second run: %v %+v", err, res.Report)
	}
	if got := countMessages(t, dir); !mapsEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// The journal is where journal.Path says, beside the first archive.
	abs, _ := filepath.Abs(dir)
	if _, err := os.Stat(journal.Path(tmp, "alice", Kind, abs)); err != nil {
		t.Errorf("journal: %v", err)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// bigArchive holds three messages, the second 3 MB, so that writing it
// takes many writes.
func bigArchive(t *testing.T, path string) (want map[string]int) {
	big := "Subject: big\n\n" + strings.Repeat("From me to you, line after line\n", 100000)
	items := []testItem{
		{Folder: "INBOX", ID: "1", Recv: t0, Body: "Subject: 1\n\n1\n"},
		{Folder: "INBOX", ID: "2", Recv: t0, Body: big},
		{Folder: "INBOX", ID: "3", Recv: t0, Body: "Subject: 3\n\n3\n"},
	}
	writeArchive(t, path, []string{"INBOX"}, items)
	want = map[string]int{}
	for _, it := range items {
		want["Inbox:"+it.Body]++
	}
	return want
}

// TestKilledMidMessageThenRerun: a run that dies half way through a
// message (as a kill leaves it: the bytes written stay, no clean-up) is
// followed by a run that cuts the torn message off and writes it whole:
// no torn message, no duplicate.
func TestKilledMidMessageThenRerun(t *testing.T) {
	tmp := t.TempDir()
	arch := filepath.Join(tmp, "a.tar.gz")
	want := bigArchive(t, arch)
	dir := filepath.Join(tmp, "out")
	undo := CrashAfter(1 << 20)
	_, err := runRestore(t, t.Context(), dir, "", false, arch)
	undo()
	if !errors.Is(err, errCrash) {
		t.Fatalf("the crashing run returned %v", err)
	}
	fi, _ := os.Stat(filepath.Join(dir, "Inbox"))
	if fi.Size() < 1<<19 {
		t.Fatalf("the crashed run left %d bytes: it did not stop mid-message", fi.Size())
	}
	if res := rerunWritesTheRest(t, dir, arch, want); len(res.Report.Notes) != 1 {
		t.Errorf("re-run notes %q; want one about the torn message cut off", res.Report.Notes)
	}
}

// TestCancelledMidMessageThenRerun: cancelling while a message is being
// written cuts it off at once; the re-run writes it whole.
func TestCancelledMidMessageThenRerun(t *testing.T) {
	tmp := t.TempDir()
	arch := filepath.Join(tmp, "a.tar.gz")
	want := bigArchive(t, arch)
	dir := filepath.Join(tmp, "out")
	ctx, cancel := context.WithCancel(t.Context())
	var written int64
	testWrite = func(f *os.File, p []byte) (int, error) {
		written += int64(len(p))
		if written > 1<<20 {
			cancel()
		}
		return f.Write(p)
	}
	res, err := runRestore(t, ctx, dir, "", false, arch)
	testWrite = nil
	if !errors.Is(err, context.Canceled) || res.Report.Status != "cancelled" || res.Report.NotAttempted != 1 || res.Report.Imported != 1 {
		t.Fatalf("cancelled run: %v %+v", err, res.Report)
	}
	if got := countMessages(t, dir); len(got) != 1 {
		t.Errorf("the cancelled run left %d messages, want only the first, whole", len(got))
	}
	rerunWritesTheRest(t, dir, arch, want)
}

// rerunWritesTheRest restores bigArchive's arch into dir again after an
// interrupted run that wrote its first message, and checks that the file
// then holds want: the other two written, each message once.
func rerunWritesTheRest(t *testing.T, dir, arch string, want map[string]int) *importer.Result {
	t.Helper()
	res, err := runRestore(t, t.Context(), dir, "", false, arch)
	if err != nil || res.Report.Imported != 2 || res.Report.Present != 1 {
		t.Fatalf("re-run: %v %+v", err, res.Report)
	}
	if got := countMessages(t, dir); !mapsEqual(got, want) {
		t.Errorf("after the re-run the file holds %d distinct messages, want the 3 once each", len(got))
	}
	return res
}

// TestHostileFolderNamesStayInside: folder names that look like paths,
// devices, tree files or each other, and a link planted in the tree, never
// make restore write outside its directory.
func TestHostileFolderNamesStayInside(t *testing.T) {
	tmp := t.TempDir()
	folders := []string{`..\..\evil`, "_../x", "C:", "a.sbd", "a.msf", "Inbox", "INBOX", "Linked/Sub", "tab\tname", "x/.../y"}
	var items []testItem
	for i, f := range folders {
		items = append(items, testItem{Folder: f, ID: string(rune('a' + i)), Recv: t0, Body: "Subject: " + f + "\n\nx\n"})
	}
	arch := filepath.Join(tmp, "a.tar.gz")
	writeArchive(t, arch, folders, items)
	dir, outside := localfiletest.LinkedDir(t, tmp, "Linked.sbd")
	res, err := runRestore(t, t.Context(), dir, "", false, arch)
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Report
	if rep.Imported != len(folders)-1 || rep.Failed != 1 || rep.Failures[len(rep.Failures)-1].Folder != "Linked/Sub" {
		t.Errorf("report %+v: want every folder but the linked one written, and that one failed by name", rep)
	}
	localfiletest.WantNothingOutside(t, outside)
	got := countMessages(t, dir)
	for _, f := range folders[:len(folders)-3] {
		found := false
		for k := range got {
			found = found || strings.HasSuffix(k, ":Subject: "+f+"\n\nx\n")
		}
		if !found {
			t.Errorf("folder %q: message not found in %v", f, got)
		}
	}
	if got["%49nbox:Subject: Inbox\n\nx\n"] != 1 || got["Inbox:Subject: INBOX\n\nx\n"] != 1 {
		t.Errorf("Inbox and INBOX share a file name: got %v", got)
	}
}

// TestDryRunWritesNothing: a dry run returns the plan and creates neither
// the directory nor the journal.
func TestDryRunWritesNothing(t *testing.T) {
	tmp := t.TempDir()
	arch := filepath.Join(tmp, "a.tar.gz")
	writeArchive(t, arch, []string{"INBOX", "Work/Sub"}, []testItem{
		{Folder: "INBOX", ID: "1", Recv: t0, Body: "Subject: 1\n\n1\n"},
		{Folder: "Work/Sub", ID: "2", Recv: t0, Body: "Subject: 2\n\n2\n"},
		{Folder: "Work/Sub", ID: "3", Recv: t0.Add(-time.Hour), Body: "Subject: 3\n\n3\n"},
	})
	dir, state := filepath.Join(tmp, "out"), filepath.Join(tmp, "state")
	res, err := New(dir).Import(t.Context(), importer.Request{User: "alice", Archives: []string{arch}, StateDir: state,
		DryRun: true, Select: importer.Select{Folders: []string{"Work"}, After: t0}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Plan == nil || len(res.Plan.Folders) != 1 {
		t.Fatalf("plan %+v", res.Plan)
	}
	pf := res.Plan.Folders[0]
	if pf.Source != "Work/Sub" || pf.Target != "Work.sbd/Sub" || !pf.Create || pf.Items != 1 || pf.Bytes != int64(len("Subject: 2\n\n2\n")) {
		t.Errorf("plan folder %+v", pf)
	}
	if res.Report.WouldImport != 1 || res.Report.Skipped != 2 || res.Report.Skips[localfile.SkipNotSelected] != 2 {
		t.Errorf("report %+v", res.Report)
	}
	for _, p := range []string{dir, state} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a dry run made %s", p)
		}
	}
}

// changedFileRun restores three messages into Inbox, lets change alter
// the file, and restores again.
func changedFileRun(t *testing.T, change func(path string, ends []int64)) (*importer.Result, string) {
	t.Helper()
	tmp := t.TempDir()
	arch := filepath.Join(tmp, "a.tar.gz")
	writeArchive(t, arch, []string{"INBOX"}, []testItem{
		{Folder: "INBOX", ID: "1", Recv: t0, Body: "Subject: 1\n\n1\n"},
		{Folder: "INBOX", ID: "2", Recv: t0, Body: "Subject: 2\n\n2\n"},
		{Folder: "INBOX", ID: "3", Recv: t0, Body: "Subject: 3\n\n3\n"},
	})
	dir := filepath.Join(tmp, "out")
	res, err := runRestore(t, t.Context(), dir, "", false, arch)
	if err != nil || res.Report.Imported != 3 {
		t.Fatalf("first run: %v %+v", err, res.Report)
	}
	inbox := filepath.Join(dir, "Inbox")
	b, err := os.ReadFile(inbox)
	if err != nil {
		t.Fatal(err)
	}
	var ends []int64 // where each message ends
	for i := 1; i < len(b); i++ {
		if strings.HasPrefix(string(b[i:]), "From ") && b[i-1] == '\n' {
			ends = append(ends, int64(i))
		}
	}
	ends = append(ends, int64(len(b)))
	change(inbox, ends)
	res, err = runRestore(t, t.Context(), dir, "", false, arch)
	if err != nil {
		t.Fatal(err)
	}
	return res, dir
}

var threeInInbox = map[string]int{"Inbox:Subject: 1\n\n1\n": 1, "Inbox:Subject: 2\n\n2\n": 1, "Inbox:Subject: 3\n\n3\n": 1}

// TestRemovedFileIsWrittenAgain: an mbox file removed since restore wrote
// it is written again, with a note; the journal does not make its
// messages "already there".
func TestRemovedFileIsWrittenAgain(t *testing.T) {
	res, dir := changedFileRun(t, func(path string, _ []int64) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	})
	r := res.Report
	if r.Imported != 3 || r.Present != 0 || r.Status != "ok" || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "Inbox holds 0 bytes") || !strings.Contains(r.Notes[0], "3 messages") {
		t.Fatalf("%+v: want all 3 written again, with a note", r)
	}
	if got := countMessages(t, dir); !mapsEqual(got, threeInInbox) {
		t.Errorf("got %v, want %v", got, threeInInbox)
	}
}

// TestShortenedFileIsCompleted: a file cut back to the end of one of its
// messages gets the messages after that written again.
func TestShortenedFileIsCompleted(t *testing.T) {
	res, dir := changedFileRun(t, func(path string, ends []int64) {
		if err := os.Truncate(path, ends[0]); err != nil {
			t.Fatal(err)
		}
	})
	r := res.Report
	if r.Imported != 2 || r.Present != 1 || r.Status != "ok" || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "2 messages") {
		t.Fatalf("%+v: want 2 written again, with a note", r)
	}
	if got := countMessages(t, dir); !mapsEqual(got, threeInInbox) {
		t.Errorf("got %v, want %v", got, threeInInbox)
	}
}

// TestFileCutMidMessageFails: a file cut inside a message cannot be
// reconciled with the journal: its messages fail, naming the file, and
// the run is partial; the file is left as it is.
func TestFileCutMidMessageFails(t *testing.T) {
	var size int64
	res, _ := changedFileRun(t, func(path string, ends []int64) {
		size = ends[0] + 3
		if err := os.Truncate(path, size); err != nil {
			t.Fatal(err)
		}
	})
	r := res.Report
	if r.Status != "partial" || r.Failed != 2 || r.Present != 1 || r.Imported != 0 || !strings.Contains(r.Failures[0].Reason, "Inbox") || strings.HasPrefix(r.Statement, "all") {
		t.Fatalf("%+v: want the 2 messages after the cut failed, naming Inbox", r)
	}
}

// TestDamagedItemFailsAloneAndLeavesNoTrace: a message whose archive bytes
// fail their checksum (found only at its end, after it was written) is
// cut off the file and listed as failed with the reason; the others land.
func TestDamagedItemFailsAloneAndLeavesNoTrace(t *testing.T) {
	tmp := t.TempDir()
	arch := localfiletest.DamagedArchive(t, tmp, t0, testItem{Folder: "INBOX", ID: "3", Recv: t0, Body: "Subject: 3\n\n3\n"})
	dir := filepath.Join(tmp, "out")
	res, err := runRestore(t, t.Context(), dir, "", false, arch)
	r := res.Report
	if err != nil || r.Imported != 2 || r.Failed != 1 || r.Failures[0].Item != "2" || !strings.Contains(r.Failures[0].Reason, "checksum") || r.Status != "partial" {
		t.Fatalf("%v %+v", err, r)
	}
	want := map[string]int{"Inbox:Subject: 1\n\n1\n": 1, "Inbox:Subject: 3\n\n3\n": 1}
	if got := countMessages(t, dir); !mapsEqual(got, want) {
		t.Errorf("the file holds %d messages, want 1 and 3 only", len(got))
	}
}

// TestRestoreThroughASymlinkAddsNothing: the journal belongs to the
// directory, not to the spelling of its path, so restoring again through
// a symbolic link to it writes no message twice.
func TestRestoreThroughASymlinkAddsNothing(t *testing.T) {
	tmp := t.TempDir()
	arch := filepath.Join(tmp, "a.tar.gz")
	writeArchive(t, arch, []string{"INBOX"}, []testItem{
		{Folder: "INBOX", ID: "1", Recv: t0, Body: "Subject: 1\n\n1\n"},
		{Folder: "INBOX", ID: "2", Recv: t0, Body: "Subject: 2\n\n2\n"},
	})
	dir, link := filepath.Join(tmp, "out"), filepath.Join(tmp, "link")
	if _, err := runRestore(t, t.Context(), dir, "", false, arch); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	res, err := runRestore(t, t.Context(), link, "", false, arch)
	if err != nil || res.Report.Imported != 0 || res.Report.Present != 2 {
		t.Fatalf("through the link: %v %+v", err, res.Report)
	}
	want := map[string]int{"Inbox:Subject: 1\n\n1\n": 1, "Inbox:Subject: 2\n\n2\n": 1}
	if got := countMessages(t, dir); !mapsEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestLaterFlagsAreReported: an mbox keeps the flags a message was first
// written with (rewriting the file to change them is not done), so a
// later archive that changes them gets a note per message naming the
// folder, the item and the flags before and after; flags that merely
// cannot be written (\Recent) are no change.
func TestLaterFlagsAreReported(t *testing.T) {
	tmp := t.TempDir()
	full, delta := filepath.Join(tmp, "full.tar.gz"), filepath.Join(tmp, "delta.tar.gz")
	writeArchive(t, full, []string{"INBOX"}, []testItem{
		{Folder: "INBOX", ID: "1", Flags: []string{`\Seen`}, Recv: t0, Body: "Subject: 1\n\n1\n"},
		{Folder: "INBOX", ID: "2", Flags: []string{`\Seen`}, Recv: t0, Body: "Subject: 2\n\n2\n"},
	})
	writeArchive(t, delta, []string{"INBOX"}, []testItem{
		{Folder: "INBOX", ID: "1", Flags: []string{`\Flagged`, "$Label1"}, Recv: t0, Body: "Subject: 1\n\n1\n"},
		{Folder: "INBOX", ID: "2", Flags: []string{`\Seen`, `\Recent`}, Recv: t0, Body: "Subject: 2\n\n2\n"},
	})
	dir := filepath.Join(tmp, "out")
	if _, err := runRestore(t, t.Context(), dir, "", false, full); err != nil {
		t.Fatal(err)
	}
	res, err := runRestore(t, t.Context(), dir, "", false, delta)
	r := res.Report
	if err != nil || r.Present != 2 || len(r.Notes) != 1 {
		t.Fatalf("%v %+v: want one note", err, r)
	}
	for _, want := range []string{"INBOX", "1", `\Seen`, `\Flagged $Label1`, "first"} {
		if !strings.Contains(r.Notes[0], want) {
			t.Errorf("note %q does not say %q", r.Notes[0], want)
		}
	}
	if inbox := readMbox(t, filepath.Join(dir, "Inbox")); len(inbox) != 2 || !slices.Equal(inbox[0].flags, mboxfmt.Flags{`\Seen`}) {
		t.Errorf("Inbox read back as %+v", inbox)
	}
	// Full and delta in one run: the same.
	res, err = runRestore(t, t.Context(), filepath.Join(tmp, "one-run"), "", false, full, delta)
	if r := res.Report; err != nil || r.Imported != 2 || r.Present != 2 || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], `\Flagged $Label1`) {
		t.Fatalf("one run: %v %+v: want one note", err, r)
	}
}

// TestRestoreCollidingFolderNamesKeepTheirOwnFiles: "a:b" and "a_b" would both
// be "a_b" made safe; whatever the order or the run, each folder's mail
// stays in its own file (a delta alone, or --folder first, once mixed them).
func TestRestoreCollidingFolderNamesKeepTheirOwnFiles(t *testing.T) {
	tmp := t.TempDir()
	full, delta := filepath.Join(tmp, "full.tar.gz"), filepath.Join(tmp, "delta.tar.gz")
	writeArchive(t, full, []string{"a:b", "a_b"}, []testItem{
		{Folder: "a:b", ID: "1", Recv: t0, Body: "Subject: colon\n\ncolon\n"},
		{Folder: "a_b", ID: "2", Recv: t0, Body: "Subject: under\n\nunder\n"},
	})
	writeArchive(t, delta, []string{"a_b"}, []testItem{
		{Folder: "a_b", ID: "3", Recv: t0, Body: "Subject: under2\n\nunder2\n"},
	})
	byFile := func(dir string) map[string]string {
		files := map[string]string{}
		for k := range countMessages(t, dir) {
			file, text, _ := strings.Cut(k, ":")
			files[text] = file
		}
		return files
	}
	check := func(name string, files map[string]string) {
		t.Helper()
		if files["Subject: colon\n\ncolon\n"] == files["Subject: under\n\nunder\n"] ||
			(files["Subject: under2\n\nunder2\n"] != "" && files["Subject: under2\n\nunder2\n"] != files["Subject: under\n\nunder\n"]) {
			t.Errorf("%s: mail of two folders mixed: %v", name, files)
		}
	}
	dir := filepath.Join(tmp, "out1")
	for _, a := range []string{full, delta} {
		if _, err := runRestore(t, t.Context(), dir, filepath.Join(tmp, "s1"), false, a); err != nil {
			t.Fatal(err)
		}
	}
	check("full then delta alone", byFile(dir))

	dir = filepath.Join(tmp, "out2")
	req := importer.Request{User: "alice", Archives: []string{full}, StateDir: filepath.Join(tmp, "s2"), Select: importer.Select{Folders: []string{"a_b"}}}
	if _, err := New(dir).Import(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if _, err := runRestore(t, t.Context(), dir, filepath.Join(tmp, "s2"), false, full); err != nil {
		t.Fatal(err)
	}
	check("--folder a_b then full", byFile(dir))
}
