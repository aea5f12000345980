package dav

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/davclient"
)

// fakeHome is a home set holding every kind of collection a server may
// list, for what real test servers do not have: scheduling inbox and
// outbox, shared and subscribed calendars, a plain collection, a
// calendar whose server refuses sync-collection, and objects a multiget
// does not deliver.
type fakeHome struct {
	mu      sync.Mutex
	batches []int // hrefs per multiget
	objects map[string]string
}

const homeListing = `<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cr="urn:ietf:params:xml:ns:carddav" xmlns:cs="http://calendarserver.org/ns/" xmlns:a="http://apple.com/ns/ical/">` +
	`<d:response><d:href>/home/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>` +
	`<d:response><d:href>/home/book/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><cr:addressbook/></d:resourcetype><d:displayname>Friends</d:displayname><cr:addressbook-description>Old friends</cr:addressbook-description><d:sync-token>http://x/ns/sync/1</d:sync-token><cs:getctag>ctag-1</cs:getctag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>` +
	`<d:propstat><d:prop><a:calendar-color/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response>` +
	`<d:response><d:href>/home/cal/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><c:calendar/></d:resourcetype><d:displayname>Work</d:displayname><a:calendar-color>#00FF00</a:calendar-color><c:calendar-description>Meetings</c:calendar-description><c:supported-calendar-component-set><c:comp name="VEVENT"/></c:supported-calendar-component-set><d:getetag>"cal-etag"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>` +
	`<d:response><d:href>/home/mine/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><c:calendar/><cs:shared-owner/></d:resourcetype><d:displayname>Shared by me</d:displayname></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>` +
	`<d:response><d:href>/home/inbox/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><c:schedule-inbox/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>` +
	`<d:response><d:href>/home/outbox/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><c:schedule-outbox/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>` +
	`<d:response><d:href>/home/theirs/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><c:calendar/><cs:shared/></d:resourcetype><d:displayname>Bob's</d:displayname></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>` +
	`<d:response><d:href>/home/holidays/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><cs:subscribed/></d:resourcetype><cs:source><d:href>https://example.org/holidays.ics</d:href></cs:source></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>` +
	`<d:response><d:href>/home/lazy/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><cr:addressbook/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>` +
	`<d:response><d:href>/home/broken/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><cr:addressbook/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>` +
	`<d:response><d:href>/home/files/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>` +
	`<d:response><d:href>/home/readme.txt</d:href><d:propstat><d:prop><d:resourcetype/></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>` +
	`</d:multistatus>`

var hrefRE = regexp.MustCompile(`<D:href>([^<]*)</D:href>`)

func (f *fakeHome) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ms := func(s string) {
		w.WriteHeader(http.StatusMultiStatus)
		io.WriteString(w, `<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cr="urn:ietf:params:xml:ns:carddav">`+s+`</d:multistatus>`)
	}
	members := func(col string) string {
		var b strings.Builder
		for _, name := range slices.Sorted(func(yield func(string) bool) {
			for k := range f.objects {
				if strings.HasPrefix(k, col) && !yield(k) {
					return
				}
			}
		}) {
			fmt.Fprintf(&b, `<d:response><d:href>%s</d:href><d:propstat><d:prop><d:getetag>"e"</d:getetag><d:resourcetype/></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`, name)
		}
		return b.String()
	}
	switch {
	case strings.HasPrefix(r.URL.Path, "/home/broken/"):
		http.Error(w, "you may not", http.StatusForbidden)
	case r.Method == "PROPFIND" && r.URL.Path == "/home/":
		w.WriteHeader(http.StatusMultiStatus)
		io.WriteString(w, homeListing)
	case r.Method == "PROPFIND": // the listing where sync-collection is refused
		ms(`<d:response><d:href>` + r.URL.Path + `</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>` + members(r.URL.Path))
	case r.Method == "REPORT" && strings.Contains(string(body), "sync-collection"):
		switch r.URL.Path {
		case "/home/cal/":
			http.Error(w, "no sync here", http.StatusForbidden)
			return
		case "/home/lazy/": // lists nothing, with a token
			ms(`<d:sync-token>http://x/ns/sync/lazy</d:sync-token>`)
			return
		}
		ms(members(r.URL.Path) + `<d:sync-token>http://x/ns/sync/2</d:sync-token>`)
	case r.Method == "REPORT":
		hrefs := hrefRE.FindAllStringSubmatch(string(body), -1)
		f.mu.Lock()
		f.batches = append(f.batches, len(hrefs))
		f.mu.Unlock()
		var b strings.Builder
		for _, h := range hrefs {
			data, prop := f.objects[h[1]], "cr:address-data"
			if strings.HasPrefix(h[1], "/home/cal") || strings.HasPrefix(h[1], "/home/mine") {
				prop = "c:calendar-data"
			}
			switch {
			case strings.HasSuffix(h[1], "left.vcf"):
			case strings.HasSuffix(h[1], "gone.vcf"):
				fmt.Fprintf(&b, `<d:response><d:href>%s</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>`, h[1])
			default:
				fmt.Fprintf(&b, "<d:response><d:href>%s</d:href><d:propstat><d:prop><d:getetag>\"e\"</d:getetag><%s>%s</%s></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>",
					h[1], prop, strings.NewReplacer("&", "&amp;", "<", "&lt;").Replace(data), prop)
			}
		}
		ms(b.String())
	default:
		http.Error(w, "not here", http.StatusMethodNotAllowed)
	}
}

