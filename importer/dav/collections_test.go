package dav

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-webdav/caldav"
	"github.com/emersion/go-webdav/carddav"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// killAfterBulkPut is a transport that stops the run, as a kill would,
// right after Radicale has answered a whole-collection PUT: no request
// after it reaches the server, so the PROPPATCH that restores the
// collection's display name is never made.
type killAfterBulkPut struct {
	cancel func()
	killed atomic.Bool
}

func (k *killAfterBulkPut) RoundTrip(r *http.Request) (*http.Response, error) {
	if k.killed.Load() {
		return nil, fmt.Errorf("killed")
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/") && resp.StatusCode/100 == 2 {
		k.killed.Store(true)
		k.cancel()
	}
	return resp, err
}

// davLister reads a user's collections back.
type davLister struct {
	t    *testing.T
	c    *client
	home string
}

func newLister(t *testing.T, home, user, pass string) davLister {
	u, _ := url.Parse(home)
	c := newTestClient(nil, user, pass, retry.Loop{})
	c.Trust(u)
	return davLister{t, c, home}
}

// books returns each address book's path with its display name.
func (l davLister) books() map[string]string {
	l.t.Helper()
	cc, _ := carddav.NewClient(l.c, l.home)
	u, _ := url.Parse(l.home)
	abs, err := cc.FindAddressBooks(context.Background(), u.Path)
	if err != nil {
		l.t.Fatal(err)
	}
	out := map[string]string{}
	for _, ab := range abs {
		out[dirPath(ab.Path)] = ab.Name
	}
	return out
}

// calendars returns each calendar's path with its display name.
func (l davLister) calendars() map[string]string {
	l.t.Helper()
	cc, _ := caldav.NewClient(l.c, l.home)
	u, _ := url.Parse(l.home)
	cals, err := cc.FindCalendars(context.Background(), u.Path)
	if err != nil {
		l.t.Fatal(err)
	}
	out := map[string]string{}
	for _, cal := range cals {
		out[dirPath(cal.Path)] = cal.Name
	}
	return out
}

func (l davLister) members(colPath string) int {
	l.t.Helper()
	u, _ := url.Parse(l.home)
	_, m, err := l.c.ListETags(context.Background(), u.ResolveReference(&url.URL{Path: colPath}))
	if err != nil {
		l.t.Fatal(err)
	}
	return len(m)
}

func (l davLister) props(colPath string) string {
	l.t.Helper()
	u, _ := url.Parse(l.home)
	a, err := l.c.Send(context.Background(), "PROPFIND", u.ResolveReference(&url.URL{Path: colPath}).String(), http.Header{"Depth": {"0"}}, nil)
	if err != nil {
		l.t.Fatal(err)
	}
	return string(a.Body)
}

func sixtyCards() []card {
	var cs []card
	for i := range 60 {
		cs = append(cs, plainCard(fmt.Sprintf("kill-%02d", i), fmt.Sprintf("Person %d", i)))
	}
	return cs
}

