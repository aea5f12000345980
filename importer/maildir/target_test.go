package maildir

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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
	mdir "github.com/mailhaul/mailhaul/mailbox/maildir"
	"github.com/mailhaul/mailhaul/progress"
)

type testItem struct {
	folder string
	id     string
	flags  []string
	recv   time.Time
	body   string
	kind   format.Kind
}

type testFolder struct {
	path       string
	kind       format.FolderKind
	subscribed bool
}

var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// writeArchive writes an archive of folders and items into dir (after
// marks a delta) and returns its path.
func writeArchive(t *testing.T, dir string, after time.Time, folders []testFolder, items []testItem) string {
	t.Helper()
	return writeArchiveAs(t, dir, after, format.Gzip, folders, items)
}

func writeArchiveAs(t *testing.T, dir string, after time.Time, comp format.Compression, folders []testFolder, items []testItem) string {
	t.Helper()
	f, err := format.Create(dir, format.Manifest{User: "alice@example.org", Source: format.Source{Kind: "test"}, After: after},
		&format.CreateOptions{WriterOptions: format.WriterOptions{Compression: comp}})
	if err != nil {
		t.Fatal(err)
	}
	for _, fo := range folders {
		if fo.kind == "" {
			fo.kind = format.FolderMail
		}
		if err := f.AddFolder(format.Folder{Kind: fo.kind, Path: fo.path, Subscribed: fo.subscribed}); err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if it.folder != fo.path {
				continue
			}
			if it.kind == "" {
				it.kind = format.KindMessage
			}
			err := f.AddItem(format.Item{Kind: it.kind, Folder: it.folder, Flags: it.flags, Received: it.recv, SourceID: it.id},
				strings.NewReader(it.body))
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, format.ArchiveName("alice@example.org", after, comp))
}

func restoreInto(t *testing.T, dir string, req importer.Request) *importer.Result {
	t.Helper()
	req.User = "alice@example.org"
	res, err := New(dir).Import(context.Background(), req)
	if err != nil {
		t.Fatalf("restore: %v (%s)", err, res.Report.Statement)
	}
	return res
}

