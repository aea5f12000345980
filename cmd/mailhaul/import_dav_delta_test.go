package main

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/internal/journal"
	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/report"
)

func deltaCard(uid, rev, fn string) string {
	return "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nREV:" + rev + "\r\nFN:" + fn + "\r\nN:" + fn + ";;;;\r\nEND:VCARD\r\n"
}

func deltaEvent(uid, stamp, summary string) string {
	return "BEGIN:VEVENT\r\nUID:" + uid + "\r\nDTSTAMP:" + stamp + "\r\nDTSTART:20300101T100000Z\r\nDTEND:20300101T110000Z\r\nSUMMARY:" + summary + "\r\nEND:VEVENT\r\n"
}

func deltaCalendar(events ...string) string {
	return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mailhaul test//EN\r\n" + strings.Join(events, "") + "END:VCALENDAR\r\n"
}

// TestImportDAVDeltaConverges is issue 13's evidence for DAV against real
// Radicale and Xandikos: a pre-migration of contacts and events, then at
// the source a contact edited, an event deleted, one added, and a second
// contact edited both at the source and on the target; the delta import
// adds, updates and (only with --apply-deletions) deletes, leaves the
// target's edit alone as a conflict, which --prefer source overwrites;
// then a run changes nothing and the target equals the source.
func TestImportDAVDeltaConverges(t *testing.T) {
	t.Run("radicale", func(t *testing.T) {
		r := testservers.StartRadicale(t, map[string]string{"alice": "pa"})
		testDAVDeltaConverges(t, r.URL, "alice", "pa", true)
	})
	t.Run("xandikos", func(t *testing.T) {
		x := testservers.StartXandikos(t)
		testDAVDeltaConverges(t, x.URL, "alice", "x", false)
	})
}

// deltaHead opens the statement of the delta's import while c2 is in
// conflict.
const deltaHead = "not all 3 items of the archives are on the target in the source's version: " +
	"1 left alone as conflicts keep the target's version, each listed under conflicts with its reason"

// davDelta is a pre-migrated account and the delta that follows it.
type davDelta struct {
	full, delta, jpath string
	run                func(extra ...string) *report.Report
	target             func() map[string]string // href → body
	before             map[string]string        // the target after the pre-migration
}

// newDAVDelta exports contacts c1..c3 and events e1, e2, imports them,
// then at the source edits c1, deletes e2, adds e3 and edits c2, which is
// also edited on the target, and exports the delta.
func newDAVDelta(t *testing.T, server, user, pass string) *davDelta {
	src, out := t.TempDir(), t.TempDir()
	for _, d := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(src, "mail", d), 0o700)
	}
	vcf, ics := filepath.Join(src, "Friends.vcf"), filepath.Join(src, "Plans.ics")
	write := func(p, s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old, later := "20200101T000000Z", "21000101T000000Z"
	write(vcf, deltaCard("c1", old, "Bob")+deltaCard("c2", old, "Carol")+deltaCard("c3", old, "Dan"))
	write(ics, deltaCalendar(deltaEvent("e1", old, "Lunch"), deltaEvent("e2", old, "Dinner")))
	export := []string{"-q", "export", "maildir", "--user", user, "--src", filepath.Join(src, "mail"), "--contacts", vcf, "--calendar", ics}
	mustRun(t, append(clone(export), "--out", out)...)
	d := &davDelta{full: filepath.Join(out, user+".tgz")}

	state := t.TempDir()
	pw := writePassword(t, pass)
	imp := []string{"-q", "import", "dav", "--url", server, "--user", user, "--password-file", pw, "--state", state}
	d.run = func(extra ...string) *report.Report {
		t.Helper()
		rp := filepath.Join(t.TempDir(), "report.json")
		args := append(append(clone(imp), "--report", rp), extra...)
		code, stdout, stderr := mailhaul(t, args...)
		if code != exitOK {
			t.Fatalf("import %v: exit %d\n%s%s", extra, code, stdout, stderr)
		}
		var rep report.Report
		b, err := os.ReadFile(rp)
		if err != nil || json.Unmarshal(b, &rep) != nil {
			t.Fatalf("report: %v", err)
		}
		return &rep
	}
	if rep := d.run(d.full); rep.Imported != 5 {
		t.Fatalf("pre-migration imported %d, want 5: %s", rep.Imported, rep.Statement)
	}
	u, _ := url.Parse(server)
	d.jpath = journal.Path(state, user, "dav", u.Host)
	d.target = func() map[string]string { return davObjects(t, d.jpath, user, pass) }
	d.before = d.target()
	if len(d.before) != 5 {
		t.Fatalf("target holds %v after the pre-migration", slices.Sorted(maps.Keys(d.before)))
	}

	// At the source: c1 edited, e2 deleted, e3 added; c2 edited at the
	// source and, meanwhile, on the target.
	write(vcf, deltaCard("c1", later, "Bob Smith")+deltaCard("c2", later, "Carol Source")+deltaCard("c3", old, "Dan"))
	write(ics, deltaCalendar(deltaEvent("e1", old, "Lunch"), deltaEvent("e3", later, "Breakfast")))
	putDAV(t, hrefOf(t, d.before, "UID:c2"), user, pass, deltaCard("c2", "20991231T000000Z", "Carol Target"))
	dout := t.TempDir()
	mustRun(t, append(clone(export), "--out", dout, "--since", d.full)...)
	deltas, _ := filepath.Glob(filepath.Join(dout, user+".after-*.tgz"))
	if len(deltas) != 1 {
		t.Fatalf("delta archives: %v", deltas)
	}
	d.delta = deltas[0]
	return d
}