// TestBulkKilledBeforePropPatchRadicale (issue 9, item 2): a run killed
// between Radicale's whole-collection upload and the PROPPATCH that puts
// the display name back leaves a book whose display name Radicale reports
// as its path. The next run, with or without the journal, must find that
// book by its identity, not create "friends-2": one address book, 60
// cards, the display name, colour and description restored, and a report
// that adds up.
func TestBulkKilledBeforePropPatchRadicale(t *testing.T) {
	realServer(t)
	r := testservers.StartRadicale(t, map[string]string{"alice": "a", "bob": "b"})
	archive := bookArchive(t, "kill", sixtyCards())
	for _, tc := range []struct {
		user, pass string
		journal    bool
	}{{"alice", "a", true}, {"bob", "b", false}} {
		state := ""
		if tc.journal {
			state = t.TempDir()
		}
		ctx, cancel := context.WithCancel(context.Background())
		kill := &killAfterBulkPut{cancel: cancel}
		opt := testRun{Options: Options{URL: r.URL, User: tc.user, Password: tc.pass,
			Transport: kill}, StateDir: state}
		_, err := importArchives(ctx, []string{archive}, opt)
		cancel()
		if !kill.killed.Load() {
			t.Fatalf("%s: the run was never killed after a whole-collection PUT (err %v)", tc.user, err)
		}
		l := newLister(t, r.URL+tc.user+"/", tc.user, tc.pass)
		if p := l.props("friends/"); strings.Contains(p, ">Friends<") {
			t.Fatalf("%s: the display name survived the kill, so the test does not test the kill point:\n%s", tc.user, p)
		}

		opt.Transport = nil
		_, plan := dryRunPlan(t, archive, opt)
		_, set := planFolder(plan, "/friends/", `would be set to "Friends" again`)
		if _, other := planFolder(plan, "friends-2"); !set || other {
			t.Errorf("%s: the dry run's plan does not say the book's display name is set again: %+v", tc.user, plan.Folders)
		}
		rep, err := importArchives(context.Background(), []string{archive}, opt)
		if err != nil {
			t.Fatalf("%s: re-run: %v", tc.user, err)
		}
		books := l.books()
		if len(books) != 1 {
			t.Errorf("%s (journal %v): %d address books after the re-run, want 1: %v", tc.user, tc.journal, len(books), books)
		}
		for p := range books {
			if n := l.members(p); n != 60 {
				t.Errorf("%s: %s holds %d cards, want 60", tc.user, p, n)
			}
		}
		props := l.props("friends/")
		for _, want := range []string{">Friends<", ">#ff8800<", ">people<"} {
			if !strings.Contains(props, want) {
				t.Errorf("%s: collection properties after the re-run lack %s (display name %q)", tc.user, want, displayName(props))
			}
		}
		if rep.Failed != 0 || rep.Imported+rep.Present != 60 {
			t.Errorf("%s: re-run imported/present/failed = %d/%d/%d, want 60 in all and none failed (%+v)", tc.user, rep.Imported, rep.Present, rep.Failed, rep.Failures)
		}
		// A third run finds everything in place.
		if rep := importOnce(t, archive, opt); rep.Imported != 0 || rep.Present != 60 || rep.Failed != 0 || len(l.books()) != 1 {
			t.Errorf("%s: third run imported/present/failed = %d/%d/%d, books %v", tc.user, rep.Imported, rep.Present, rep.Failed, l.books())
		}
	}
}

func displayName(props string) string {
	_, after, _ := strings.Cut(props, "displayname>")
	name, _, _ := strings.Cut(after, "<")
	return name
}

func sortedNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// pimFolder is an archive folder for the collection tests: its items are
// contacts for an address book, events and tasks ("T" UIDs) for a
// calendar.
type pimFolder struct {
	kind format.FolderKind
	path string
	uids []string
}

func (f pimFolder) object(uid string) (format.Kind, string) {
	if f.kind == format.FolderContacts {
		return format.KindContact, plainCard(uid, "Person "+uid).body
	}
	if strings.HasPrefix(uid, "T") {
		return format.KindTask, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTODO\r\nUID:" + uid +
			"\r\nDTSTAMP:20240101T000000Z\r\nSUMMARY:Task " + uid + "\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
	}
	return format.KindEvent, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
		"\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240102T100000Z\r\nDTEND:20240102T110000Z\r\nSUMMARY:Event " + uid + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
}

// folderArchive writes an archive holding the folders, each with a
// display name equal to its path.
func folderArchive(t *testing.T, folders ...pimFolder) string {
	t.Helper()
	var fs []format.Folder
	var objs []pimObject
	for _, fo := range folders {
		fs = append(fs, format.Folder{Kind: fo.kind, Path: fo.path, DisplayName: fo.path})
		for _, uid := range fo.uids {
			k, body := fo.object(uid)
			objs = append(objs, pimObject{kind: k, folder: fo.path, uid: uid, body: body, sourceID: uid})
		}
	}
	return writePIMArchive(t, fs, objs)
}

