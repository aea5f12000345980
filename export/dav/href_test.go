package dav

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/internal/davclient"
)

// fakeBook serves one address book /book/ in the home /: its
// sync-collection lists the hrefs listed, and a multiget is answered
// with answer's response for each href asked (srv is the server's URL).
func fakeBook(t *testing.T, listed []string, answer func(srv, asked string) string) *httptest.Server {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var b strings.Builder
		b.WriteString(`<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:cr="urn:ietf:params:xml:ns:carddav">`)
		switch {
		case r.Method == "PROPFIND" && r.URL.Path == "/":
			b.WriteString(`<d:response><d:href>/book/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><cr:addressbook/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`)
		case r.Method == "REPORT" && strings.Contains(string(body), "sync-collection"):
			for _, h := range listed {
				fmt.Fprintf(&b, `<d:response><d:href>%s</d:href><d:propstat><d:prop><d:getetag>"e"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`, h)
			}
			b.WriteString(`<d:sync-token>t1</d:sync-token>`)
		case r.Method == "REPORT":
			for _, m := range hrefRE.FindAllStringSubmatch(string(body), -1) {
				b.WriteString(answer(srv.URL, m[1]))
			}
		default:
			http.Error(w, "no", http.StatusMethodNotAllowed)
			return
		}
		b.WriteString(`</d:multistatus>`)
		w.WriteHeader(http.StatusMultiStatus)
		io.WriteString(w, b.String())
	}))
	t.Cleanup(srv.Close)
	return srv
}

// delivered is a multiget response delivering a card of UID uid at href,
// with the properties more.
func delivered(href, uid string, more ...string) string {
	return fmt.Sprintf(`<d:response><d:href>%s</d:href><d:propstat><d:prop><d:getetag>"%s"</d:getetag><cr:address-data>%s</cr:address-data></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`,
		href, uid, "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:"+uid+"\r\nFN:x\r\n"+strings.Join(more, "")+"END:VCARD\r\n")
}

// exportBook exports the fake book into a recording sink.
func exportBook(t *testing.T, srv *httptest.Server, opt export.Options) *exporttest.Sink {
	var sink exporttest.Sink
	src := &Source{CardDAV: srv.URL + "/", Batch: 10, TempDir: t.TempDir(), Config: davclient.Config{}}
	if err := src.Export(context.Background(), &sink, opt); err != nil {
		t.Fatal(err)
	}
	return &sink
}

// Hrefs that need escaping, answered by the server in another form than
// they were asked in (an absolute URL, lower-case escapes, raw UTF-8, a
// space, a trailing slash), are matched to what was asked; and an
// object whose name holds an escaped slash (%2F) keeps it in its
// sourceId, so that it is not taken for another object named like the
// part after the slash (an importer skips a repeated sourceId).
func TestExportHrefForms(t *testing.T) {
	type obj struct{ answer, uid string }
	objs := map[string]obj{ // by the href listed and asked for
		"/book/a%2Fb.vcf":     {"{srv}/book/a%2fb.vcf", "a/b"},
		"/book/b.vcf":         {"/book/b.vcf/", "b"},
		"/book/caf%C3%A9.vcf": {"/book/café.vcf", "café"},
		"/book/sp%20ace.vcf":  {"/book/sp ace.vcf", "space"},
	}
	srv := fakeBook(t, []string{"/book/a%2Fb.vcf", "/book/b.vcf", "/book/caf%C3%A9.vcf", "/book/sp%20ace.vcf"}, func(srv, asked string) string {
		o, ok := objs[asked]
		if !ok {
			t.Errorf("asked for %s, which the server did not list", asked)
			return ""
		}
		return delivered(strings.Replace(o.answer, "{srv}", srv, 1), o.uid)
	})
	sink := exportBook(t, srv, export.Options{})
	if len(sink.Errors) != 0 {
		t.Errorf("errors %v", sink.Errors)
	}
	got := map[string]string{}
	for _, it := range sink.Items {
		if _, dup := got[it.SourceID]; dup {
			t.Errorf("sourceId %q twice", it.SourceID)
		}
		got[it.SourceID] = it.UID + " " + it.ETag
	}
	want := map[string]string{"a/b.vcf": `a/b "a/b"`, "b.vcf": `b "b"`, "café.vcf": `café "café"`, "sp ace.vcf": `space "space"`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("items %v; want %v", got, want)
	}
}

// An href too long for the member spool's line (a hostile or broken
// server) is an error naming its collection and the href shortened
// (not as an href a delta would ask for again), and the collection's other
// objects are exported: it used to end the whole export.
func TestExportHrefTooLong(t *testing.T) {
	long := "/book/" + strings.Repeat("x", 70<<10) + ".vcf"
	srv := fakeBook(t, []string{long, "/book/ok.vcf"}, func(_, asked string) string {
		if asked == long {
			t.Errorf("asked for the long href")
		}
		return delivered(asked, "ok")
	})
	sink := exportBook(t, srv, export.Options{})
	if len(sink.Items) != 1 || sink.Items[0].UID != "ok" {
		t.Errorf("items %+v; want ok.vcf", sink.Items)
	}
	if p := sink.Errors; len(p) != 1 || p[0].Folder != "book" || p[0].Item != srv.URL+"/book/" || len(p[0].Reason) > 400 || !strings.Contains(p[0].Reason, "too long") {
		t.Errorf("errors %+v; want the collection, with the long href shortened", sink.Errors)
	}
}

// A stamp without a time zone or without a time of day could mean a
// later instant than its UTC reading: --after keeps it when any reading
// is at or after the cutoff (a delta errs towards exporting), while one
// with a zone is cut exactly.
func TestExportCutoffVagueStamps(t *testing.T) {
	revs := map[string]string{
		"/book/date.vcf":     "REV:2024-03-01\r\n",           // that day, in any zone
		"/book/floating.vcf": "REV:20240301T080000\r\n",      // 08:00 in a zone west of UTC
		"/book/before.vcf":   "REV:20240301T095959Z\r\n",     // exact, a second before
		"/book/offset.vcf":   "REV:20240301T050000-0500\r\n", // 10:00Z, at the cutoff
		"/book/old.vcf":      "REV:2024-02-27\r\n",           // ends before the cutoff in every zone
	}
	srv := fakeBook(t, slices.Sorted(maps.Keys(revs)), func(_, asked string) string {
		return delivered(asked, path.Base(asked), revs[asked])
	})
	sink := exportBook(t, srv, export.Options{After: time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)})
	var got []string
	for _, it := range sink.Items {
		got = append(got, it.UID)
	}
	slices.Sort(got)
	if want := []string{"date.vcf", "floating.vcf", "offset.vcf"}; !slices.Equal(got, want) || sink.Skipped[export.SkipBeforeCutoff] != 2 {
		t.Errorf("kept %v, skipped %v; want %v and two before the cutoff", got, sink.Skipped, want)
	}
}
