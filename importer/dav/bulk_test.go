package dav

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/report"
)

// card is one archive object for the bulk tests.
type card struct {
	uid, body string
}

func plainCard(uid, fn string) card {
	return card{uid, "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nFN:" + fn + "\r\nN:" + fn + ";;;;\r\nEMAIL:" + uid + "@example.org\r\nNOTE:Zoë\\, née Åström\r\nEND:VCARD\r\n"}
}

// bookArchive writes an archive with one address book "Friends" holding
// cards, in order.
func bookArchive(t *testing.T, name string, cards []card) string {
	t.Helper()
	book := format.Folder{Kind: format.FolderContacts, Path: "Friends", DisplayName: "Friends", Color: "#ff8800", Description: "people"}
	var objs []pimObject
	for _, c := range cards {
		objs = append(objs, pimObject{kind: format.KindContact, folder: "Friends", uid: c.uid, body: c.body})
	}
	return writePIMArchiveAs(t, name+".tgz", nil, []format.Folder{book}, objs)
}

// bulkCards are 40 plain cards and the ones the batch must leave out: a
// second card with a UID already used, a UID that names no resource as
// is, and a Latin-1 card.
func bulkCards() []card {
	var cs []card
	for i := range 40 {
		cs = append(cs, plainCard(fmt.Sprintf("bulk-%02d", i), fmt.Sprintf("Person %d", i)))
	}
	dup := plainCard("bulk-03", "Someone else")
	odd := plainCard("urn:uuid:4f0e8a56-9c1d-4b7e-8f00-1a2b3c4d5e6f", "Odd UID")
	latin1 := card{"bulk-latin1", "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bulk-latin1\r\nFN:Andr\xe9\r\nN:Andr\xe9;;;;\r\nEND:VCARD\r\n"}
	return append(cs, dup, odd, latin1)
}

