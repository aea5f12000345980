package davclient

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// The multiget returns each object's bytes as the server holds them,
// control characters included (Radicale sends a card's form feed raw,
// which XML forbids), and leaves out what the server does not return.
func TestMultigetRawObjects(t *testing.T) {
	card := "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nNOTE:page\x0cbreak &amp; more\r\nEND:VCARD\r\n"
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = r.Method + " " + r.Header.Get("Depth") + " " + string(b)
		w.WriteHeader(http.StatusMultiStatus)
		io.WriteString(w, `<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav">`+
			`<d:response><d:href>/book/a%20b.vcf</d:href><d:propstat><d:prop><d:getetag>"e1"</d:getetag><c:address-data>`+card+`</c:address-data></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`+
			`<d:response><d:href>/book/gone.vcf</d:href><d:propstat><d:prop><c:address-data/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response>`+
			`</d:multistatus>`)
	}))
	defer srv.Close()
	col, _ := url.Parse(srv.URL + "/book/")
	a, _ := col.Parse("a%20b.vcf")
	gone, _ := col.Parse("gone.vcf")
	objs, err := New(Config{}).Multiget(context.Background(), col, true, []*url.URL{a, gone})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, "REPORT 1 ") || !strings.Contains(got, "addressbook-multiget") || !strings.Contains(got, "<D:href>/book/a%20b.vcf</D:href>") {
		t.Errorf("request %q", got)
	}
	o, ok := objs[HrefKey(a)]
	if len(objs) != 1 || !ok {
		t.Fatalf("objects %v; want the one the server returned", objs)
	}
	// XML would read a raw CR LF as LF: the object keeps its CRs.
	if want := strings.NewReplacer("&amp;", "&").Replace(card); string(o.Data) != want || o.ETag != `"e1"` || o.Href.Path != "/book/a b.vcf" {
		t.Errorf("object %q etag %s href %s; want %q", o.Data, o.ETag, o.Href, want)
	}
}

// An answer other than 207 is an error carrying what the server said.
func TestReportRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no REPORT here", http.StatusForbidden)
	}))
	defer srv.Close()
	col, _ := url.Parse(srv.URL + "/cal/")
	_, err := New(Config{}).Multiget(context.Background(), col, false, []*url.URL{col})
	if err == nil || !strings.Contains(err.Error(), "403 Forbidden: no REPORT here") {
		t.Errorf("error %v; want the 403 with its body", err)
	}
}

// Hostile answers end in an error or are ignored, never a panic or an
// object made up: elements nested 200,000 deep (skipped, iteratively),
// responses in another namespace, an answer cut off.
func TestReportHostileAnswers(t *testing.T) {
	for _, c := range []struct {
		name, body string
		err        bool
	}{
		{"deep", `<d:multistatus xmlns:d="DAV:"><d:response>` + strings.Repeat("<x>", 200_000) + strings.Repeat("</x>", 200_000) + `</d:response></d:multistatus>`, false},
		{"namespace", `<d:multistatus xmlns:d="urn:not-dav"><d:response><d:href>/book/a.vcf</d:href><d:propstat><d:prop><c:address-data xmlns:c="urn:ietf:params:xml:ns:carddav">BEGIN:VCARD</c:address-data></d:prop></d:propstat></d:response></d:multistatus>`, false},
		{"unclosed", `<d:multistatus xmlns:d="DAV:"><d:response><d:href>/book/a.vcf</d:href>`, true},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusMultiStatus)
			io.WriteString(w, c.body)
		}))
		col, _ := url.Parse(srv.URL + "/book/")
		n := 0
		err := New(Config{}).ReportEach(context.Background(), col, []byte("<x/>"), func(o Object) error {
			if o.Data != nil {
				n++
			}
			return nil
		})
		srv.Close()
		if (err != nil) != c.err || n != 0 {
			t.Errorf("%s: error %v, %d objects; want error %v and no object", c.name, err, n, c.err)
		}
	}
}
