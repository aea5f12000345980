package eml

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/importer/localfile/localfiletest"
)

type testItem = localfiletest.Item

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

var writeArchive = localfiletest.WriteArchive

func runRestore(t *testing.T, ctx context.Context, dir string, dry bool, archives ...string) (*importer.Result, error) {
	t.Helper()
	return New(dir).Import(ctx, importer.Request{User: "alice", Archives: archives, DryRun: dry})
}

// tree lists every file below dir with its content, and every directory.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		fi, _ := d.Info()
		switch {
		case d.IsDir():
			if fi.Mode().Perm() != 0o700 {
				t.Errorf("%s: mode %v, want 0700", rel, fi.Mode())
			}
			got[rel+"/"] = ""
		default:
			if fi.Mode() != 0o600 {
				t.Errorf("%s: mode %v, want 0600", rel, fi.Mode())
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			got[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func keys(m map[string]string) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}

func TestRestoreWritesFiles(t *testing.T) {
	tmp := t.TempDir()
	full, delta := filepath.Join(tmp, "full.tar.gz"), filepath.Join(tmp, "delta.tar.gz")
	vc := func(n string) string { return "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:" + n + "\r\nEND:VCARD\r\n" }
	ev := "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:e\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	writeArchive(t, full, []string{"INBOX", "Work/2024", "Empty", "Friends|contacts", "Work/Cal|calendar"}, []testItem{
		{Folder: "INBOX", ID: "1", Recv: t0, Body: "Subject: one\r\n\r\nno final line ending"},
		{Folder: "Work/2024", ID: "2", Recv: t0.Add(time.Hour), Body: "Subject: two\n\nFrom here\n"},
		{Folder: "Work/2024", ID: "3", Recv: t0.Add(time.Hour), Body: "Subject: two\n\nFrom here\n"},
		{Folder: "Friends", ID: "a.vcf", Kind: format.KindContact, Body: vc("Ann")},
		{Folder: "Friends", ID: "b.vcf", Kind: format.KindContact, Body: vc("Bob")},
		{Folder: "Work/Cal", ID: "e.ics", Kind: format.KindEvent, Body: ev},
	})
	writeArchive(t, delta, []string{"INBOX", "Friends|contacts"}, []testItem{
		{Folder: "INBOX", ID: "1", Recv: t0, Body: "Subject: one\r\n\r\nno final line ending"},
		{Folder: "INBOX", ID: "4", Body: "Subject: undated\n\n"},
		{Folder: "Friends", ID: "a.vcf", Kind: format.KindContact, Body: vc("Ann Changed")},
		{Folder: "Friends", ID: "c.vcf", Kind: format.KindContact, Body: vc("Cy")},
	})
	dir := filepath.Join(tmp, "out")
	res, err := runRestore(t, t.Context(), dir, false, full, delta)
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Report; r.Imported != 8 || r.Present != 1 || r.Failed != 0 || r.Status != "ok" {
		t.Fatalf("report %+v", r)
	}
	first := tree(t, dir)
	want := []string{
		"./", "Empty/", "Friends.vcf", "INBOX/", "INBOX/00000000T000000Z-", "INBOX/20260304T050607Z-",
		"Work/", "Work/2024/", "Work/2024/20260304T060607Z-", "Work/2024/20260304T060607Z-", "Work/Cal.ics",
	}
	got := keys(first)
	if len(got) != len(want) {
		t.Fatalf("files %q, want %q", got, want)
	}
	for i := range got {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("file %q, want %q…", got[i], want[i])
		}
	}
	if first[got[5]] != "Subject: one\r\n\r\nno final line ending" || first[got[8]] != "Subject: two\n\nFrom here\n" {
		t.Errorf("messages not byte for byte: %q %q", first[got[5]], first[got[8]])
	}
	if fi, _ := os.Stat(filepath.Join(dir, got[5])); !fi.ModTime().Equal(t0) {
		t.Errorf("mtime %v, want the received time %v", fi.ModTime(), t0)
	}
	if first["Friends.vcf"] != vc("Ann Changed")+vc("Bob")+vc("Cy") || first["Work/Cal.ics"] != ev {
		t.Errorf("Friends.vcf %q, Cal.ics %q", first["Friends.vcf"], first["Work/Cal.ics"])
	}
	res, err = runRestore(t, t.Context(), dir, false, full, delta)
	if r := res.Report; err != nil || r.Imported != 0 || r.Present != 9 {
		t.Fatalf("re-run: %v %+v", err, r)
	}
	second := tree(t, dir)
	if len(second) != len(first) {
		t.Errorf("re-run changed the tree: %q", keys(second))
	}
	for k, v := range first {
		if second[k] != v {
			t.Errorf("re-run changed %s", k)
		}
	}
}