func TestExportCollectionKindsAndUndelivered(t *testing.T) {
	card := func(uid string) string {
		return "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nFN:" + uid + "\r\nEND:VCARD\r\n"
	}
	f := &fakeHome{objects: map[string]string{
		"/home/book/a.vcf":     card("a"),
		"/home/book/b.vcf":     card("b"),
		"/home/book/c.vcf":     card("c") + "\f",
		"/home/book/gone.vcf":  card("gone"),
		"/home/book/left.vcf":  card("left"),
		"/home/book/weird.vcf": task,
		"/home/cal/ev.ics":     event,
		"/home/cal/todo.ics":   task,
		"/home/lazy/z.vcf":     card("z"),
	}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	var sink exporttest.Sink
	src := &Source{CardDAV: srv.URL + "/home/", CalDAV: srv.URL + "/home/", Batch: 2, TempDir: t.TempDir(), Config: davclient.Config{}}
	if err := src.Export(context.Background(), &sink, export.Options{}); err != nil {
		t.Fatal(err)
	}
	var folders []string
	for _, fo := range sink.Folders {
		folders = append(folders, string(fo.Kind)+":"+fo.Path)
	}
	if want := []string{"contacts:book", "calendar:cal", "calendar:mine", "contacts:lazy"}; !slices.Equal(folders, want) {
		t.Errorf("folders %v; want %v", folders, want)
	}
	book, cal := sink.Folder("book"), sink.Folder("cal")
	if book == nil || cal == nil {
		t.Fatal("folders missing")
	}
	if !slices.Equal(book.Notes, []string{"exported from " + srv.URL + "/home/book/"}) {
		t.Errorf("book notes %q; want where it was exported from", book.Notes)
	}
	if book.DisplayName != "Friends" || book.Description != "Old friends" || book.SyncToken != "http://x/ns/sync/2" || book.CTag != "ctag-1" || book.Color != "" {
		t.Errorf("book %+v; want its properties, and the token the listing ended with", book)
	}
	if cal.DisplayName != "Work" || cal.Color != "#00FF00" || cal.Description != "Meetings" || !slices.Equal(cal.Components, []string{"VEVENT"}) ||
		cal.SyncToken != "" || cal.CTag != `"cal-etag"` {
		t.Errorf("calendar %+v; want its properties, no sync token (sync-collection refused), its ETag as CTag", cal)
	}
	if lazy := sink.Folder("lazy"); lazy == nil || lazy.SyncToken != "" {
		t.Errorf("lazy %+v; want no sync token: its sync-collection listed nothing of what it holds", lazy)
	}
	var warned []string
	for _, w := range sink.Warnings {
		warned = append(warned, w.Item[strings.Index(w.Item, "/home/"):])
		if strings.HasSuffix(w.Item, "/holidays/") && !strings.Contains(w.Reason, "https://example.org/holidays.ics") {
			t.Errorf("warning %+v; want the subscription's source", w)
		}
	}
	slices.Sort(warned)
	if want := []string{"/home/files/", "/home/holidays/", "/home/inbox/", "/home/outbox/", "/home/theirs/"}; !slices.Equal(warned, want) {
		t.Errorf("warnings for %v; want %v", warned, want)
	}
	if sink.Skipped[skipCollection] != 5 {
		t.Errorf("skipped %v", sink.Skipped)
	}
	errs := map[string]string{}
	for _, p := range sink.Errors {
		if strings.HasSuffix(p.Item, "/home/broken/") {
			if p.Folder != "broken" || !strings.Contains(p.Reason, "could not be listed") || !strings.Contains(p.Reason, "403") {
				t.Errorf("error %+v; want the collection that could not be listed, with the server's 403", p)
			}
			continue
		}
		if p.Folder != "book" {
			t.Errorf("error %+v; want folder book", p)
		}
		errs[p.Item] = p.Reason
	}
	if len(sink.Errors) != 4 || len(errs) != 3 || !strings.Contains(errs["/home/book/gone.vcf"], "404 Not Found") ||
		!strings.Contains(errs["/home/book/left.vcf"], "left it out") || !strings.Contains(errs["/home/book/weird.vcf"], "not a vCard") {
		t.Errorf("errors %v; want gone (404), left (left out), weird (not a vCard)", errs)
	}
	got := map[string]string{}
	for _, it := range sink.Items {
		got[it.Folder+"/"+it.SourceID] = string(it.Kind) + " " + it.UID
		if want := f.objects["/home/"+it.Folder+"/"+it.SourceID]; string(it.Body) != want {
			t.Errorf("%s: %q; want %q", it.SourceID, it.Body, want)
		}
	}
	want := map[string]string{"book/a.vcf": "contact a", "book/b.vcf": "contact b", "book/c.vcf": "contact c",
		"cal/ev.ics": "event ev-1", "cal/todo.ics": "task todo-1", "lazy/z.vcf": "contact z"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("items %v; want %v", got, want)
	}
	for _, n := range f.batches {
		if n > 2 {
			t.Errorf("a multiget of %d hrefs; Batch is 2", n)
		}
	}
	for _, it := range sink.Items {
		if it.Kind == format.KindContact && it.Received.IsZero() {
			t.Errorf("%s: no received time", it.SourceID)
		}
	}
}
