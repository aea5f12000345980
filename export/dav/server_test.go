package dav

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/davclient"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// realServer skips a test that needs a real DAV server when the short
// flag is given; under CI=true testservers fails instead of skipping.
func realServer(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a real DAV server")
	}
}

const (
	card1 = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:card-1\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;;;\r\nCATEGORIES:a,b\r\nREV:20240301T100000Z\r\nEND:VCARD\r\n"
	card2 = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:card-2\r\nFN:Alan Turing\r\nNOTE:a long note that goes on and on so that a server which folds lines would h\r\n ave to fold it\r\nREV:20200101T000000Z\r\nEND:VCARD\r\n"
	event = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:ev-1\r\nDTSTAMP:20240102T030405Z\r\nDTSTART:20240110T090000Z\r\nDTEND:20240110T100000Z\r\nSUMMARY:Standup\r\nRRULE:FREQ=DAILY;COUNT=3\r\nEND:VEVENT\r\n" +
		"BEGIN:VEVENT\r\nUID:ev-1\r\nRECURRENCE-ID:20240111T090000Z\r\nDTSTAMP:20240105T000000Z\r\nDTSTART:20240111T100000Z\r\nDTEND:20240111T110000Z\r\nSUMMARY:Standup (moved)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	task = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTODO\r\nUID:todo-1\r\nDTSTAMP:20190101T000000Z\r\nSUMMARY:Write report\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
)

// fill makes an address book and a calendar (with display names, colour,
// description) under home, on servers that need them made, and puts the
// objects; it returns the collections' URLs.
func fill(t *testing.T, base, user, pass, book, cal string, mk bool) {
	t.Helper()
	ctx := context.Background()
	c := davclient.New(davclient.Config{User: user, Password: pass})
	u, _ := davclient.ParseDir(base)
	c.Trust(u)
	send := func(method, target, ctype string, body string, want ...int) {
		t.Helper()
		a, err := c.Send(ctx, method, target, http.Header{"Content-Type": {ctype}}, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if a.Status == w {
				return
			}
		}
		t.Fatalf("%s %s: %s", method, target, a.ServerSays())
	}
	xmlType := "application/xml; charset=utf-8"
	if mk {
		send("MKCOL", book, xmlType, `<?xml version="1.0" encoding="utf-8"?><D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>`+
			`<D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype><D:displayname>Friends &amp; Family</D:displayname>`+
			`<CR:addressbook-description>People I know</CR:addressbook-description></D:prop></D:set></D:mkcol>`, 201)
		send("MKCALENDAR", cal, xmlType, `<?xml version="1.0" encoding="utf-8"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>`+
			`<D:displayname>Work</D:displayname><C:calendar-description>Office hours</C:calendar-description>`+
			`<C:supported-calendar-component-set><C:comp name="VEVENT"/><C:comp name="VTODO"/></C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>`, 201)
	}
	send("PROPPATCH", cal, xmlType, `<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:A="http://apple.com/ns/ical/" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>`+
		`<D:displayname>Work</D:displayname><A:calendar-color>#FF8800FF</A:calendar-color><C:calendar-description>Office hours</C:calendar-description></D:prop></D:set></D:propertyupdate>`, 207)
	send("PUT", book+"card-1.vcf", "text/vcard; charset=utf-8", card1, 201, 204)
	send("PUT", book+"card%202.vcf", "text/vcard; charset=utf-8", card2, 201, 204)
	send("PUT", cal+"ev-1.ics", "text/calendar; charset=utf-8", event, 201, 204)
	send("PUT", cal+"todo-1.ics", "text/calendar; charset=utf-8", task, 201, 204)
}

// held is what the server answers a GET of href with: the body and its
// ETag.
func held(t *testing.T, href, user, pass string) ([]byte, string) {
	t.Helper()
	c := davclient.New(davclient.Config{User: user, Password: pass})
	u, _ := davclient.ParseDir(href)
	c.Trust(u)
	a, err := c.Send(context.Background(), "GET", href, nil, nil)
	if err != nil || a.Status != 200 {
		t.Fatalf("GET %s: %v %v", href, err, a)
	}
	return a.Body, a.Header.Get("ETag")
}

