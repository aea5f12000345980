package dav

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/format"
)

// bigBook is an address book of n cards of about 2 KiB, made as they
// are asked for, so that the server holds none of them.
type bigBook struct{ n int }

func bigCard(i int) string {
	return fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:big-%d\r\nFN:Person %d\r\nNOTE:%s\r\nEND:VCARD\r\n", i, i, strings.Repeat("x", 2000))
}

func (b bigBook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	head := `<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:cr="urn:ietf:params:xml:ns:carddav">`
	switch {
	case r.Method == "PROPFIND":
		w.WriteHeader(http.StatusMultiStatus)
		io.WriteString(w, head+`<d:response><d:href>/home/book/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><cr:addressbook/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>`)
	case strings.Contains(string(body), "sync-collection"):
		w.WriteHeader(http.StatusMultiStatus)
		io.WriteString(w, head)
		for i := range b.n {
			fmt.Fprintf(w, `<d:response><d:href>/home/book/%d.vcf</d:href><d:propstat><d:prop><d:getetag>"%d"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`, i, i)
		}
		io.WriteString(w, `<d:sync-token>t</d:sync-token></d:multistatus>`)
	default:
		w.WriteHeader(http.StatusMultiStatus)
		io.WriteString(w, head)
		for _, m := range hrefRE.FindAllStringSubmatch(string(body), -1) {
			var i int
			fmt.Sscanf(m[1], "/home/book/%d.vcf", &i)
			fmt.Fprintf(w, `<d:response><d:href>%s</d:href><d:propstat><d:prop><d:getetag>"%d"</d:getetag><cr:address-data>%s</cr:address-data></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`, m[1], i, bigCard(i))
		}
		io.WriteString(w, `</d:multistatus>`)
	}
}

// countingSink keeps nothing but counts, and samples the live heap.
type countingSink struct {
	items int
	bytes int64
	peak  uint64
}

func (s *countingSink) AddFolder(format.Folder) error { return nil }
func (s *countingSink) AddItem(it format.Item, body io.Reader) error {
	n, err := io.Copy(io.Discard, body)
	s.items++
	s.bytes += n
	if s.items%2000 == 0 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s.peak = max(s.peak, ms.HeapAlloc)
	}
	return err
}
func (s *countingSink) AddError(format.Problem)   {}
func (s *countingSink) AddWarning(format.Problem) {}
func (s *countingSink) AddSkipped(string, int)    {}

// An address book of 40 MB is exported with a live heap of a few MB:
// the members are spooled to a file and the objects handed on one by one
// as each multiget answer streams in.
func TestExportMemoryBoundedByBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("40 MB through a fake server")
	}
	const n = 20000
	srv := httptest.NewServer(bigBook{n})
	defer srv.Close()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	sink := &countingSink{}
	src := &Source{CardDAV: srv.URL + "/home/", TempDir: t.TempDir()}
	if err := src.Export(context.Background(), sink, export.Options{}); err != nil {
		t.Fatal(err)
	}
	if sink.items != n || sink.bytes < 40e6 {
		t.Fatalf("%d items, %d bytes; want %d, over 40 MB", sink.items, sink.bytes, n)
	}
	grew := int64(sink.peak) - int64(before.HeapAlloc)
	t.Logf("%d bytes exported; live heap grew by at most %d bytes", sink.bytes, grew)
	if grew > 12<<20 {
		t.Errorf("live heap grew by %d bytes exporting %d: memory follows the collection, not the batch", grew, sink.bytes)
	}
}