func uids(prefix string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%s%02d", prefix, i))
	}
	return out
}

// TestDefaultCollectionsXandikos (issue 9, item 21): Xandikos --defaults
// gives the user an address book "addressbook" and a calendar "calendar".
// An archive with one address book ("contacts") and one calendar
// ("Personal") goes into those, creates nothing beside them, says so in
// the dry run's plan, and a re-run without the journal finds the same.
func TestDefaultCollectionsXandikos(t *testing.T) {
	realServer(t)
	x := testservers.StartXandikos(t)
	archive := folderArchive(t,
		pimFolder{format.FolderContacts, "contacts", uids("c", 5)},
		pimFolder{format.FolderCalendar, "Personal", append(uids("e", 4), uids("T", 2)...)})
	opt := testRun{Options: Options{URL: x.URL, User: "user", Password: "x"}}
	books := newLister(t, x.URL+"user/contacts/", "user", "x")
	cals := newLister(t, x.URL+"user/calendars/", "user", "x")
	beforeBooks, beforeCals := books.books(), cals.calendars()
	if len(beforeBooks) != 1 || len(beforeCals) != 1 {
		t.Fatalf("Xandikos --defaults gave %v and %v; want one address book and one calendar", beforeBooks, beforeCals)
	}

	_, plan := dryRunPlan(t, archive, opt)
	wantPlanned(t, plan, "contacts", "contacts", false, "/user/contacts/addressbook/", "--map-collection")
	wantPlanned(t, plan, "Personal", "events", false, "/user/calendars/calendar/", "--map-collection")

	for run := range 2 {
		rep := importOnce(t, archive, opt)
		if rep.Failed != 0 || rep.Imported+rep.Present != 11 || (run == 0 && rep.Imported != 11) {
			t.Errorf("run %d: imported/present/failed = %d/%d/%d, want 11/0/0 then 0/11/0 (%+v)", run, rep.Imported, rep.Present, rep.Failed, rep.Failures)
		}
		if got := books.books(); fmt.Sprint(got) != fmt.Sprint(beforeBooks) {
			t.Errorf("run %d: address books %v, want only the default %v", run, got, beforeBooks)
		}
		if got := cals.calendars(); fmt.Sprint(got) != fmt.Sprint(beforeCals) {
			t.Errorf("run %d: calendars %v, want only the default %v", run, got, beforeCals)
		}
	}
	if n := books.members("/user/contacts/addressbook/"); n != 5 {
		t.Errorf("the default address book holds %d cards, want 5", n)
	}
	if n := cals.members("/user/calendars/calendar/"); n != 6 {
		t.Errorf("the default calendar holds %d objects, want 6 (4 events, 2 tasks)", n)
	}
}