func testDAVDeltaConverges(t *testing.T, server, user, pass string, applyAtOnce bool) {
	d := newDAVDelta(t, server, user, pass)
	run, target, delta := d.run, d.target, d.delta

	// A dry run says what the run will do, and changes nothing.
	edited := target()
	code, stdout, stderr := mailhaul(t, "import", "dav", "--url", server, "--user", user, "--password-file", writePassword(t, pass),
		"--state", filepath.Dir(filepath.Dir(d.jpath)), "--dry-run", "--apply-deletions", delta)
	if want := "would make 1 added, 1 updated, 0 moved, 1 deleted, 1 left alone as conflicts"; code != exitOK || !strings.Contains(stdout, want) {
		t.Fatalf("dry run: exit %d, output lacks %q:\n%s%s", code, want, stdout, stderr)
	}
	if want := "state record: would update 1, move 0, delete 1; 1 left alone as conflicts\n"; !strings.Contains(stdout, want) {
		t.Errorf("the dry run's plan lacks %q:\n%s", want, stdout)
	}
	if got := target(); !maps.Equal(got, edited) {
		t.Fatalf("the dry run changed the target: %v", slices.Sorted(maps.Keys(got)))
	}

	wantChanges := func(rep *report.Report, added, updated, deleted, conflicts, wouldDelete int) {
		t.Helper()
		c := rep.Changes
		if c == nil || rep.Imported != added || c.Updated != updated || c.Deleted != deleted ||
			len(c.Conflicts) != conflicts || len(c.WouldDelete) != wouldDelete {
			t.Fatalf("want %d added, %d updated, %d deleted, %d conflicts, %d would-delete; report: %s %+v",
				added, updated, deleted, conflicts, wouldDelete, rep.Statement, c)
		}
	}
	if applyAtOnce {
		rep := run("--apply-deletions", delta)
		wantChanges(rep, 1, 1, 1, 1, 0)
		// The delta carries 3 objects: c1 updated, c2 a conflict, e3
		// added; the last line counts all three and never says "all".
		if want := deltaHead + " (1 imported now, 0 already there, 1 updated, 1 left as conflicts, 0 skipped on purpose); " +
			"converging on the source's state: 1 added, 1 updated, 0 moved, 1 deleted, 1 left alone as conflicts"; rep.Statement != want {
			t.Errorf("statement:\n%s\nwant\n%s", rep.Statement, want)
		}
	} else {
		rep := run(delta)
		wantChanges(rep, 1, 1, 0, 1, 1)
		if want := deltaHead + " (1 imported now, 0 already there, 1 updated, 1 left as conflicts, 0 skipped on purpose); " +
			"converging on the source's state: 1 added, 1 updated, 0 moved, 0 deleted, 1 left alone as conflicts; " +
			"1 deleted at the source are still on the target, listed under wouldDelete (--apply-deletions deletes them)"; rep.Statement != want {
			t.Errorf("statement:\n%s\nwant\n%s", rep.Statement, want)
		}
		if !strings.Contains(rep.Changes.WouldDelete[0].Item, "e2") {
			t.Errorf("would delete %+v, want e2", rep.Changes.WouldDelete)
		}
		if hrefOf(t, target(), "UID:e2") == "" {
			t.Fatal("e2 deleted without --apply-deletions")
		}
		wantChanges(run("--apply-deletions", delta), 0, 0, 1, 1, 0)
	}
	rep := run("--apply-deletions", delta)
	if c := rep.Changes.Conflicts; len(c) != 1 || !strings.Contains(c[0].Item, "c2") || !strings.Contains(c[0].Reason, "changed on the target") {
		t.Errorf("conflicts %+v, want c2 changed on the target", c)
	}
	got := target()
	if b := got[hrefOf(t, got, "UID:c2")]; !strings.Contains(b, "Carol Target") {
		t.Errorf("the target's edit of c2 was not left alone:\n%s", b)
	}
	wantChanges(run("--apply-deletions", "--prefer", "source", delta), 0, 1, 0, 0, 0)
	wantChanges(run("--apply-deletions", delta), 0, 0, 0, 0, 0)
	// Nor does passing the full archive again: what was deleted stays
	// deleted, what was updated is not put back to its old version.
	if rep := run("--apply-deletions", d.full, delta); rep.Imported != 0 || rep.Changes.Updated != 0 || rep.Changes.Deleted != 0 ||
		len(rep.Changes.Conflicts) != 0 || rep.Failed != 0 {
		t.Errorf("full and delta again: %s %+v", rep.Statement, rep.Changes)
	}

	// The target equals the source.
	got = target()
	want := map[string]string{"UID:c1": "FN:Bob Smith", "UID:c2": "FN:Carol Source", "UID:c3": "FN:Dan",
		"UID:e1": "SUMMARY:Lunch", "UID:e3": "SUMMARY:Breakfast"}
	if len(got) != len(want) {
		t.Errorf("target holds %d objects, want %d: %v", len(got), len(want), slices.Sorted(maps.Keys(got)))
	}
	for uid, line := range want {
		if b := got[hrefOf(t, got, uid)]; !strings.Contains(b, line) {
			t.Errorf("%s on the target lacks %q:\n%s", uid, line, b)
		}
	}
}

