// Package davfault is an HTTP reverse proxy for tests that sits in front
// of a real CardDAV/CalDAV server and injects the faults a DAV client
// must survive: throttling (429 with Retry-After), answers that break
// part way (the connection dropped mid-body), a multiget that always
// fails with a 500 because of one object, and an object deleted while a
// client reads the collection (the server then answers it with a 404).
// It forwards to loopback only.
package davfault

import (
	"bytes"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Options choose the faults; zero values inject none of that kind.
type Options struct {
	// Upstream is the server's URL, on a loopback address.
	Upstream string
	// ThrottleEvery answers every n-th request with 429 and
	// Retry-After: 0.
	ThrottleEvery int32
	// CutEvery cuts every n-th REPORT's multistatus answer after
	// CutAfter bytes (default 700).
	CutEvery int32
	CutAfter int
	// Fail makes every multiget whose body names it (an href or a part
	// of one) fail with a 500.
	Fail string
	// Delete is an href path deleted on the server, with User and
	// Password, just before the first multiget that names it.
	Delete         string
	User, Password string
	// DenyMultigets answers every multiget with 401, as a server does
	// once the account's password was changed.
	DenyMultigets bool
}

// Proxy is a running fault-injecting proxy; the counts say what it did.
type Proxy struct {
	URL                       string
	Throttled, Cuts, Failures atomic.Int32
	Denied                    atomic.Int32 // multigets answered 401
	opt                       Options
	upstream                  *url.URL
	rp                        *httputil.ReverseProxy
	requests                  atomic.Int32
	reports                   atomic.Int32
	deleted                   sync.Once
}

// Start starts a proxy for o, closed when the test ends.
func Start(t testing.TB, o Options) *Proxy {
	t.Helper()
	u, err := url.Parse(o.Upstream)
	if err != nil {
		t.Fatalf("davfault: %v", err)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		t.Fatalf("davfault: upstream %s is not a loopback address", o.Upstream)
	}
	if o.CutAfter <= 0 {
		o.CutAfter = 700
	}
	p := &Proxy{opt: o, upstream: u, rp: httputil.NewSingleHostReverseProxy(u)}
	p.rp.ErrorLog = log.New(io.Discard, "", 0) // the cuts it makes on purpose
	p.rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == "REPORT" && resp.StatusCode == http.StatusMultiStatus && o.CutEvery > 0 && p.reports.Add(1)%o.CutEvery == 0 {
			p.Cuts.Add(1)
			resp.Body = &cutBody{r: resp.Body, left: o.CutAfter}
		}
		return nil
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	p.URL = srv.URL + "/"
	return p
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := p.requests.Add(1)
	if r.Method == "REPORT" {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		multiget := strings.Contains(string(body), "multiget")
		if multiget && p.opt.DenyMultigets {
			p.Denied.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="davfault"`)
			http.Error(w, "access denied", http.StatusUnauthorized)
			return
		}
		if multiget && p.opt.Fail != "" && strings.Contains(string(body), p.opt.Fail) {
			p.Failures.Add(1)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		if multiget && p.opt.Delete != "" && strings.Contains(string(body), p.opt.Delete) {
			p.deleted.Do(func() { p.delete() })
		}
	}
	if p.opt.ThrottleEvery > 0 && n%p.opt.ThrottleEvery == 0 {
		p.Throttled.Add(1)
		w.Header().Set("Retry-After", "0")
		http.Error(w, "slow down", http.StatusTooManyRequests)
		return
	}
	p.rp.ServeHTTP(w, r)
}

func (p *Proxy) delete() {
	req, _ := http.NewRequest(http.MethodDelete, p.upstream.ResolveReference(&url.URL{Path: p.opt.Delete}).String(), nil)
	req.SetBasicAuth(p.opt.User, p.opt.Password)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
}

// cutBody ends an answer with an error after left bytes; the reverse
// proxy then drops the connection mid-answer.
type cutBody struct {
	r    io.ReadCloser
	left int
}

func (c *cutBody) Read(b []byte) (int, error) {
	if c.left <= 0 {
		return 0, errors.New("davfault: answer cut")
	}
	if len(b) > c.left {
		b = b[:c.left]
	}
	n, err := c.r.Read(b)
	c.left -= n
	return n, err
}

func (c *cutBody) Close() error { return c.r.Close() }
