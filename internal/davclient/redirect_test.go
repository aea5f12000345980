package davclient

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/mailhaul/mailhaul/internal/retry"
)

// TestWellKnownRedirectKeepsTLS checks that discovery never follows a
// .well-known redirect from https to http, which would send the
// credentials in clear text.
func TestWellKnownRedirectKeepsTLS(t *testing.T) {
	plain, leaked := credentialCounter()
	defer plain.Close()
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/dav/", http.StatusMovedPermanently)
	}))
	defer secure.Close()
	base, _ := url.Parse(secure.URL + "/")
	c := New(Config{User: "alice", Password: "s3cret", Transport: secure.Client().Transport, Retry: retry.Loop{Attempts: 1}})
	c.Trust(base)
	got, _ := c.contextPath(context.Background(), base, "carddav")
	if got.String() != base.String() {
		t.Errorf("contextPath = %s, want the base %s (no downgrade to http)", got, base)
	}
	if n := leaked.Load(); n > 0 {
		t.Errorf("the plain-http server received credentials %d times", n)
	}
}

// credentialCounter is a DAV server that answers every request with an
// empty 207 and counts the requests that carried credentials.
func credentialCounter() (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			n.Add(1)
		}
		w.WriteHeader(http.StatusMultiStatus)
	}))
	return srv, &n
}

// namedServers gives test servers host names: a transport that dials the
// server registered under the request's host.
func namedServers(hosts map[string]*httptest.Server) http.RoundTripper {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		srv, ok := hosts[host]
		if !ok {
			return nil, fmt.Errorf("no test server for %s", host)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Listener.Addr().String())
	}
	return tr
}

// A .well-known redirect to a host of the same site keeps the credentials;
// one to another site is not followed, no request there carries them, and
// the error says where the redirect pointed. A discovered or redirected
// http:// address off loopback gets none either, even on the site the
// user named, unless plaintext is allowed.
func TestWellKnownRedirectStaysOnSite(t *testing.T) {
	target, credsAtTarget := credentialCounter()
	defer target.Close()
	for _, tc := range []struct {
		to            string
		follow, plain bool
	}{
		{"http://contacts.example.org/dav/", true, true},
		{"http://contacts.example.org/dav/", false, false},
		{"http://dav.example.net/dav/", false, true},
		{"http://example.org.evil.example/dav/", false, true},
	} {
		credsAtTarget.Store(0)
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, tc.to, http.StatusMovedPermanently)
		}))
		toURL, _ := url.Parse(tc.to)
		hc := namedServers(map[string]*httptest.Server{"dav.example.org": front, toURL.Hostname(): target})
		base, _ := url.Parse("http://dav.example.org/")
		c := New(Config{User: "alice", Password: "s3cret", Transport: hc, AllowPlaintext: tc.plain, Retry: retry.Loop{Attempts: 1}})
		c.Trust(base)
		got, _ := c.contextPath(context.Background(), base, "carddav")
		front.Close()
		if tc.follow {
			if got.String() != tc.to || credsAtTarget.Load() == 0 {
				t.Errorf("redirect to %s: contextPath %s, %d requests with credentials there; want it followed with them", tc.to, got, credsAtTarget.Load())
			}
			continue
		}
		if got.String() != base.String() || credsAtTarget.Load() != 0 {
			t.Errorf("redirect to %s (plaintext allowed: %v): contextPath %s, %d requests with credentials there; want the base and none", tc.to, tc.plain, got, credsAtTarget.Load())
		}
		if c.refused == nil || c.refused.String() != tc.to {
			t.Errorf("redirect to %s: refused = %v, want it recorded for the error", tc.to, c.refused)
		}
	}
}

func TestSite(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"https://dav.example.org/", "https://contacts.example.org:8443/x", true},
		{"https://icloud.com/", "https://p42-contacts.icloud.com/", true},
		{"https://dav.example.org/", "http://dav.example.org/", false},
		{"https://example.org/", "https://example.net/", false},
		{"https://a.github.io/", "https://b.github.io/", false}, // a public suffix: separate sites
		{"http://127.0.0.1:5232/", "http://127.0.0.1:5232/x/", true},
		{"http://127.0.0.1:5232/", "http://127.0.0.1:8080/", false},
		{"http://localhost:5232/", "http://localhost:80/", false},
	} {
		a, _ := url.Parse(tc.a)
		b, _ := url.Parse(tc.b)
		if got := Site(a) == Site(b); got != tc.same {
			t.Errorf("same site(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
}