// TestCollectionMappingRadicale (issue 9, item 21) on Radicale, which has
// no default collections: a user's only address book takes an archive's
// only one; two archive books are matched by identity, so both are
// created beside it; --map-collection sends a book where it says.
func TestCollectionMappingRadicale(t *testing.T) {
	realServer(t)
	r := testservers.StartRadicale(t, map[string]string{"alice": "a", "bob": "b", "carol": "c", "dave": "d", "erin": "e"})
	mk := func(user, pass, seg, name string, kind format.FolderKind, comps ...string) {
		c := newTestClient(nil, user, pass, retry.Loop{})
		u, _ := url.Parse(r.URL + user + "/" + seg + "/")
		c.Trust(u)
		cs := &collections{c: c}
		if err := cs.mkcol(context.Background(), &collection{URL: u, Name: name, Kind: kind, Components: comps}, format.Folder{}); err != nil {
			t.Fatal(err)
		}
	}
	mkbook := func(user, pass, seg, name string) { mk(user, pass, seg, name, format.FolderContacts) }
	for _, u := range []struct{ user, pass string }{{"alice", "a"}, {"bob", "b"}, {"carol", "c"}} {
		mkbook(u.user, u.pass, "kontakte", "Kontakte")
	}

	// alice: one archive book, one target book: it goes there.
	one := folderArchive(t, pimFolder{format.FolderContacts, "Friends", uids("f", 3)})
	rep := importOnce(t, one, testRun{Options: Options{URL: r.URL, User: "alice", Password: "a"}, StateDir: t.TempDir()})
	la := newLister(t, r.URL+"alice/", "alice", "a")
	if got := la.books(); len(got) != 1 || la.members("/alice/kontakte/") != 3 || rep.Imported != 3 {
		t.Errorf("alice: books %v, kontakte holds %d, imported %d; want the one book with 3 cards", sortedNames(got), la.members("/alice/kontakte/"), rep.Imported)
	}
	if !hasNote(rep, `"Friends"`) || !hasNote(rep, "/alice/kontakte/") {
		t.Errorf("alice: no note of where the address book went: %q", rep.Notes)
	}

	// bob: two archive books: neither is the target's only one's twin,
	// so both are created and Kontakte is left alone.
	two := folderArchive(t, pimFolder{format.FolderContacts, "Friends", uids("f", 3)}, pimFolder{format.FolderContacts, "Family", uids("g", 2)})
	importOnce(t, two, testRun{Options: Options{URL: r.URL, User: "bob", Password: "b"}})
	lb := newLister(t, r.URL+"bob/", "bob", "b")
	if got := lb.books(); len(got) != 3 || lb.members("/bob/kontakte/") != 0 || lb.members("/bob/friends/") != 3 || lb.members("/bob/family/") != 2 {
		t.Errorf("bob: books %v; want kontakte empty, friends with 3 and family with 2", sortedNames(got))
	}

	// carol: --map-collection sends Family to Kontakte by name, Friends
	// to a path of her choice.
	opt := testRun{Options: Options{URL: r.URL, User: "carol", Password: "c",
		MapCollection: map[string]string{"Family": "Kontakte", "Friends": "/carol/freunde/"}}}
	_, plan := dryRunPlan(t, two, opt)
	wantPlanned(t, plan, "Family", "contacts", false, r.URL+"carol/kontakte/", `"Kontakte"`)
	wantPlanned(t, plan, "Friends", "contacts", true, r.URL+"carol/freunde/", `"Friends"`)
	for range 2 {
		importOnce(t, two, opt)
	}
	lc := newLister(t, r.URL+"carol/", "carol", "c")
	if got := lc.books(); len(got) != 2 || lc.members("/carol/kontakte/") != 2 || lc.members("/carol/freunde/") != 3 {
		t.Errorf("carol: books %v; want kontakte with 2 and freunde with 3", sortedNames(got))
	}

	// dave has a calendar for events and a task list: an archive's one
	// calendar sends its events to the first and its tasks to the
	// second, and creates nothing.
	mk("dave", "d", "kalender", "Kalender", format.FolderCalendar, "VEVENT")
	mk("dave", "d", "aufgaben", "Aufgaben", format.FolderCalendar, "VTODO")
	cal := folderArchive(t, pimFolder{format.FolderCalendar, "Personal", append(uids("e", 3), uids("T", 2)...)})
	for range 2 {
		if rep := importOnce(t, cal, testRun{Options: Options{URL: r.URL, User: "dave", Password: "d"}}); rep.Failed != 0 || rep.Imported+rep.Present != 5 {
			t.Errorf("dave: imported/present/failed = %d/%d/%d (%+v)", rep.Imported, rep.Present, rep.Failed, rep.Failures)
		}
	}
	ld := newLister(t, r.URL+"dave/", "dave", "d")
	if got := ld.calendars(); len(got) != 2 || ld.members("/dave/kalender/") != 3 || ld.members("/dave/aufgaben/") != 2 {
		t.Errorf("dave: calendars %v, kalender holds %d, aufgaben %d; want 3 events and 2 tasks in them, nothing new",
			sortedNames(got), ld.members("/dave/kalender/"), ld.members("/dave/aufgaben/"))
	}

	// erin's calendar takes events and tasks, and she has a task list
	// too: the folder's events and tasks stay together in the calendar.
	mk("erin", "e", "kalender", "Kalender", format.FolderCalendar, "VEVENT", "VTODO")
	mk("erin", "e", "aufgaben", "Aufgaben", format.FolderCalendar, "VTODO")
	importOnce(t, cal, testRun{Options: Options{URL: r.URL, User: "erin", Password: "e"}})
	le := newLister(t, r.URL+"erin/", "erin", "e")
	if got := le.calendars(); len(got) != 2 || le.members("/erin/kalender/") != 5 {
		t.Errorf("erin: calendars %v, kalender holds %d; want all 5 objects there, nothing new", sortedNames(got), le.members("/erin/kalender/"))
	}
}