// tree lists the message files under dir as "folderdir/sub/name".
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		sub := filepath.Base(filepath.Dir(rel))
		if !d.IsDir() && (sub == "cur" || sub == "new" || sub == "tmp") {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestRestoreWritesMaildirPP(t *testing.T) {
	archives := t.TempDir()
	a := writeArchive(t, archives, time.Time{}, []testFolder{
		{path: "INBOX", subscribed: true},
		{path: "Work/2024", subscribed: true},
		{path: "Entwürfe"},
		{path: "Contacts", kind: format.FolderContacts},
	}, []testItem{
		{folder: "INBOX", id: "INBOX/1", flags: []string{`\Seen`, `\Answered`}, recv: t0, body: "Subject: one\r\n\r\nbody one\r\n"},
		{folder: "INBOX", id: "INBOX/2", recv: t0.Add(time.Hour), body: "Subject: two\r\n\r\nbody two\r\n"},
		{folder: "Work/2024", id: "Work/1", flags: []string{`\Flagged`, "$Forwarded", "$Label1", "Custom"}, recv: t0.Add(2 * time.Hour), body: "Subject: work\r\n\r\nw\r\n"},
		{folder: "Entwürfe", id: "E/1", flags: []string{`\Draft`}, recv: t0.Add(3 * time.Hour), body: "Subject: draft\r\n\r\nd\r\n"},
		{folder: "Contacts", id: "c1", kind: format.KindContact, recv: t0, body: "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:X\r\nUID:1\r\nEND:VCARD\r\n"},
	})
	dir := filepath.Join(t.TempDir(), "restored")
	var events []progress.Event
	res := restoreInto(t, dir, importer.Request{Archives: []string{a}, Progress: func(e progress.Event) { events = append(events, e) }})
	rep := res.Report
	if rep.Status != "ok" || rep.Imported != 4 || rep.Skipped != 1 || rep.Skips[SkipNotMail] != 1 || rep.Failed != 0 {
		t.Fatalf("report: %+v", rep)
	}
	if len(events) != 4 || events[3].Items != 4 || events[3].Stage != "restore" || events[3].Folder != "Entwürfe" {
		t.Errorf("progress events %+v", events)
	}
	files := tree(t, dir)
	want := map[string]string{
		"cur/" + UniqueName(&format.Item{Folder: "INBOX", SourceID: "INBOX/1", Received: t0, SHA256: shaOf("Subject: one\r\n\r\nbody one\r\n")}) + ":2,RS": "Subject: one\r\n\r\nbody one\r\n",
	}
	for k, v := range want {
		if files[k] != v {
			t.Errorf("file %s = %q; want %q (have %v)", k, files[k], v, keys(files))
		}
	}
	var names []string
	for k := range files {
		names = append(names, k)
	}
	slices.Sort(names)
	wantPrefixes := []string{".Entw&APw-rfe/cur/1709305200.M", ".Work.2024/cur/1709301600.M", "cur/1709294400.M", "cur/1709298000.M"}
	wantSuffixes := []string{".mailhaul:2,D", ".mailhaul:2,FPab", ".mailhaul:2,RS", ".mailhaul:2,"}
	if len(names) != 4 {
		t.Fatalf("files %q", names)
	}
	for i, n := range names {
		if !strings.HasPrefix(n, wantPrefixes[i]) || !strings.HasSuffix(n, wantSuffixes[i]) {
			t.Errorf("file %q; want %s...%s", n, wantPrefixes[i], wantSuffixes[i])
		}
		fi, err := os.Stat(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		unique, _, _ := mdir.SplitInfo(filepath.Base(n))
		sec, ok := mdir.NameTime(unique)
		if !ok || !fi.ModTime().Equal(time.Unix(sec, 0)) {
			t.Errorf("%s: mtime %v, name time %d", n, fi.ModTime(), sec)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v; want 0600", n, fi.Mode())
		}
	}
	for _, d := range []string{".", "cur", ".Work.2024", ".Work.2024/tmp", ".Entw&APw-rfe/new"} {
		fi, err := os.Stat(filepath.Join(dir, d))
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("directory %s: %v, %v; want 0700", d, fi, err)
		}
	}
	kw, err := os.ReadFile(filepath.Join(dir, ".Work.2024", mdir.KeywordsFile))
	if err != nil || string(kw) != "0 $Label1\n1 Custom\n" {
		t.Errorf("dovecot-keywords = %q, %v", kw, err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".Work.2024", mdir.FolderMarker)); err != nil {
		t.Errorf("maildirfolder: %v", err)
	}
	subs, err := os.ReadFile(filepath.Join(dir, "subscriptions"))
	if err != nil || string(subs) != "V\t2\n\nINBOX\nWork\t2024\n" {
		t.Errorf("subscriptions = %q, %v", subs, err)
	}
	if !strings.Contains(rep.Statement, "all 5 items") {
		t.Errorf("statement %q", rep.Statement)
	}
}

func shaOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func keys(m map[string]string) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	slices.Sort(k)
	return k
}

