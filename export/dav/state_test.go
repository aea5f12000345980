package dav

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/davclient"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// A delta whose listing of a collection for the state record fails gives
// no state line of it and an error naming its folder (so an importer
// takes no deletion from it); the other collections' lines are there.
func TestDeltaStateListingFails(t *testing.T) {
	realServer(t)
	r := testservers.StartRadicale(t, map[string]string{"alice": "secret"})
	fill(t, r.URL, "alice", "secret", r.URL+"alice/book/", r.URL+"alice/cal/", true)
	up, _ := url.Parse(r.URL)
	proxy := httputil.NewSingleHostReverseProxy(up)
	var listings atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		// The delta's own listing of the book passes; the next fails.
		if strings.HasSuffix(req.URL.Path, "/alice/book/") && (req.Method == "REPORT" || req.Method == "PROPFIND") && listings.Add(1) > 1 {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	cfg := davclient.Config{User: "alice", Password: "secret", Retry: retry.Loop{Attempts: 1}}
	full := exportAll(t, r.URL, nil)
	src := &Source{URL: srv.URL + "/", TempDir: t.TempDir(), Config: cfg, Earlier: map[string]string{}}
	for _, fo := range full.Folders {
		src.Earlier[string(fo.Kind)+"/"+fo.Path] = fo.SyncToken
	}
	var ss stateSink
	if err := src.Export(context.Background(), &ss, export.Options{State: true}); err != nil {
		t.Fatal(err)
	}
	if len(ss.Errors) != 1 || ss.Errors[0].Folder != "book" || !strings.Contains(ss.Errors[0].Reason, "state record") {
		t.Errorf("errors %+v; want one naming the book's state listing", ss.Errors)
	}
	var folders []string
	for _, s := range ss.state {
		folders = append(folders, s.Folder)
		if s.Kind != format.KindEvent {
			t.Errorf("state %+v; want the calendar's objects only, as events", s)
		}
	}
	if len(folders) != 2 {
		t.Errorf("state of folders %v; want the calendar's two objects", folders)
	}
}