func TestExportRadicale(t *testing.T) {
	realServer(t)
	r := testservers.StartRadicale(t, map[string]string{"alice": "secret"})
	testExport(t, r.URL, "alice", "secret", r.URL+"alice/book/", r.URL+"alice/cal/", true)
}

func TestExportXandikos(t *testing.T) {
	realServer(t)
	x := testservers.StartXandikos(t)
	testExport(t, x.URL, "user", "", x.URL+"user/contacts/addressbook/", x.URL+"user/calendars/calendar/", false)
}

// testExport exports what fill put there through discovery and checks
// every folder property and every object byte against the server's GET.
func testExport(t *testing.T, base, user, pass, book, cal string, mk bool) {
	fill(t, base, user, pass, book, cal, mk)
	var sink exporttest.Sink
	src := &Source{Config: davclient.Config{User: user, Password: pass, Retry: retry.Loop{Attempts: 2, Backoff: retry.Policy{First: time.Millisecond}}},
		URL: base, Batch: 3, TempDir: t.TempDir()}
	if err := src.Export(context.Background(), &sink, export.Options{}); err != nil {
		t.Fatal(err)
	}
	if len(sink.Errors) != 0 {
		t.Fatalf("errors %v", sink.Errors)
	}
	for _, w := range sink.Warnings {
		t.Logf("warning: %+v", w)
	}
	bookF, calF := sink.Folder(lastSegment(book)), sink.Folder(lastSegment(cal))
	if bookF == nil || calF == nil {
		t.Fatalf("folders %+v; want %s and %s", sink.Folders, lastSegment(book), lastSegment(cal))
	}
	if bookF.Kind != format.FolderContacts || calF.Kind != format.FolderCalendar {
		t.Errorf("kinds %s %s", bookF.Kind, calF.Kind)
	}
	if calF.DisplayName != "Work" || calF.Color != "#FF8800FF" {
		t.Errorf("calendar folder %+v", calF)
	}
	if mk && (bookF.DisplayName != "Friends & Family" || bookF.Description != "People I know" || calF.Description != "Office hours" ||
		strings.Join(calF.Components, ",") != "VEVENT,VTODO") {
		t.Errorf("folders %+v %+v", bookF, calF)
	}
	if len(bookF.Components) != 0 {
		t.Errorf("address book components %v; want none", bookF.Components)
	}
	if bookF.SyncToken == "" || calF.SyncToken == "" {
		t.Errorf("sync tokens %q %q; want the servers' (both support sync-collection)", bookF.SyncToken, calF.SyncToken)
	}
	want := map[string]struct {
		href string
		kind format.Kind
		uid  string
		recv time.Time
	}{
		"card-1.vcf": {book + "card-1.vcf", format.KindContact, "card-1", time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)},
		"card 2.vcf": {book + "card%202.vcf", format.KindContact, "card-2", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)},
		"ev-1.ics":   {cal + "ev-1.ics", format.KindEvent, "ev-1", time.Date(2024, 1, 5, 0, 0, 0, 0, time.UTC)},
		"todo-1.ics": {cal + "todo-1.ics", format.KindTask, "todo-1", time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	if len(sink.Items) != len(want) {
		t.Fatalf("%d items; want %d", len(sink.Items), len(want))
	}
	for _, it := range sink.Items {
		w, ok := want[it.SourceID]
		if !ok {
			t.Errorf("unexpected item %s", it.SourceID)
			continue
		}
		if it.Kind != w.kind || it.UID != w.uid {
			t.Errorf("%s: kind %s uid %s; want %s %s", it.SourceID, it.Kind, it.UID, w.kind, w.uid)
		}
		// Radicale keeps its own serialisation, whose REV it may
		// change; the stamp is checked where the bytes are kept.
		if !mk && !it.Received.Equal(w.recv) {
			t.Errorf("%s: received %s; want %s", it.SourceID, it.Received, w.recv)
		}
		h, etag := held(t, w.href, user, pass)
		if string(h) != string(it.Body) {
			t.Errorf("%s: exported\n%q\nserver holds\n%q", it.SourceID, it.Body, h)
		}
		if etag == "" || it.ETag != etag {
			t.Errorf("%s: etag %q; want the server's %q (for a later If-Match)", it.SourceID, it.ETag, etag)
		}
	}

	// A cutoff keeps what changed at or after it.
	var delta exporttest.Sink
	if err := src.Export(context.Background(), &delta, export.Options{After: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	if !mk {
		got := []string{}
		for _, it := range delta.Items {
			got = append(got, it.SourceID)
		}
		if strings.Join(got, ",") != "card-1.vcf,ev-1.ics" && strings.Join(got, ",") != "ev-1.ics,card-1.vcf" {
			t.Errorf("delta items %v; want card-1.vcf and ev-1.ics", got)
		}
		if delta.Skipped[export.SkipBeforeCutoff] != 2 {
			t.Errorf("skipped %v", delta.Skipped)
		}
	}
	testDelta(t, src, &sink, book, cal, user, pass)
	entries, _ := os.ReadDir(src.TempDir)
	if len(entries) != 0 {
		t.Errorf("spool files left behind: %v", entries)
	}
}

// stateSink is a Sink that takes the state record.
type stateSink struct {
	exporttest.Sink
	state []format.StateItem
}

func (s *stateSink) AddState(it format.StateItem) error {
	s.state = append(s.state, it)
	return nil
}

func lastSegment(u string) string {
	u = strings.TrimSuffix(u, "/")
	return u[strings.LastIndex(u, "/")+1:]
}

// testDelta changes the account after the export full (a card changed
// without touching its REV, a card added with an old REV, a task
// deleted) and exports again with full's sync tokens: exactly the two
// cards, whatever their stamps, and the deletion counted. A token the
// server no longer accepts lists the collection whole, cut by stamps.
func testDelta(t *testing.T, src *Source, full *exporttest.Sink, book, cal, user, pass string) {
	t.Helper()
	c := davclient.New(davclient.Config{User: user, Password: pass})
	u, _ := davclient.ParseDir(book)
	c.Trust(u)
	for _, r := range []struct{ method, target, body string }{
		{"PUT", book + "card%202.vcf", strings.Replace(card2, "FN:Alan Turing", "FN:Alan M. Turing", 1)},
		{"PUT", book + "card-3.vcf", "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:card-3\r\nFN:Grace Hopper\r\nN:Hopper;Grace;;;\r\nREV:20190101T000000Z\r\nEND:VCARD\r\n"},
		{"DELETE", cal + "todo-1.ics", ""},
	} {
		a, err := c.Send(context.Background(), r.method, r.target, http.Header{"Content-Type": {"text/vcard; charset=utf-8"}}, []byte(r.body))
		if err != nil || a.Status >= 300 {
			t.Fatalf("%s %s: %v %v", r.method, r.target, err, a)
		}
	}
	earlier := map[string]string{}
	for _, f := range full.Folders {
		earlier[string(f.Kind)+"/"+f.Path] = f.SyncToken
	}
	delta := *src
	delta.Earlier = earlier
	var ss stateSink
	cutoff := export.Options{After: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), State: true}
	if err := delta.Export(context.Background(), &ss, cutoff); err != nil {
		t.Fatal(err)
	}
	sink := ss.Sink
	// The state lists every object the account still holds, changed or
	// not, by the sourceId the full export gave it, with its ETag; not
	// the deleted task.
	var state []string
	for _, s := range ss.state {
		state = append(state, string(s.Kind)+" "+s.Folder+"/"+s.SourceID)
		h, etag := held(t, map[string]string{lastSegment(book): book, lastSegment(cal): cal}[s.Folder]+(&url.URL{Path: s.SourceID}).EscapedPath(), user, pass)
		if len(h) == 0 || s.ETag != etag {
			t.Errorf("state %+v: etag; want the server's %q", s, etag)
		}
	}
	slices.Sort(state)
	bk, cl := lastSegment(book), lastSegment(cal)
	if want := []string{"contact " + bk + "/card 2.vcf", "contact " + bk + "/card-1.vcf", "contact " + bk + "/card-3.vcf", "event " + cl + "/ev-1.ics"}; !slices.Equal(state, want) {
		t.Errorf("state %q; want %q", state, want)
	}
	var got []string
	for _, it := range sink.Items {
		got = append(got, it.UID)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"card-2", "card-3"}) || sink.Skipped[SkipDeleted] != 1 || len(sink.Errors) != 0 {
		t.Errorf("delta by sync token: items %v, skipped %v, errors %v; want card-2 and card-3, one deleted", got, sink.Skipped, sink.Errors)
	}
	for _, f := range sink.Folders {
		if f.SyncToken == "" || f.SyncToken == earlier[string(f.Kind)+"/"+f.Path] && f.Kind == format.FolderContacts {
			t.Errorf("folder %s: token %q; want the server's new one", f.Path, f.SyncToken)
		}
	}

	// A token the server does not know: the whole collection, by stamps.
	for k := range earlier {
		earlier[k] = "http://example.org/ns/sync/unknown"
	}
	sink = exporttest.Sink{}
	if err := delta.Export(context.Background(), &sink, cutoff); err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, it := range sink.Items {
		got = append(got, it.UID)
	}
	slices.Sort(got)
	if len(sink.Warnings) != 2 || len(sink.Errors) != 0 || !slices.Equal(got, []string{"card-1", "ev-1"}) {
		t.Errorf("unknown token: items %v, warnings %v, errors %v; want a warning per collection, and what the cutoff keeps", got, sink.Warnings, sink.Errors)
	}
}