func TestRestoreFullDeltaUnionAndRerun(t *testing.T) {
	archives := t.TempDir()
	full := writeArchive(t, archives, time.Time{}, []testFolder{{path: "INBOX"}, {path: "Work"}}, []testItem{
		{folder: "INBOX", id: "INBOX/1", flags: []string{`\Seen`}, recv: t0, body: "m1"},
		{folder: "INBOX", id: "INBOX/2", recv: t0.Add(time.Minute), body: "m2"},
		{folder: "Work", id: "Work/1", flags: []string{"Later"}, recv: t0, body: "w1"},
	})
	// The delta holds a new message, and one of the full archive again
	// with its flags changed since.
	delta := writeArchive(t, archives, t0.Add(time.Hour), []testFolder{{path: "INBOX"}, {path: "Work"}}, []testItem{
		{folder: "INBOX", id: "INBOX/2", flags: []string{`\Seen`, `\Flagged`}, recv: t0.Add(time.Minute), body: "m2"},
		{folder: "INBOX", id: "INBOX/3", recv: t0.Add(2 * time.Hour), body: "m3"},
		{folder: "Work", id: "Work/2", flags: []string{"Sooner"}, recv: t0.Add(2 * time.Hour), body: "w2"},
	})
	dir := t.TempDir()
	req := importer.Request{Archives: []string{full, delta}}
	rep := restoreInto(t, dir, req).Report
	if rep.Imported != 5 || rep.Present != 1 || rep.Failed != 0 || rep.Status != "ok" {
		t.Fatalf("first run: %+v", rep)
	}
	first := tree(t, dir)
	if len(first) != 5 {
		t.Fatalf("union: %v", keys(first))
	}
	var flagged int
	for name, body := range first {
		if body == "m2" {
			flagged++
			if !strings.HasSuffix(name, ":2,FS") {
				t.Errorf("m2 is %s; want the delta's flags FS", name)
			}
		}
	}
	if flagged != 1 {
		t.Errorf("m2 found %d times", flagged)
	}
	kw, _ := os.ReadFile(filepath.Join(dir, ".Work", mdir.KeywordsFile))
	if string(kw) != "0 Later\n1 Sooner\n" {
		t.Errorf("keywords %q", kw)
	}
	// A second run writes nothing and finds everything.
	rep = restoreInto(t, dir, req).Report
	if rep.Imported != 0 || rep.Present != 6 || rep.Status != "ok" {
		t.Fatalf("second run: %+v", rep)
	}
	if second := tree(t, dir); !slices.Equal(keys(first), keys(second)) {
		t.Errorf("second run changed the tree:\n%v\n%v", keys(first), keys(second))
	}
	// A dry run against it plans nothing new.
	res := restoreInto(t, dir, importer.Request{Archives: req.Archives, DryRun: true})
	if res.Plan == nil || res.Report.WouldImport != 0 || res.Report.Present != 6 {
		t.Fatalf("dry run: %+v %+v", res.Report, res.Plan)
	}
}

func TestRestoreDryRunWritesNothing(t *testing.T) {
	a := writeArchive(t, t.TempDir(), time.Time{}, []testFolder{{path: "INBOX"}, {path: "Sent"}}, []testItem{
		{folder: "INBOX", id: "1", recv: t0, body: "m1"},
		{folder: "Sent", id: "2", recv: t0, body: "sent"},
	})
	dir := filepath.Join(t.TempDir(), "new")
	res := restoreInto(t, dir, importer.Request{Archives: []string{a}, DryRun: true})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("dry run made %s: %v", dir, err)
	}
	want := []importer.PlanFolder{
		{Source: "INBOX", Target: ".", Kind: "mail", Create: true, Items: 1, Bytes: 2},
		{Source: "Sent", Target: ".Sent", Kind: "mail", Create: true, Items: 1, Bytes: 4},
	}
	if !slices.Equal(res.Plan.Folders, want) || res.Report.WouldImport != 2 {
		t.Errorf("plan %+v; want %+v", res.Plan.Folders, want)
	}
}

func TestRestoreSelect(t *testing.T) {
	a := writeArchive(t, t.TempDir(), time.Time{}, []testFolder{{path: "INBOX"}, {path: "Work"}, {path: "Work/Old"}, {path: "Workshop"}}, []testItem{
		{folder: "INBOX", id: "1", recv: t0, body: "i"},
		{folder: "Work", id: "2", recv: t0, body: "w-early"},
		{folder: "Work", id: "3", recv: t0.Add(48 * time.Hour), body: "w-late"},
		{folder: "Work/Old", id: "4", recv: t0.Add(time.Hour), body: "wo"},
		{folder: "Workshop", id: "5", recv: t0.Add(time.Hour), body: "ws"},
	})
	dir := t.TempDir()
	rep := restoreInto(t, dir, importer.Request{Archives: []string{a},
		Select: importer.Select{Folders: []string{"Work"}, After: t0.Add(time.Minute), Before: t0.Add(24 * time.Hour)}}).Report
	files := tree(t, dir)
	var bodies []string
	for _, b := range files {
		bodies = append(bodies, b)
	}
	if !slices.Equal(bodies, []string{"wo"}) || rep.Imported != 1 || rep.Skips[localfile.SkipNotSelected] != 4 {
		t.Errorf("restored %q, report %+v", bodies, rep)
	}
}