func importOnce(t *testing.T, archive string, opt testRun) *report.Report {
	t.Helper()
	rep, err := importArchives(context.Background(), []string{archive}, opt)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func hasNote(rep *report.Report, part string) bool {
	for _, n := range rep.Notes {
		if strings.Contains(n, part) {
			return true
		}
	}
	return false
}

// TestBulkRadicale fills a new address book with one whole-collection PUT
// and checks that Radicale stores what the per-card path stores, that the
// report and journal say the same, and that re-runs change nothing.
func TestBulkRadicale(t *testing.T) {
	realServer(t)
	r := testservers.StartRadicale(t, map[string]string{"alice": "a", "bob": "b", "carol": "c"})
	cards := bulkCards()
	archive := bookArchive(t, "full", cards)
	state := t.TempDir()
	alice := testRun{Options: Options{URL: r.URL, User: "alice", Password: "a", Concurrency: 2}, StateDir: state}
	bob := testRun{Options: Options{URL: r.URL, User: "bob", Password: "b", Concurrency: 2, Bulk: BulkNever}, StateDir: state}

	ra, rb := importOnce(t, archive, alice), importOnce(t, archive, bob)
	if !hasNote(ra, "40 of 40 cards were stored by one whole-collection PUT") {
		t.Errorf("bulk run: no note of 40 cards in one PUT: %q", ra.Notes)
	}
	if hasNote(rb, "whole-collection") {
		t.Errorf("--bulk never: a whole-collection note: %q", rb.Notes)
	}
	// 42 stored (40 + odd + latin1); the other card with a UID already
	// used is a failure, not "present" (issue 9, item 1).
	for who, rep := range map[string]*report.Report{"bulk": ra, "per-card": rb} {
		if rep.Imported != 42 || rep.Present != 0 || rep.Failed != 1 {
			t.Errorf("%s: imported/present/failed = %d/%d/%d, want 42/0/1 (%+v)", who, rep.Imported, rep.Present, rep.Failed, rep.Failures)
		}
		if f, ok := failureFor(rep, "bulk-03"); !ok || !strings.Contains(f.Reason, "different content") {
			t.Errorf("%s: failures %+v; want bulk-03 with different content", who, rep.Failures)
		}
	}
	if ra.Bytes != rb.Bytes {
		t.Errorf("bytes imported: bulk %d, per-card %d", ra.Bytes, rb.Bytes)
	}

	// Radicale stores the same bytes either way.
	c := newTestClient(nil, "alice", "a", retry.Loop{})
	cb := newTestClient(nil, "bob", "b", retry.Loop{})
	colA, _ := url.Parse(r.URL + "alice/friends/")
	colB, _ := url.Parse(r.URL + "bob/friends/")
	c.Trust(colA)
	cb.Trust(colB)
	_, ma, err := c.ListETags(context.Background(), colA)
	if err != nil {
		t.Fatal(err)
	}
	_, mb, err := cb.ListETags(context.Background(), colB)
	if err != nil {
		t.Fatal(err)
	}
	if len(ma) != 42 || len(mb) != 42 {
		t.Fatalf("stored: bulk %d, per-card %d; want 42 each", len(ma), len(mb))
	}
	for name := range mb {
		ga, gb := getter{"alice", "a"}, getter{"bob", "b"}
		_, _, wa := ga.get(t, colA.String()+name)
		_, _, wb := gb.get(t, colB.String()+name)
		if string(wa) != string(wb) {
			t.Errorf("%s: bulk stored\n%s\nper-card stored\n%s", name, wa, wb)
		}
	}
	// The display name, colour and description survive the upload.
	a, err := c.Send(context.Background(), "PROPFIND", colA.String(), map[string][]string{"Depth": {"0"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{">Friends<", ">#ff8800<", ">people<"} {
		if !strings.Contains(string(a.Body), want) {
			t.Errorf("collection properties after the upload lack %s:\n%s", want, a.Body)
		}
	}

	// Re-runs, with and without the journal, create and change nothing.
	for _, st := range []string{state, ""} {
		alice.StateDir = st
		rep := importOnce(t, archive, alice)
		if rep.Imported != 0 || rep.Present != 42 || rep.Failed != 1 || hasNote(rep, "whole-collection") {
			t.Errorf("re-run (journal %q): imported/present/failed = %d/%d/%d, want 0/42/1; notes %q", st, rep.Imported, rep.Present, rep.Failed, rep.Notes)
		}
	}
	_, again, err := c.ListETags(context.Background(), colA)
	if err != nil {
		t.Fatal(err)
	}
	for name, etag := range ma {
		if again[name] != etag {
			t.Errorf("%s: ETag %s after the re-runs, was %s", name, again[name], etag)
		}
	}

	// A run that stopped after filling part of the book leaves a
	// non-empty collection: the next run goes card by card into it.
	carol := testRun{Options: Options{URL: r.URL, User: "carol", Password: "c"}, StateDir: t.TempDir()}
	first := importOnce(t, bookArchive(t, "part", cards[:10]), carol)
	if first.Imported != 10 || !hasNote(first, "10 of 10 cards were stored by one whole-collection PUT") {
		t.Errorf("partial run: imported %d, notes %q", first.Imported, first.Notes)
	}
	carol.StateDir = t.TempDir() // as if the journal were lost too
	rest := importOnce(t, archive, carol)
	if rest.Imported != 32 || rest.Present != 10 || rest.Failed != 1 || hasNote(rest, "whole-collection") {
		t.Errorf("run into the non-empty book: imported/present/failed = %d/%d/%d, want 32/10/1; notes %q", rest.Imported, rest.Present, rest.Failed, rest.Notes)
	}
}

// TestBulkRefusedRadicale: a card Radicale refuses (3.0 without FN) makes it refuse
// the whole upload; every card then goes one by one, and only the bad one
// fails, with the server's answer.
func TestBulkRefusedRadicale(t *testing.T) {
	realServer(t)
	r := testservers.StartRadicale(t, map[string]string{"alice": "a"})
	cards := bulkCards()[:20]
	cards = append(cards, card{"bulk-bad", "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bulk-bad\r\nN:Bad;;;;\r\nEND:VCARD\r\n"})
	rep := importOnce(t, bookArchive(t, "bad", cards), testRun{Options: Options{URL: r.URL, User: "alice", Password: "a"}})
	if !hasNote(rep, "whole-collection upload of 21 cards not used (the server refused it: 400") {
		t.Errorf("no note of the refused upload with the server's answer: %q", rep.Notes)
	}
	if rep.Imported != 20 || rep.Failed != 1 {
		t.Errorf("imported/failed = %d/%d, want 20/1 (%+v)", rep.Imported, rep.Failed, rep.Failures)
	}
	for _, f := range rep.Failures {
		if !strings.Contains(f.Item, "bulk-bad") || !strings.Contains(f.Reason, "400") {
			t.Errorf("failure %s: %s; want bulk-bad refused with 400", f.Item, f.Reason)
		}
	}
}

// sneakyPut is a transport that, before the first PUT carrying If-Match
// to upd-1.vcf, changes that object on the server behind the importer's back.
type sneakyPut struct {
	base  http.RoundTripper
	body  string
	once  sync.Once
	fired atomic.Bool
}

func (s *sneakyPut) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut && req.Header.Get("If-Match") != "" && strings.HasSuffix(req.URL.Path, "/upd-1.vcf") {
		var err error
		s.once.Do(func() {
			r, _ := http.NewRequest(http.MethodPut, req.URL.String(), strings.NewReader(s.body))
			r.Header = http.Header{"Content-Type": {"text/vcard"}, "Authorization": req.Header["Authorization"]}
			var resp *http.Response
			if resp, err = s.base.RoundTrip(r); err == nil {
				resp.Body.Close()
				s.fired.Store(resp.StatusCode/100 == 2)
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return s.base.RoundTrip(req)
}

// TestUpdateRadicale: --update replaces a changed card (If-Match on its
// ETag), leaves an unchanged one alone, and does not overwrite a card
// changed on the server between its read and its replacement.
func TestUpdateRadicale(t *testing.T) {
	realServer(t)
	r := testservers.StartRadicale(t, map[string]string{"alice": "a"})
	var v1 []card
	for i := range 10 {
		v1 = append(v1, plainCard(fmt.Sprintf("upd-%d", i), fmt.Sprintf("Person %d", i)))
	}
	opt := testRun{Options: Options{URL: r.URL, User: "alice", Password: "a"}, StateDir: t.TempDir()}
	if rep := importOnce(t, bookArchive(t, "v1", v1), opt); rep.Imported != 10 {
		t.Fatalf("first import: imported %d, want 10 (%+v)", rep.Imported, rep.Failures)
	}
	col, _ := url.Parse(r.URL + "alice/friends/")
	c := newTestClient(nil, "alice", "a", retry.Loop{})
	c.Trust(col)
	_, before, err := c.ListETags(context.Background(), col)
	if err != nil {
		t.Fatal(err)
	}

	// v2 changes card 0 and card 1; card 1 is also changed on the server
	// while the importer works on it.
	v2 := slices.Clone(v1)
	v2[0] = plainCard("upd-0", "Person Zero renamed")
	v2[1] = plainCard("upd-1", "Person One renamed")
	sneaky := &sneakyPut{base: http.DefaultTransport, body: plainCard("upd-1", "Changed on the server").body}
	opt.Update = true
	opt.Concurrency = 1
	opt.Transport = sneaky
	rep := importOnce(t, bookArchive(t, "v2", v2), opt)

	if !sneaky.fired.Load() {
		t.Fatalf("the concurrent change was never made: %+v", rep)
	}
	if rep.Imported != 1 || rep.Present != 8 || rep.Failed != 1 {
		t.Errorf("update: imported/present/failed = %d/%d/%d, want 1/8/1 (%+v)", rep.Imported, rep.Present, rep.Failed, rep.Failures)
	}
	for _, f := range rep.Failures {
		if !strings.Contains(f.Item, "upd-1") || !strings.Contains(f.Reason, "changed on the server") || !strings.Contains(f.Reason, "412") {
			t.Errorf("failure %s: %s; want upd-1 changed on the server (412)", f.Item, f.Reason)
		}
	}
	_, after, err := c.ListETags(context.Background(), col)
	if err != nil {
		t.Fatal(err)
	}
	g := getter{"alice", "a"}
	for name, etag := range before {
		_, _, body := g.get(t, col.String()+name)
		switch name {
		case "upd-0.vcf":
			if after[name] == etag || !strings.Contains(string(body), "FN:Person Zero renamed") {
				t.Errorf("%s: not replaced (ETag %s → %s):\n%s", name, etag, after[name], body)
			}
		case "upd-1.vcf":
			if !strings.Contains(string(body), "Changed on the server") {
				t.Errorf("%s: the server-side change was overwritten:\n%s", name, body)
			}
		default:
			if after[name] != etag {
				t.Errorf("%s: unchanged card rewritten: ETag %s → %s", name, etag, after[name])
			}
		}
	}
}
