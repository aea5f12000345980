package dav

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// cardsIn makes contact objects of folder with the UIDs; fn names them.
func cardsIn(folder string, fn func(uid string) string, uids ...string) []pimObject {
	var out []pimObject
	for _, u := range uids {
		out = append(out, pimObject{kind: format.KindContact, folder: folder, uid: u, body: plainCard(u, fn(u)).body, sourceID: folder + u})
	}
	return out
}

func person(uid string) string { return "Person " + uid }

func books(paths ...string) []format.Folder {
	var out []format.Folder
	for _, p := range paths {
		out = append(out, format.Folder{Kind: format.FolderContacts, Path: p, DisplayName: p})
	}
	return out
}

// TestSlugAlikeBooksStayApartRadicale (review of issue 9, item 2/21):
// archive address books whose names make the same path segment ("Work
// Old" and "Work-Old", "Team" and "team") are different books: each gets
// its own collection (the second a numbered sibling), a card of one never
// stands for a card of the other, and a re-run finds each book again.
func TestSlugAlikeBooksStayApartRadicale(t *testing.T) {
	realServer(t)
	r := testservers.StartRadicale(t, map[string]string{"alice": "a", "bob": "b"})
	objs := cardsIn("Work Old", person, "o1", "o2")
	objs = append(objs, cardsIn("Work-Old", person, "d1", "d2", "d3")...)
	objs = append(objs, cardsIn("Team", person, "u1", "u2")...)
	objs = append(objs, cardsIn("team", func(u string) string { return "Other " + u }, "u1", "u3")...)
	archive := writePIMArchive(t, books("Work Old", "Work-Old", "Team", "team"), objs)
	// alice without a journal, bob with one.
	for _, u := range []struct{ user, pass, state string }{{"alice", "a", ""}, {"bob", "b", t.TempDir()}} {
		slugAlike(t, r.URL, u.user, u.pass, u.state, archive)
	}
}

func slugAlike(t *testing.T, base, user, pass, state, archive string) {
	t.Helper()
	opt := testRun{Options: Options{URL: base, User: user, Password: pass}, StateDir: state}
	l := newLister(t, base+user+"/", user, pass)
	h := "/" + user + "/"
	want := map[string]int{h + "work-old/": 2, h + "work-old-2/": 3, h + "team/": 2, h + "team-2/": 2}
	wantNames := map[string]string{h + "work-old/": "Work Old", h + "work-old-2/": "Work-Old", h + "team/": "Team", h + "team-2/": "team"}
	for run := range 2 {
		rep := importOnce(t, archive, opt)
		if rep.Failed != 0 || rep.Imported+rep.Present != 9 || (run == 0 && rep.Imported != 9) || (run == 1 && rep.Present != 9) {
			t.Errorf("%s run %d: imported/present/failed = %d/%d/%d, want 9 imported, then 9 present (%+v)", user, run, rep.Imported, rep.Present, rep.Failed, rep.Failures)
		}
		got := l.books()
		if fmt.Sprint(got) != fmt.Sprint(wantNames) {
			t.Errorf("%s run %d: address books %v, want %v", user, run, sortedNames(got), sortedNames(wantNames))
		}
		for p, n := range want {
			if _, ok := got[p]; ok && l.members(p) != n {
				t.Errorf("run %d: %s holds %d cards, want %d", run, p, l.members(p), n)
			}
		}
	}
	// The team version of u1 is there, beside Team's.
	_, _, body := getter{user, pass}.get(t, base+user+"/team-2/u1.vcf")
	if !bytes.Contains(body, []byte("Other u1")) {
		t.Errorf("team's u1 is not in team-2: %q", body)
	}
}

