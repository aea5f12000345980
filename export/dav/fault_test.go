package dav

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/internal/davclient"
	"github.com/mailhaul/mailhaul/internal/davfault"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

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

	f := davfault.Start(t, davfault.Options{Upstream: r.URL, ThrottleEvery: 3, CutEvery: 2,
		Fail: "bulk-07.vcf", Delete: "/alice/book/bulk-21.vcf", User: "alice", Password: "secret"})
	got := exportAll(t, f.URL, nil)
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
	if f.Throttled.Load() == 0 || f.Cuts.Load() == 0 || f.Failures.Load() == 0 {
		t.Errorf("faults: %d throttled, %d answers cut, %d multigets failed; want some of each", f.Throttled.Load(), f.Cuts.Load(), f.Failures.Load())
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

// Credentials that stop working part way (the password changed) stop
// the export at the first 401: asking again, or for other objects,
// only adds failed logins, and a server may lock the account after a
// few.
func TestExportStopsAtUnauthorized(t *testing.T) {
	realServer(t)
	r := testservers.StartRadicale(t, map[string]string{"alice": "secret"})
	fill(t, r.URL, "alice", "secret", r.URL+"alice/book/", r.URL+"alice/cal/", true)
	f := davfault.Start(t, davfault.Options{Upstream: r.URL, DenyMultigets: true})
	var sink exporttest.Sink
	src := &Source{URL: f.URL, Batch: 7, TempDir: t.TempDir(), Config: davclient.Config{User: "alice", Password: "secret",
		Retry: retry.Loop{Attempts: 3, Backoff: retry.Policy{First: time.Millisecond}}}}
	err := src.Export(context.Background(), &sink, export.Options{})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("export: %v; want it stopped by the 401", err)
	}
	if n := f.Denied.Load(); n != 1 {
		t.Errorf("%d multigets answered 401; want the export to stop at the first", n)
	}
}

// An object an export could not fetch is asked for again by a delta
// from that export's archive: the sync token the archive records covers
// it, so the server's changes since would never name it again.
func TestDeltaAsksAgainForFailedObjects(t *testing.T) {
	realServer(t)
	r := testservers.StartRadicale(t, map[string]string{"alice": "secret"})
	fill(t, r.URL, "alice", "secret", r.URL+"alice/book/", r.URL+"alice/cal/", true)
	f := davfault.Start(t, davfault.Options{Upstream: r.URL, Fail: "todo-1.ics"})
	full := exportAll(t, f.URL, nil)
	if len(full.Errors) != 1 || len(full.Items) != 3 {
		t.Fatalf("full export through the fault: %d items, errors %+v; want 3 and todo-1.ics", len(full.Items), full.Errors)
	}
	src := &Source{URL: r.URL, TempDir: t.TempDir(), Config: davclient.Config{User: "alice", Password: "secret"},
		Earlier: map[string]string{}, EarlierFailed: map[string][]string{}}
	for _, fo := range full.Folders {
		src.Earlier[string(fo.Kind)+"/"+fo.Path] = fo.SyncToken
	}
	for _, p := range full.Errors {
		src.EarlierFailed[p.Folder] = append(src.EarlierFailed[p.Folder], p.Item)
	}
	for _, opt := range []export.Options{{}, {After: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)}} {
		var sink exporttest.Sink
		if err := src.Export(context.Background(), &sink, opt); err != nil {
			t.Fatal(err)
		}
		if len(sink.Items) != 1 || sink.Items[0].UID != "todo-1" || len(sink.Errors) != 0 {
			t.Errorf("delta (after %s): %d items, errors %+v; want todo-1 alone, asked for again", opt.After, len(sink.Items), sink.Errors)
		}
	}
	// Without its token the collection is listed whole: the object is
	// kept whatever its stamp (2019, before the cutoff).
	src.Earlier = map[string]string{"calendar/cal": ""}
	var sink exporttest.Sink
	if err := src.Export(context.Background(), &sink, export.Options{After: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	var uids []string
	for _, it := range sink.Items {
		uids = append(uids, it.UID)
	}
	if !slices.Contains(uids, "todo-1") || len(sink.Errors) != 0 {
		t.Errorf("delta by stamps: items %v, errors %+v; want todo-1 among them", uids, sink.Errors)
	}
}