// TestHostileFolderNamesStayInside: no folder name and no planted link
// makes restore write outside its directory.
func TestHostileFolderNamesStayInside(t *testing.T) {
	tmp := t.TempDir()
	folders := []string{`..\..\evil`, "_../x", "C:", "a:b", "a_b", "Linked/Sub", "x/.../y", "Book|contacts"}
	var items []testItem
	for i, f := range folders {
		name, _, _ := strings.Cut(f, "|contacts")
		it := testItem{Folder: name, ID: string(rune('a' + i)), Recv: t0, Body: "Subject: " + f + "\n\nx\n"}
		if name != f {
			it.Kind = format.KindContact
		}
		items = append(items, it)
	}
	arch := filepath.Join(tmp, "a.tar.gz")
	writeArchive(t, arch, folders, items)
	dir, outside := localfiletest.LinkedDir(t, tmp, "Linked")
	res, err := runRestore(t, t.Context(), dir, false, arch)
	if err != nil {
		t.Fatal(err)
	}
	r := res.Report
	if r.Imported != len(folders)-1 || r.Failed != 1 || r.Failures[len(r.Failures)-1].Folder != "Linked/Sub" || r.Failures[len(r.Failures)-1].Item != "f" {
		t.Errorf("report %+v: want all but the linked folder written, and its message failed by name", r)
	}
	localfiletest.WantNothingOutside(t, outside)
	os.Remove(filepath.Join(dir, "Linked"))
	files := tree(t, dir)
	if _, ok := files["a%3Ab/"]; !ok {
		t.Errorf("a:b and a_b share a directory: %q", keys(files))
	}
}