// killAfterN stops the run, as a kill would, once n requests have been
// answered; n 0 never kills and only counts.
type killAfterN struct {
	n      int32
	cancel func()
	seen   atomic.Int32
	killed atomic.Bool
}

func (k *killAfterN) RoundTrip(r *http.Request) (*http.Response, error) {
	if k.killed.Load() {
		return nil, fmt.Errorf("killed")
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if n := k.seen.Add(1); n == k.n {
		k.killed.Store(true)
		k.cancel()
	}
	return resp, err
}

// TestBulkKilledAnywhereRadicale (issue 9, item 2): the run that creates
// an address book and fills it with Radicale's whole-collection upload is
// killed after each of its requests in turn, then run again (with the
// journal after odd kill points, without after even ones): always one
// address book holding every card, with its display name, and a report
// that adds up.
func TestBulkKilledAnywhereRadicale(t *testing.T) {
	realServer(t)
	const maxKills = 24
	users := map[string]string{"count": "p"}
	for i := 1; i <= maxKills; i++ {
		users[fmt.Sprintf("k%d", i)] = "p"
	}
	r := testservers.StartRadicale(t, users)
	cards := sixtyCards()[:20]
	archive := bookArchive(t, "anywhere", cards)

	counter := &killAfterN{cancel: func() {}}
	rep := importOnce(t, archive, testRun{Options: Options{URL: r.URL, User: "count", Password: "p", Transport: counter}})
	if !hasNote(rep, "20 of 20 cards were stored by one whole-collection PUT") {
		t.Fatalf("the uninterrupted run did not use the whole-collection upload: %q", rep.Notes)
	}
	total := int(counter.seen.Load())
	if total > maxKills+1 {
		t.Fatalf("the run made %d requests; the test has users for %d kill points", total, maxKills)
	}
	for n := 1; n < total; n++ {
		user := fmt.Sprintf("k%d", n)
		state := ""
		if n%2 == 1 {
			state = t.TempDir()
		}
		ctx, cancel := context.WithCancel(context.Background())
		kill := &killAfterN{n: int32(n), cancel: cancel}
		opt := testRun{Options: Options{URL: r.URL, User: user, Password: "p", Transport: kill}, StateDir: state}
		importArchives(ctx, []string{archive}, opt)
		cancel()
		opt.Transport = nil
		rep, err := importArchives(context.Background(), []string{archive}, opt)
		if err != nil {
			t.Errorf("kill after request %d: re-run: %v", n, err)
			continue
		}
		l := newLister(t, r.URL+user+"/", user, "p")
		books := l.books()
		if len(books) != 1 || books["/"+user+"/friends/"] != "Friends" || l.members("/"+user+"/friends/") != len(cards) {
			t.Errorf("kill after request %d (journal %v): books %v, want friends/ alone, named Friends, with %d cards", n, state != "", sortedNames(books), len(cards))
		}
		if rep.Failed != 0 || rep.Imported+rep.Present != len(cards) {
			t.Errorf("kill after request %d: re-run imported/present/failed = %d/%d/%d, want %d in all", n, rep.Imported, rep.Present, rep.Failed, len(cards))
		}
	}
}