// davObjects lists the objects of every collection the journal names,
// href → body.
func davObjects(t *testing.T, jpath, user, pass string) map[string]string {
	t.Helper()
	recs, err := journal.Records(jpath)
	if err != nil {
		t.Fatal(err)
	}
	cols := map[string]bool{}
	for _, r := range recs {
		if r.Ref == "collection" {
			cols[r.Where] = true
		}
	}
	objs := map[string]string{}
	for col := range cols {
		req, _ := http.NewRequest("PROPFIND", col, strings.NewReader(`<?xml version="1.0"?><propfind xmlns="DAV:"><prop><getetag/></prop></propfind>`))
		req.Header.Set("Depth", "1")
		req.Header.Set("Content-Type", "application/xml")
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var ms struct {
			Hrefs []string `xml:"response>href"`
		}
		err = xml.NewDecoder(resp.Body).Decode(&ms)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("PROPFIND %s: %v", col, err)
		}
		cu, _ := url.Parse(col)
		for _, h := range ms.Hrefs {
			hu := cu.ResolveReference(&url.URL{Path: h})
			if strings.HasSuffix(hu.Path, "/") {
				continue
			}
			objs[hu.String()] = getDAV(t, hu.String(), user, pass)
		}
	}
	return objs
}

func getDAV(t *testing.T, u, user, pass string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

func putDAV(t *testing.T, u, user, pass, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "text/vcard; charset=utf-8")
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("PUT %s: %s", u, resp.Status)
	}
}