// TestDefaultBookFoundAgainXandikos (review of issue 9, item 21): an
// archive's only book goes to Xandikos's default "addressbook"; a later
// run without a journal, with that book and a second one, must find the
// first in the default again (its objects are there), not create "work"
// beside it and upload every card twice.
func TestDefaultBookFoundAgainXandikos(t *testing.T) {
	realServer(t)
	x := testservers.StartXandikos(t)
	one := writePIMArchive(t, books("work"), cardsIn("work", person, "w1", "w2", "w3", "w4"))
	two := writePIMArchive(t, books("work", "private"), append(cardsIn("work", person, "w1", "w2", "w3", "w4"), cardsIn("private", person, "p1", "p2", "p3", "p4")...))
	opt := testRun{Options: Options{URL: x.URL, User: "user", Password: "x"}}
	l := newLister(t, x.URL+"user/contacts/", "user", "x")
	if rep := importOnce(t, one, opt); rep.Imported != 4 || rep.Failed != 0 {
		t.Fatalf("first run: imported/failed = %d/%d", rep.Imported, rep.Failed)
	}
	if n := l.members("/user/contacts/addressbook/"); n != 4 {
		t.Fatalf("the default address book holds %d cards after the first run, want 4", n)
	}
	_, plan := dryRunPlan(t, two, opt)
	wantPlanned(t, plan, "work", "contacts", false, "/user/contacts/addressbook/")
	// The re-runs keep a journal: without one, the second re-run finds two
	// books on the target (addressbook and private), and rule 6 recognises
	// only the target's single pre-existing book (review 2 of item 21).
	again := opt
	again.StateDir = t.TempDir()
	for run := range 2 {
		rep := importOnce(t, two, again)
		if rep.Failed != 0 || rep.Imported+rep.Present != 8 || (run == 0 && rep.Imported != 4) {
			t.Errorf("run %d: imported/present/failed = %d/%d/%d, want 4/4/0 then 0/8/0", run, rep.Imported, rep.Present, rep.Failed)
		}
		got := l.books()
		if len(got) != 2 || l.members("/user/contacts/addressbook/") != 4 || l.members("/user/contacts/private/") != 4 {
			t.Errorf("run %d: address books %v; want addressbook and private with 4 cards each", run, sortedNames(got))
		}
	}
}

// TestDamagedCardKeepsDefaultsXandikos (review of issue 9, items 17/21):
// one card damaged in the archive (tar framing intact) fails alone; it
// does not change where the book and the calendar go (the targets'
// defaults), and nothing is created beside them.
func TestDamagedCardKeepsDefaultsXandikos(t *testing.T) {
	realServer(t)
	x := testservers.StartXandikos(t)
	cal := pimFolder{format.FolderCalendar, "cal", uids("e", 2)}
	objs := cardsIn("work", person, "w1", "w2", "w3")
	for _, u := range cal.uids {
		k, body := cal.object(u)
		objs = append(objs, pimObject{kind: k, folder: "cal", uid: u, body: body, sourceID: u})
	}
	folders := append(books("work"), format.Folder{Kind: format.FolderCalendar, Path: "cal", DisplayName: "cal"})
	path := writePIMArchiveAs(t, "u.tar", &format.WriterOptions{Compression: format.None}, folders, objs)
	raw, _ := os.ReadFile(path)
	i := bytes.Index(raw, []byte("FN:Person w2"))
	if i < 0 {
		t.Fatal("card w2 not found in the plain archive")
	}
	raw[i+3] = 'Q' // same length: the tar framing holds, the checksum does not
	os.WriteFile(path, raw, 0o600)

	rep := importOnce(t, path, testRun{Options: Options{URL: x.URL, User: "user", Password: "x"}})
	if rep.Failed != 1 || rep.Imported != 4 {
		t.Errorf("imported/failed = %d/%d, want 4/1 (%+v)", rep.Imported, rep.Failed, rep.Failures)
	}
	if hasNote(rep, "could not be read through") || hasNote(rep, "is not used as the default") {
		t.Errorf("the damaged card changed the defaults: %q", rep.Notes)
	}
	bl := newLister(t, x.URL+"user/contacts/", "user", "x")
	cl := newLister(t, x.URL+"user/calendars/", "user", "x")
	if got := bl.books(); len(got) != 1 || bl.members("/user/contacts/addressbook/") != 2 {
		t.Errorf("address books %v; want the default alone with 2 cards", sortedNames(got))
	}
	if got := cl.calendars(); len(got) != 1 || cl.members("/user/calendars/calendar/") != 2 {
		t.Errorf("calendars %v; want the default alone with 2 events", sortedNames(got))
	}
}