// A folder directory replaced by a link to elsewhere must not lead a
// write outside DIR: the items fail, named, and nothing is written there.
func TestRestoreNeverWritesThroughLinks(t *testing.T) {
	a := writeArchive(t, t.TempDir(), time.Time{}, []testFolder{{path: "INBOX"}, {path: "Work"}}, []testItem{
		{folder: "INBOX", id: "1", recv: t0, body: "i"},
		{folder: "Work", id: "2", recv: t0, body: "w"},
	})
	dir, outside := localfiletest.LinkedDir(t, t.TempDir(), ".Work")
	res, err := New(dir).Import(context.Background(), importer.Request{User: "u", Archives: []string{a}})
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Report
	if rep.Status != "partial" || rep.Imported != 1 || rep.Failed != 1 || rep.FailedFolders != 1 ||
		rep.Failures[len(rep.Failures)-1].Item != "2" || !strings.Contains(rep.Statement, "NOT on the target") {
		t.Errorf("report %+v", rep)
	}
	localfiletest.WantNothingOutside(t, outside)
}

func TestRestoreDamagedItemFailsAlone(t *testing.T) {
	b := writeArchiveAs(t, t.TempDir(), time.Time{}, format.None, []testFolder{{path: "INBOX"}}, []testItem{
		{folder: "INBOX", id: "1", recv: t0, body: "first message body"},
		{folder: "INBOX", id: "2", recv: t0, body: "second message body"},
	})
	// Flip a byte of the first body in the uncompressed archive.
	plain, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	plain[bytes.Index(plain, []byte("first message body"))] = 'F'
	if err := os.WriteFile(b, plain, 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res, err := New(dir).Import(context.Background(), importer.Request{User: "u", Archives: []string{b}})
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Report
	if rep.Imported != 1 || rep.Failed != 1 || rep.Failures[0].Item != "1" || !strings.Contains(rep.Failures[0].Reason, "checksum") {
		t.Errorf("report %+v", rep)
	}
	for name := range tree(t, dir) {
		if strings.HasPrefix(name, "tmp/") {
			t.Errorf("left %s behind", name)
		}
	}
}

// A cancelled run stops between items: what it wrote is whole, the
// report says cancelled, and a re-run finishes the job.
func TestRestoreCancelledThenFinished(t *testing.T) {
	a := writeArchive(t, t.TempDir(), time.Time{}, []testFolder{{path: "INBOX"}}, []testItem{
		{folder: "INBOX", id: "1", recv: t0, body: "one"},
		{folder: "INBOX", id: "2", recv: t0, body: "two"},
		{folder: "INBOX", id: "3", recv: t0, body: "three"},
	})
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := New(dir).Import(ctx, importer.Request{User: "u", Archives: []string{a},
		Progress: func(progress.Event) { cancel() }})
	if !errors.Is(err, context.Canceled) || res.Report.Status != "cancelled" || res.Report.Imported != 1 {
		t.Fatalf("cancelled run: %v, %+v", err, res.Report)
	}
	if files := tree(t, dir); len(files) != 1 {
		t.Errorf("after cancel: %v", keys(files))
	}
	rep := restoreInto(t, dir, importer.Request{Archives: []string{a}}).Report
	if rep.Imported != 2 || rep.Present != 1 || len(tree(t, dir)) != 3 {
		t.Errorf("re-run: %+v", rep)
	}
}

// A folder has 26 keyword letters: the keywords past them are noted once
// each, naming the first message, and the messages are still restored.
func TestRestoreKeywordsPastTwentySix(t *testing.T) {
	var many []string
	for i := range 28 {
		many = append(many, "kw"+string(rune('A'+i)))
	}
	a := writeArchive(t, t.TempDir(), time.Time{}, []testFolder{{path: "INBOX"}}, []testItem{
		{folder: "INBOX", id: "1", flags: many, recv: t0, body: "one"},
		{folder: "INBOX", id: "2", flags: many[20:], recv: t0, body: "two"},
	})
	dir := t.TempDir()
	rep := restoreInto(t, dir, importer.Request{Archives: []string{a}}).Report
	if rep.Imported != 2 || rep.Status != "ok" || len(rep.Notes) != 2 ||
		!strings.Contains(rep.Notes[0], `"kw["`) || !strings.Contains(rep.Notes[1], `"kw\\"`) {
		t.Errorf("report %+v", rep)
	}
	kw, _ := os.ReadFile(filepath.Join(dir, mdir.KeywordsFile))
	if got := mdir.ParseKeywords(kw); got.Name(25) != "kwZ" {
		t.Errorf("keywords file %q", kw)
	}
}