// hrefOf is the href of the object whose body holds line ("UID:c2"), or
// "" when none does.
func hrefOf(t *testing.T, objs map[string]string, line string) string {
	t.Helper()
	for h, b := range objs {
		for _, l := range strings.Split(b, "\n") {
			if l == line {
				return h
			}
		}
	}
	return ""
}

// TestImportDAVDeltaResumes: a delta import stopped after its DELETE and
// its update PUT reached Radicale but before the journal recorded their
// outcome (what a SIGKILL leaves: the update's intent, nothing of the
// deletion) is finished by the next run, which does neither twice and
// counts each once.
func TestImportDAVDeltaResumes(t *testing.T) {
	r := testservers.StartRadicale(t, map[string]string{"alice": "pa"})
	d := newDAVDelta(t, r.URL, "alice", "pa")
	e2, c1 := hrefOf(t, d.before, "UID:e2"), hrefOf(t, d.before, "UID:c1")
	recs, err := journal.Records(d.jpath)
	if err != nil {
		t.Fatal(err)
	}
	var intents []journal.Record
	for _, rec := range recs {
		switch {
		case rec.Ref == c1:
			rec.State, rec.ETag = journal.Pending, ""
			rec.Key[0] ^= 1 // the new version's key
			intents = append(intents, rec)
		}
	}
	if len(intents) != 1 {
		t.Fatalf("journal records of c1: %+v", intents)
	}
	j, err := journal.Open(d.jpath)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Write(intents...); err != nil {
		t.Fatal(err)
	}
	j.Close()
	del, _ := http.NewRequest(http.MethodDelete, e2, nil)
	del.SetBasicAuth("alice", "pa")
	if resp, err := http.DefaultClient.Do(del); err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("DELETE e2: %v %v", resp, err)
	}
	putDAV(t, c1, "alice", "pa", deltaCard("c1", "21000101T000000Z", "Bob Smith"))

	rep := d.run("--apply-deletions", d.delta)
	if c := rep.Changes; c == nil || rep.Imported != 1 || c.Updated != 1 || c.Deleted != 1 || len(c.Conflicts) != 1 || rep.Failed != 0 {
		t.Fatalf("resumed run: %s %+v", rep.Statement, rep.Changes)
	}
	rep = d.run("--apply-deletions", d.delta)
	if c := rep.Changes; rep.Imported != 0 || c.Updated != 0 || c.Deleted != 0 || len(c.Conflicts) != 1 {
		t.Fatalf("a run after it changed something: %s %+v", rep.Statement, rep.Changes)
	}
	got := d.target()
	if len(got) != 5 || hrefOf(t, got, "UID:e2") != "" || !strings.Contains(got[c1], "FN:Bob Smith") {
		t.Errorf("target: %v\n%s", slices.Sorted(maps.Keys(got)), got[c1])
	}
}

// TestImportDAVDeltaWithoutJournal: a delta imported with a journal that
// knows no earlier import (another --state, or the delta kept elsewhere
// than the full archive) deletes nothing and says why.
func TestImportDAVDeltaWithoutJournal(t *testing.T) {
	r := testservers.StartRadicale(t, map[string]string{"alice": "pa"})
	d := newDAVDelta(t, r.URL, "alice", "pa")
	rp := filepath.Join(t.TempDir(), "report.json")
	mailhaul(t, "-q", "import", "dav", "--url", r.URL, "--user", "alice", "--password-file", writePassword(t, "pa"),
		"--state", t.TempDir(), "--report", rp, "--apply-deletions", d.delta)
	var rep report.Report
	if b, err := os.ReadFile(rp); err != nil || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("report: %v", err)
	}
	if !strings.Contains(strings.Join(rep.Notes, "\n"), "knows of no earlier import") || rep.Changes == nil || rep.Changes.Deleted != 0 {
		t.Errorf("notes %q, changes %+v", rep.Notes, rep.Changes)
	}
	if hrefOf(t, d.target(), "UID:e2") == "" {
		t.Error("e2 deleted without the journal that placed it")
	}
}