// TestMapCollectionRefusedRadicale (review of issue 9, item 21): a
// --map-collection naming no archive folder, or a target outside the
// home set, is an error before anything is created or sent.
func TestMapCollectionRefusedRadicale(t *testing.T) {
	realServer(t)
	r := testservers.StartRadicale(t, map[string]string{"alice": "a", "bob": "b"})
	archive := writePIMArchive(t, books("work"), cardsIn("work", person, "w1", "w2"))
	for _, m := range []map[string]string{
		{"wrok": "Kontakte"},
		{"work": "../../../other/"},
		{"work": "./x/../../bob/"},
		{"work": "http://evil.example/x/"},
		{"work": "/bob/work/"},
	} {
		rep, err := importArchives(context.Background(), []string{archive}, testRun{Options: Options{URL: r.URL, User: "alice", Password: "a", MapCollection: m}})
		if err == nil {
			t.Errorf("%v: no error (report %+v, notes %q)", m, rep, rep.Notes)
		} else {
			t.Logf("%v: %v", m, err)
		}
	}
	for _, u := range []struct{ user, pass string }{{"alice", "a"}, {"bob", "b"}} {
		if got := newLister(t, r.URL+u.user+"/", u.user, u.pass).books(); len(got) != 0 {
			t.Errorf("%s: address books %v were created by refused runs", u.user, sortedNames(got))
		}
	}
}

// TestRoutingNoteOncePerFolderXandikos: a calendar's events and tasks
// going to the target's default are one note, not one per kind.
func TestRoutingNoteOncePerFolderXandikos(t *testing.T) {
	realServer(t)
	x := testservers.StartXandikos(t)
	archive := folderArchive(t, pimFolder{format.FolderCalendar, "Personal", append(uids("e", 2), uids("T", 2)...)})
	rep := importOnce(t, archive, testRun{Options: Options{URL: x.URL, User: "user", Password: "x"}})
	n := 0
	for _, note := range rep.Notes {
		if strings.Contains(note, `calendar "Personal" goes to`) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d notes say where the calendar goes, want 1: %q", n, rep.Notes)
	}
}

// TestOtherBookSameUIDNotTakenXandikos (review 2 of issue 9, item 21):
// the user's own book "family" on the target (beside Xandikos's default
// "addressbook") holds a card with the UID of the first card of the
// archive's "work" book. Rule 6 recognises only the target's single
// pre-existing book, so "work" gets a collection of its own and "family"
// keeps its two cards.
func TestOtherBookSameUIDNotTakenXandikos(t *testing.T) {
	realServer(t)
	x := testservers.StartXandikos(t)
	opt := testRun{Options: Options{URL: x.URL, User: "user", Password: "x"}}
	pre := writePIMArchive(t, books("family", "friends"), append(cardsIn("family", person, "w1", "f2"), cardsIn("friends", person, "g1")...))
	if rep := importOnce(t, pre, opt); rep.Failed != 0 {
		t.Fatalf("setup failed: %+v", rep)
	}
	l := newLister(t, x.URL+"user/contacts/", "user", "x")
	arch := writePIMArchive(t, books("work", "private"), append(cardsIn("work", person, "w1", "w2", "w3"), cardsIn("private", person, "p1")...))
	rep := importOnce(t, arch, opt)
	if rep.Failed != 0 || rep.Imported != 4 {
		t.Errorf("imported/present/failed = %d/%d/%d, want 4/0/0; notes %q", rep.Imported, rep.Present, rep.Failed, rep.Notes)
	}
	if n := l.members("/user/contacts/family/"); n != 2 {
		t.Errorf("family holds %d cards, want its own 2: work was sent into another book", n)
	}
	if n := l.members("/user/contacts/work/"); n != 3 {
		t.Errorf("work holds %d cards, want 3; books %v", n, sortedNames(l.books()))
	}
}

// TestDryRunWritesNoJournalXandikos (review 2 of issue 9): a dry run
// writes nothing, not even the journal's directory beside the archive.
func TestDryRunWritesNoJournalXandikos(t *testing.T) {
	realServer(t)
	x := testservers.StartXandikos(t)
	arch := writePIMArchive(t, books("work"), cardsIn("work", person, "w1"))
	state := filepath.Join(t.TempDir(), "state")
	opt := testRun{Options: Options{URL: x.URL, User: "user", Password: "x"}, StateDir: state, DryRun: true}
	if rep := importOnce(t, arch, opt); rep.Failed != 0 {
		t.Fatalf("dry run failed: %+v", rep)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("the dry run created %s (%v): it must write nothing", state, err)
	}
}
