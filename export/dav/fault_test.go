package dav

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/internal/davclient"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// faults is a reverse proxy in front of a real server that throttles,
// breaks answers part way, fails every multiget naming one object with a
// 500, and deletes another object just before the first multiget that
// asks for it (the server then answers it with a 404).
type faults struct {
	upstream *url.URL
	user     string
	pass     string
	broken   string // a multiget naming it gets a 500, always
	gone     string // deleted before the first multiget naming it
	deleted  sync.Once
	requests atomic.Int32
	cuts     atomic.Int32
	throttle atomic.Int32
	fails    atomic.Int32
	proxy    *httputil.ReverseProxy
}

func newFaults(t *testing.T, upstream, user, pass, broken, gone string) (*faults, *httptest.Server) {
	u, _ := url.Parse(upstream)
	f := &faults{upstream: u, user: user, pass: pass, broken: broken, gone: gone}
	f.proxy = httputil.NewSingleHostReverseProxy(u)
	f.proxy.ErrorLog = nil
	f.proxy.ModifyResponse = func(resp *http.Response) error {
		// Every fourth REPORT answer breaks after its first 700 bytes.
		if resp.Request.Method == "REPORT" && resp.StatusCode == http.StatusMultiStatus && f.requests.Load()%4 == 0 {
			f.cuts.Add(1)
			resp.Body = &cutBody{r: resp.Body, left: 700}
		}
		return nil
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.requests.Add(1)
	var body []byte
	if r.Method == "REPORT" {
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if strings.Contains(string(body), "multiget") && strings.Contains(string(body), f.broken) {
			f.fails.Add(1)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
	}
	if n%3 == 0 {
		f.throttle.Add(1)
		w.Header().Set("Retry-After", "0")
		http.Error(w, "slow down", http.StatusTooManyRequests)
		return
	}
	if r.Method == "REPORT" {
		if strings.Contains(string(body), "multiget") && strings.Contains(string(body), f.gone) {
			f.deleted.Do(func() {
				req, _ := http.NewRequest(http.MethodDelete, f.upstream.ResolveReference(&url.URL{Path: f.gone}).String(), nil)
				req.SetBasicAuth(f.user, f.pass)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
			})
		}
	}
	f.proxy.ServeHTTP(w, r)
}

// cutBody ends an answer with an error after left bytes; the proxy then
// drops the connection mid-answer.
type cutBody struct {
	r    io.ReadCloser
	left int
}

func (c *cutBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errors.New("cut")
	}
	if len(p) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= n
	return n, err
}
func (c *cutBody) Close() error { return c.r.Close() }

// Through throttling, answers that break part way, an object whose
// multiget always fails and one deleted while the export runs, every
// other object is exported exactly as a direct export gets it, and the
// two are errors naming the collection and href.
func TestExportThroughFaults(t *testing.T) {
	realServer(t)
	r := testservers.StartRadicale(t, map[string]string{"alice": "secret"})
	book, cal := r.URL+"alice/book/", r.URL+"alice/cal/"
	fill(t, r.URL, "alice", "secret", book, cal, true)
	c := davclient.New(davclient.Config{User: "alice", Password: "secret"})
	u, _ := url.Parse(r.URL)
	c.Trust(u)
	for i := range 30 {
		card := fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bulk-%d\r\nFN:Person %d\r\nN:%d;Person;;;\r\nEND:VCARD\r\n", i, i, i)
		a, err := c.Send(context.Background(), "PUT", fmt.Sprintf("%sbulk-%02d.vcf", book, i), http.Header{"Content-Type": {"text/vcard"}}, []byte(card))
		if err != nil || a.Status != 201 {
			t.Fatalf("PUT: %v %v", err, a)
		}
	}
	direct := exportAll(t, r.URL, nil)
	if len(direct.Items) != 34 || len(direct.Errors) != 0 {
		t.Fatalf("direct export: %d items, errors %v", len(direct.Items), direct.Errors)
	}

	f, proxy := newFaults(t, r.URL, "alice", "secret", "bulk-07.vcf", "/alice/book/bulk-21.vcf")
	got := exportAll(t, proxy.URL, nil)
	if len(got.Errors) != 2 {
		t.Fatalf("errors %+v; want bulk-07 and bulk-21", got.Errors)
	}
	for _, p := range got.Errors {
		if p.Folder != "book" || (!strings.HasSuffix(p.Item, "/alice/book/bulk-07.vcf") && !strings.HasSuffix(p.Item, "/alice/book/bulk-21.vcf")) {
			t.Errorf("error %+v; want folder book and the href", p)
		}
		if strings.HasSuffix(p.Item, "bulk-21.vcf") && !strings.Contains(p.Reason, "404") {
			t.Errorf("error %+v; want the server's 404", p)
		}
		if strings.HasSuffix(p.Item, "bulk-07.vcf") && !strings.Contains(p.Reason, "500") {
			t.Errorf("error %+v; want the 500", p)
		}
	}
	want := map[string][]byte{}
	for _, it := range direct.Items {
		want[it.Folder+"/"+it.SourceID] = it.Body
	}
	seen := map[string]bool{}
	for _, it := range got.Items {
		k := it.Folder + "/" + it.SourceID
		if seen[k] {
			t.Errorf("%s exported twice", k)
		}
		seen[k] = true
		if !bytes.Equal(want[k], it.Body) {
			t.Errorf("%s: bytes differ from the direct export", k)
		}
	}
	if len(got.Items) != 32 {
		t.Errorf("%d items through the faults; want 32 (34 less the two)", len(got.Items))
	}
	if f.throttle.Load() == 0 || f.cuts.Load() == 0 || f.fails.Load() == 0 {
		t.Errorf("faults: %d throttled, %d answers cut, %d multigets failed; want some of each", f.throttle.Load(), f.cuts.Load(), f.fails.Load())
	}
}

// exportAll exports the account at base into a recording sink, quickly
// retried.
func exportAll(t *testing.T, base string, opt *export.Options) *exporttest.Sink {
	t.Helper()
	var sink exporttest.Sink
	src := &Source{URL: base, Batch: 7, TempDir: t.TempDir(), Config: davclient.Config{User: "alice", Password: "secret",
		Retry: retry.Loop{Attempts: 8, Backoff: retry.Policy{First: time.Millisecond, Max: 5 * time.Millisecond}}}}
	o := export.Options{}
	if opt != nil {
		o = *opt
	}
	if err := src.Export(context.Background(), &sink, o); err != nil {
		t.Fatal(err)
	}
	return &sink
}
