package dav

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
)

// TestWellKnownRedirectKeepsTLS checks that discovery never follows a
// .well-known redirect from https to http, which would send the
// credentials in clear text.
func TestWellKnownRedirectKeepsTLS(t *testing.T) {
	var leaked atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			leaked.Add(1)
		}
		w.WriteHeader(http.StatusMultiStatus)
	}))
	defer plain.Close()
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/dav/", http.StatusMovedPermanently)
	}))
	defer secure.Close()
	base, _ := url.Parse(secure.URL + "/")
	c := newClient(secure.Client(), "alice", "s3cret", "", 1, RetryPolicy{Attempts: 1})
	got := c.contextPath(context.Background(), base, "carddav")
	if got.String() != base.String() {
		t.Errorf("contextPath = %s, want the base %s (no downgrade to http)", got, base)
	}
	if n := leaked.Load(); n > 0 {
		t.Errorf("the plain-http server received credentials %d times", n)
	}
}