// TestCancelledRunLeavesNoTornFile: a run cancelled while a message is
// being written leaves no file under its final name, and no part file.
func TestCancelledRunLeavesNoTornFile(t *testing.T) {
	tmp := t.TempDir()
	arch := filepath.Join(tmp, "a.tar.gz")
	big := "Subject: big\n\n" + strings.Repeat("line after line after line\n", 200000)
	writeArchive(t, arch, []string{"INBOX"}, []testItem{{Folder: "INBOX", ID: "1", Recv: t0, Body: big}})
	dir := filepath.Join(tmp, "out")
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		// Cancel as soon as the part file is there: mid-write.
		for i := 0; i < 20000 && ctx.Err() == nil; i++ {
			if m, _ := filepath.Glob(filepath.Join(dir, "INBOX", ".*.part")); len(m) > 0 {
				cancel()
				return
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()
	res, err := runRestore(t, ctx, dir, false, arch)
	cancel()
	for name, content := range tree(t, dir) {
		if strings.HasSuffix(name, ".eml") && content != big {
			t.Errorf("%s holds %d bytes of %d", name, len(content), len(big))
		}
		if strings.HasSuffix(name, ".part") {
			t.Errorf("%s left behind", name)
		}
	}
	if err == nil {
		t.Logf("the run finished before the cancel (%+v); nothing torn either way", res.Report)
	} else if !errors.Is(err, context.Canceled) || res.Report.NotAttempted != 1 {
		t.Errorf("cancelled run: %v %+v", err, res.Report)
	}
	res, err = runRestore(t, t.Context(), dir, false, arch)
	if err != nil || res.Report.Imported+res.Report.Present != 1 {
		t.Fatalf("re-run: %v %+v", err, res.Report)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	tmp := t.TempDir()
	arch := filepath.Join(tmp, "a.tar.gz")
	writeArchive(t, arch, []string{"INBOX", "Friends|contacts"}, []testItem{
		{Folder: "INBOX", ID: "1", Recv: t0, Body: "Subject: 1\n\n1\n"},
		{Folder: "Friends", ID: "a", Kind: format.KindContact, Body: "BEGIN:VCARD\r\nEND:VCARD\r\n"},
	})
	dir := filepath.Join(tmp, "out")
	res, err := runRestore(t, t.Context(), dir, true, arch)
	if err != nil {
		t.Fatal(err)
	}
	if res.Plan == nil || len(res.Plan.Folders) != 2 || res.Report.WouldImport != 2 {
		t.Fatalf("plan %+v, report %+v", res.Plan, res.Report)
	}
	if pf := res.Plan.Folders[1]; pf.Source != "Friends" || pf.Target != "Friends.vcf" || pf.Kind != "contacts" || pf.Items != 1 || !pf.Create {
		t.Errorf("plan folder %+v", pf)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a dry run made %s", dir)
	}
}

// TestDamagedMessageFailsAloneAndLeavesNoTrace: a message whose archive
// bytes fail their checksum leaves no file, final or partial, and is
// listed as failed with the reason.
func TestDamagedMessageFailsAloneAndLeavesNoTrace(t *testing.T) {
	tmp := t.TempDir()
	arch := localfiletest.DamagedArchive(t, tmp, t0)
	dir := filepath.Join(tmp, "out")
	res, err := runRestore(t, t.Context(), dir, false, arch)
	r := res.Report
	if err != nil || r.Imported != 1 || r.Failed != 1 || r.Failures[0].Item != "2" || !strings.Contains(r.Failures[0].Reason, "checksum") {
		t.Fatalf("%v %+v", err, r)
	}
	if files := tree(t, dir); len(files) != 3 { // ./, INBOX/ and message 1
		t.Errorf("files %q, want message 1 only", keys(files))
	}
}

// TestRestoreCollidingFolderNamesKeepTheirOwnFiles: "a:b" and "a_b" would both
// be "a_b" made safe; whatever the order or the run, each folder's mail
// stays in its own directory, once (a delta alone, or --folder first,
// once mixed them or wrote one twice).
func TestRestoreCollidingFolderNamesKeepTheirOwnFiles(t *testing.T) {
	tmp := t.TempDir()
	full, delta := filepath.Join(tmp, "full.tar.gz"), filepath.Join(tmp, "delta.tar.gz")
	writeArchive(t, full, []string{"a:b", "a_b"}, []localfiletest.Item{
		{Folder: "a:b", ID: "1", Recv: t0, Body: "Subject: colon\n\ncolon\n"},
		{Folder: "a_b", ID: "2", Recv: t0, Body: "Subject: under\n\nunder\n"},
	})
	writeArchive(t, delta, []string{"a_b"}, []localfiletest.Item{
		{Folder: "a_b", ID: "2", Recv: t0, Body: "Subject: under\n\nunder\n"},
	})
	check := func(name, dir string) {
		t.Helper()
		dirs := map[string][]string{}
		for p, body := range tree(t, dir) {
			if strings.HasSuffix(p, ".eml") {
				dirs[body] = append(dirs[body], path.Dir(p))
			}
		}
		c, u := dirs["Subject: colon\n\ncolon\n"], dirs["Subject: under\n\nunder\n"]
		if len(c) != 1 || len(u) != 1 || c[0] == u[0] {
			t.Errorf("%s: each message once, in its own folder's directory: %v", name, dirs)
		}
	}
	dir := filepath.Join(tmp, "out1")
	for _, a := range []string{full, delta} {
		if _, err := runRestore(t, t.Context(), dir, false, a); err != nil {
			t.Fatal(err)
		}
	}
	check("full then delta alone", dir)

	dir = filepath.Join(tmp, "out2")
	req := importer.Request{User: "alice", Archives: []string{full}, Select: importer.Select{Folders: []string{"a_b"}}}
	if _, err := New(dir).Import(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if _, err := runRestore(t, t.Context(), dir, false, full); err != nil {
		t.Fatal(err)
	}
	check("--folder a_b then full", dir)
}

// FuzzPlaceIsInjective: two different folders (of any kinds) never share
// a place, and no place is a file inside another's.
func FuzzPlaceIsInjective(f *testing.F) {
	f.Add("a:b", "a_b", false)
	f.Add("x.vcf", "x", true)
	f.Add("a", "a", true)
	f.Fuzz(func(t *testing.T, a, b string, book bool) {
		kb := format.FolderMail
		if book {
			kb = format.FolderContacts
		}
		pa, pb := place(format.FolderMail, a), place(kb, b)
		if (a != b || kb != format.FolderMail) && pa == pb {
			t.Fatalf("place(%q) = place(%q, %s) = %q", a, b, kb, pa)
		}
		if kb != format.FolderMail && strings.HasPrefix(pa, pb+"/") {
			t.Fatalf("mail folder %q at %q lies inside book %q at %q", a, pa, b, pb)
		}
	})
}

// TestRestoreBooksGrowToTheUnion: an address book or calendar holds what every
// run brought: a delta restored alone after its full archive, or a re-run
// that selects nothing of the book, keeps what an earlier run wrote; an
// object the delta changed (same UID) replaces the old one.
func TestRestoreBooksGrowToTheUnion(t *testing.T) {
	tmp := t.TempDir()
	full, delta := filepath.Join(tmp, "full.tar.gz"), filepath.Join(tmp, "delta.tar.gz")
	vc := func(uid, n string) string {
		return "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nFN:" + n + "\r\nEND:VCARD\r\n"
	}
	ev := func(uid, sum string) string {
		return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
			"\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260101T100000Z\r\nSUMMARY:" + sum + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	}
	writeArchive(t, full, []string{"INBOX", "Friends|contacts", "Cal|calendar"}, []localfiletest.Item{
		{Folder: "INBOX", ID: "1", Recv: t0, Body: "Subject: 1\n\n1\n"},
		{Folder: "Friends", ID: "a", UID: "A", Kind: format.KindContact, Body: vc("A", "Ann")},
		{Folder: "Friends", ID: "b", UID: "B", Kind: format.KindContact, Body: vc("B", "Bob")},
		{Folder: "Cal", ID: "e1", UID: "E1", Kind: format.KindEvent, Body: ev("E1", "Old")},
		{Folder: "Cal", ID: "e2", UID: "E2", Kind: format.KindEvent, Body: ev("E2", "Two")},
	})
	writeArchive(t, delta, []string{"INBOX", "Friends|contacts", "Cal|calendar"}, []localfiletest.Item{
		{Folder: "Friends", ID: "a", UID: "A", Kind: format.KindContact, Body: vc("A", "Ann Changed")},
		{Folder: "Friends", ID: "c", UID: "C", Kind: format.KindContact, Body: vc("C", "Cy")},
		{Folder: "Cal", ID: "e1", UID: "E1", Kind: format.KindEvent, Body: ev("E1", "New")},
	})
	dir := filepath.Join(tmp, "out")
	want := func(name string) {
		t.Helper()
		files := tree(t, dir)
		vcf, ics := files["Friends.vcf"], files["Cal.ics"]
		for _, w := range []string{"FN:Ann Changed\r\n", "FN:Bob\r\n", "FN:Cy\r\n"} {
			if strings.Count(vcf, w) != 1 {
				t.Errorf("%s: Friends.vcf should hold %q once:\n%s", name, w, vcf)
			}
		}
		if strings.Contains(vcf, "FN:Ann\r\n") || strings.Count(vcf, "BEGIN:VCARD") != 3 {
			t.Errorf("%s: Friends.vcf should hold 3 cards, Ann's changed one only:\n%s", name, vcf)
		}
		if !strings.Contains(ics, "SUMMARY:New\r\n") || !strings.Contains(ics, "SUMMARY:Two\r\n") ||
			strings.Contains(ics, "SUMMARY:Old\r\n") || strings.Count(ics, "BEGIN:VEVENT") != 2 {
			t.Errorf("%s: Cal.ics should hold E1 changed and E2:\n%s", name, ics)
		}
	}
	for _, a := range []string{full, delta} {
		if _, err := runRestore(t, t.Context(), dir, false, a); err != nil {
			t.Fatal(err)
		}
	}
	want("full then delta alone")

	// A re-run that selects nothing of the books keeps them.
	after := importer.Request{User: "alice", Archives: []string{full, delta}, Select: importer.Select{After: t0.Add(time.Hour)}}
	if _, err := New(dir).Import(t.Context(), after); err != nil {
		t.Fatal(err)
	}
	want("re-run with --after")

	// The delta again: all present, nothing to write, the dry run agrees.
	res, err := runRestore(t, t.Context(), dir, true, delta)
	if err != nil || res.Report.Present != 3 || res.Report.WouldImport != 0 {
		t.Fatalf("dry run of the delta again: %v %+v, want 3 present", err, res.Report)
	}
	res, err = runRestore(t, t.Context(), dir, true, full)
	if err != nil || res.Report.Present != 3 || res.Report.WouldImport != 2 {
		t.Fatalf("dry run of the full archive alone: %v %+v, want the message, Bob and E2 present, Ann and E1 to replace", err, res.Report)
	}
	// The same, from an archive whose records name no UID: the dry run,
	// which spools nothing, knows the objects by their bytes.
	bare := filepath.Join(tmp, "bare.tar.gz")
	writeArchive(t, bare, []string{"Friends|contacts", "Cal|calendar"}, []localfiletest.Item{
		{Folder: "Friends", ID: "a", Kind: format.KindContact, Body: vc("A", "Ann Changed")},
		{Folder: "Friends", ID: "c", Kind: format.KindContact, Body: vc("C", "Cy")},
		{Folder: "Cal", ID: "e1", Kind: format.KindEvent, Body: ev("E1", "New")},
	})
	for _, dry := range []bool{true, false} {
		res, err = runRestore(t, t.Context(), dir, dry, bare)
		if err != nil || res.Report.Present != 3 || res.Report.Imported+res.Report.WouldImport != 0 {
			t.Fatalf("delta without UIDs on record (dry run %v): %v %+v, want 3 present", dry, err, res.Report)
		}
	}
	res, err = runRestore(t, t.Context(), dir, false, delta)
	if err != nil || res.Report.Present != 3 || res.Report.Imported != 0 {
		t.Fatalf("delta again: %v %+v, want 3 present", err, res.Report)
	}
	want("delta again")
}
