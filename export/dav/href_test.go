package dav

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/internal/davclient"
)

// Hrefs that need escaping, answered by the server in another form than
// they were asked in (an absolute URL, lower-case escapes, raw UTF-8, a
// space, a trailing slash), are matched to what was asked; and an
// object whose name holds an escaped slash (%2F) keeps it in its
// sourceId, so that it is not taken for another object named like the
// part after the slash (an importer skips a repeated sourceId).
func TestExportHrefForms(t *testing.T) {
	type obj struct{ answer, data string }
	var srvURL string
	objs := map[string]obj{ // by the href listed and asked for
		"/book/a%2Fb.vcf":     {"{srv}/book/a%2fb.vcf", "a/b"},
		"/book/b.vcf":         {"/book/b.vcf/", "b"},
		"/book/caf%C3%A9.vcf": {"/book/café.vcf", "café"},
		"/book/sp%20ace.vcf":  {"/book/sp ace.vcf", "space"},
	}
	card := func(uid string) string {
		return "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nFN:x\r\nEND:VCARD\r\n"
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var b strings.Builder
		b.WriteString(`<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:cr="urn:ietf:params:xml:ns:carddav">`)
		switch {
		case r.Method == "PROPFIND" && r.URL.Path == "/":
			b.WriteString(`<d:response><d:href>/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>` +
				`<d:response><d:href>/book/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><cr:addressbook/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`)
		case r.Method == "REPORT" && strings.Contains(string(body), "sync-collection"):
			for _, h := range slices.Sorted(func(yield func(string) bool) {
				for k := range objs {
					if !yield(k) {
						return
					}
				}
			}) {
				fmt.Fprintf(&b, `<d:response><d:href>%s</d:href><d:propstat><d:prop><d:getetag>"e"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`, h)
			}
			b.WriteString(`<d:sync-token>t1</d:sync-token>`)
		case r.Method == "REPORT":
			for _, m := range hrefRE.FindAllStringSubmatch(string(body), -1) {
				o, ok := objs[m[1]]
				if !ok {
					t.Errorf("asked for %s, which the server did not list", m[1])
					continue
				}
				fmt.Fprintf(&b, `<d:response><d:href>%s</d:href><d:propstat><d:prop><d:getetag>"%s"</d:getetag><cr:address-data>%s</cr:address-data></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`,
					strings.Replace(o.answer, "{srv}", srvURL, 1), o.data, card(o.data))
			}
		default:
			http.Error(w, "no", http.StatusMethodNotAllowed)
			return
		}
		b.WriteString(`</d:multistatus>`)
		w.WriteHeader(http.StatusMultiStatus)
		io.WriteString(w, b.String())
	}))
	defer srv.Close()
	srvURL = srv.URL
	var sink exporttest.Sink
	src := &Source{CardDAV: srv.URL + "/", Batch: 10, TempDir: t.TempDir(), Config: davclient.Config{}}
	if err := src.Export(context.Background(), &sink, export.Options{}); err != nil {
		t.Fatal(err)
	}
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
// server) is an error naming it, shortened, and the collection's other
// objects are exported: it used to end the whole export.
func TestExportHrefTooLong(t *testing.T) {
	long := "/book/" + strings.Repeat("x", 70<<10) + ".vcf"
	card := "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ok\r\nFN:x\r\nEND:VCARD\r\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var b strings.Builder
		b.WriteString(`<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:cr="urn:ietf:params:xml:ns:carddav">`)
		switch {
		case r.Method == "PROPFIND" && r.URL.Path == "/":
			b.WriteString(`<d:response><d:href>/book/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><cr:addressbook/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`)
		case r.Method == "REPORT" && strings.Contains(string(body), "sync-collection"):
			for _, h := range []string{long, "/book/ok.vcf"} {
				fmt.Fprintf(&b, `<d:response><d:href>%s</d:href><d:propstat><d:prop><d:getetag>"e"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`, h)
			}
		case r.Method == "REPORT":
			if strings.Contains(string(body), long) {
				t.Errorf("asked for the long href")
			}
			b.WriteString(`<d:response><d:href>/book/ok.vcf</d:href><d:propstat><d:prop><d:getetag>"e"</d:getetag><cr:address-data>` + card + `</cr:address-data></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`)
		}
		b.WriteString(`</d:multistatus>`)
		w.WriteHeader(http.StatusMultiStatus)
		io.WriteString(w, b.String())
	}))
	defer srv.Close()
	var sink exporttest.Sink
	src := &Source{CardDAV: srv.URL + "/", TempDir: t.TempDir()}
	if err := src.Export(context.Background(), &sink, export.Options{}); err != nil {
		t.Fatal(err)
	}
	if len(sink.Items) != 1 || sink.Items[0].UID != "ok" {
		t.Errorf("items %+v; want ok.vcf", sink.Items)
	}
	if len(sink.Errors) != 1 || sink.Errors[0].Folder != "book" || len(sink.Errors[0].Item) > 300 || !strings.Contains(sink.Errors[0].Reason, "too long") {
		t.Errorf("errors %+v; want the long href, shortened, in folder book", sink.Errors)
	}
}