// A collection with no objects is exported as a folder with the sync
// token the server gave, and a delta from that token finds nothing.
func TestExportEmptyCollection(t *testing.T) {
	realServer(t)
	r := testservers.StartRadicale(t, map[string]string{"alice": "secret"})
	x := testservers.StartXandikos(t)
	for _, s := range []struct{ base, user, pass, col, method, body string }{
		{r.URL, "alice", "secret", r.URL + "alice/empty/", "MKCOL", `<?xml version="1.0" encoding="utf-8"?><D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype></D:prop></D:set></D:mkcol>`},
		{x.URL, "user", "", x.URL + "user/calendars/empty/", "MKCALENDAR", `<?xml version="1.0" encoding="utf-8"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>Empty</D:displayname></D:prop></D:set></C:mkcalendar>`},
	} {
		c := davclient.New(davclient.Config{User: s.user, Password: s.pass})
		u, _ := davclient.ParseDir(s.base)
		c.Trust(u)
		a, err := c.Send(context.Background(), s.method, s.col, http.Header{"Content-Type": {"application/xml; charset=utf-8"}}, []byte(s.body))
		if err != nil || a.Status != 201 {
			t.Fatalf("%s %s: %v %v", s.method, s.col, err, a)
		}
		src := &Source{URL: s.base, TempDir: t.TempDir(), Config: davclient.Config{User: s.user, Password: s.pass}}
		var sink exporttest.Sink
		if err := src.Export(context.Background(), &sink, export.Options{}); err != nil {
			t.Fatal(err)
		}
		f := sink.Folder("empty")
		if f == nil || f.SyncToken == "" || len(sink.Errors) != 0 || len(sink.Items) != 0 {
			t.Fatalf("%s: folder %+v, errors %v, %d items; want the empty folder with its sync token", s.base, f, sink.Errors, len(sink.Items))
		}
		src.Earlier = map[string]string{}
		for _, f := range sink.Folders {
			src.Earlier[string(f.Kind)+"/"+f.Path] = f.SyncToken
		}
		sink = exporttest.Sink{}
		if err := src.Export(context.Background(), &sink, export.Options{}); err != nil {
			t.Fatal(err)
		}
		if len(sink.Items) != 0 || len(sink.Errors) != 0 || len(sink.Warnings) != 0 || sink.Folder("empty") == nil {
			t.Errorf("%s: delta items %d, errors %v, warnings %v; want the folder and nothing else", s.base, len(sink.Items), sink.Errors, sink.Warnings)
		}
	}
}
