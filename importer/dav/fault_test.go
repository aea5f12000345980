package dav

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/progress"
)

// fakeDAV is a minimal CardDAV/CalDAV server: the test's collections exist
// already (given with --carddav/--caldav), and put decides each PUT.
type fakeDAV struct {
	mu      sync.Mutex
	stored  map[string][]byte
	held    map[string]string                                        // what GET returns, by path, when put answers itself
	put     func(w http.ResponseWriter, r *http.Request, n int) bool // true when it answered
	puts    atomic.Int32
	reports atomic.Int32
}

func (f *fakeDAV) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case "PROPFIND":
		w.WriteHeader(http.StatusMultiStatus)
		io.WriteString(w, `<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cr="urn:ietf:params:xml:ns:carddav">`+
			`<d:response><d:href>/cal/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><c:calendar/></d:resourcetype><d:displayname>Cal</d:displayname></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`+
			`<d:response><d:href>/book/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><cr:addressbook/></d:resourcetype><d:displayname>Book</d:displayname></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`+
			`</d:multistatus>`)
	case http.MethodPut:
		n := int(f.puts.Add(1))
		if f.put != nil && f.put(w, r, n) {
			return
		}
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := f.stored[r.URL.Path]; ok && r.Header.Get("If-None-Match") == "*" {
			w.WriteHeader(http.StatusPreconditionFailed)
			return
		}
		f.stored[r.URL.Path] = body
		w.Header().Set("ETag", `W/"weak"`)
		w.WriteHeader(http.StatusCreated)
	case http.MethodGet:
		f.mu.Lock()
		defer f.mu.Unlock()
		if b, ok := f.held[r.URL.Path]; ok {
			w.Header().Set("ETag", `"held"`)
			io.WriteString(w, b)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	default:
		if r.Method == "REPORT" {
			f.reports.Add(1)
		}
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// fakeCard is card uid of smallArchive.
func fakeCard(uid string) string {
	return "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nFN:Person " + uid + "\r\nN:;Person;;;\r\nEND:VCARD\r\n"
}

// smallArchive writes an archive with one address book of n contacts.
func smallArchive(t *testing.T, n int) string {
	t.Helper()
	var objs []pimObject
	for i := range n {
		uid := "card-" + string(rune('a'+i))
		objs = append(objs, pimObject{kind: format.KindContact, folder: "Book", uid: uid, body: fakeCard(uid), sourceID: uid})
	}
	return writePIMArchive(t, []format.Folder{{Kind: format.FolderContacts, Path: "Book", DisplayName: "Book"}}, objs)
}

func TestFaults(t *testing.T) {
	fast := retry.Loop{Attempts: 4, Backoff: retry.Policy{First: time.Millisecond, Max: 3 * time.Second}, MaxWait: 3 * time.Second}
	tests := []struct {
		name                      string
		put                       func(w http.ResponseWriter, r *http.Request, n int) bool
		held                      map[string]string
		imported, present, failed int
		reason                    string // in the failure
		minElapsed                time.Duration
	}{
		{name: "503 with Retry-After is retried after the wait",
			put: func(w http.ResponseWriter, r *http.Request, n int) bool {
				if n == 1 {
					w.Header().Set("Retry-After", "1")
					w.WriteHeader(http.StatusServiceUnavailable)
					return true
				}
				return false
			}, imported: 3, minElapsed: time.Second},
		{name: "dropped connection is retried",
			put: func(w http.ResponseWriter, r *http.Request, n int) bool {
				if n <= 2 {
					conn, _, _ := w.(http.Hijacker).Hijack()
					conn.Close()
					return true
				}
				return false
			}, imported: 3},
		{name: "412 with the same object there (refolded, reordered) means it is already there",
			put: func(w http.ResponseWriter, r *http.Request, n int) bool {
				w.WriteHeader(http.StatusPreconditionFailed)
				return true
			}, held: map[string]string{
				"/book/card-a.vcf": fakeCard("card-a"),
				"/book/card-b.vcf": "BEGIN:VCARD\nVERSION:3.0\nN:;Person;;;\nUID:card-b\nFN:Pers\n on card-b\nEND:VCARD\n",
				"/book/card-c.vcf": strings.ToLower(fakeCard("card-c")[:12]) + fakeCard("card-c")[12:],
			}, present: 3},
		{name: "412 with another object of the UID there is a failure naming what differs",
			put: func(w http.ResponseWriter, r *http.Request, n int) bool {
				w.WriteHeader(http.StatusPreconditionFailed)
				return true
			}, held: map[string]string{
				"/book/card-a.vcf": strings.Replace(fakeCard("card-a"), "FN:Person", "FN:Someone else", 1),
				"/book/card-b.vcf": strings.Replace(fakeCard("card-b"), "N:;Person;;;", "N:;Person;;;\r\nTEL:1", 1),
				"/book/card-c.vcf": strings.Replace(fakeCard("card-c"), "FN:Person", "FN:Someone else", 1),
			}, failed: 3, reason: "different content"},
		{name: "409 no-uid-conflict: the object at the href the server names is compared",
			put: func(w http.ResponseWriter, r *http.Request, n int) bool {
				w.WriteHeader(http.StatusConflict)
				io.WriteString(w, `<d:error xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><c:no-uid-conflict><d:href>/book/other-`+filepath.Base(r.URL.Path)+`</d:href></c:no-uid-conflict></d:error>`)
				return true
			}, held: map[string]string{
				"/book/other-card-a.vcf": fakeCard("card-a"), "/book/other-card-b.vcf": fakeCard("card-b"), "/book/other-card-c.vcf": fakeCard("card-c"),
			}, present: 3},
		{name: "207 with 412 inside (Xandikos): the UID is elsewhere, unnamed, so it cannot be compared",
			put: func(w http.ResponseWriter, r *http.Request, n int) bool {
				w.WriteHeader(http.StatusMultiStatus)
				io.WriteString(w, `<d:multistatus xmlns:d="DAV:"><d:response><d:href>/book/x.vcf</d:href><d:status>HTTP/1.1 412 Precondition Failed</d:status></d:response></d:multistatus>`)
				return true
			}, failed: 3, reason: "nor a query by UID"},
		{name: "507 insufficient storage is reported with the server's answer",
			put: func(w http.ResponseWriter, r *http.Request, n int) bool {
				w.WriteHeader(http.StatusInsufficientStorage)
				io.WriteString(w, "quota exceeded")
				return true
			}, failed: 3, reason: "507 Insufficient Storage: quota exceeded"},
		{name: "503 forever gives up with the last answer",
			put: func(w http.ResponseWriter, r *http.Request, n int) bool {
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}, failed: 3, reason: "503 Service Unavailable"},
	}
	archive := smallArchive(t, 3)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeDAV{stored: map[string][]byte{}, put: tc.put, held: tc.held}
			srv := httptest.NewServer(f)
			defer srv.Close()
			start := time.Now()
			rep, err := importArchives(context.Background(), []string{archive}, testRun{Options: Options{
				CardDAV: srv.URL + "/", CalDAV: srv.URL + "/", User: "u", Password: "p",
				Concurrency: 1, Retry: fast}, StateDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Imported != tc.imported || rep.Present != tc.present || rep.Failed != tc.failed {
				t.Errorf("imported/present/failed = %d/%d/%d, want %d/%d/%d (%+v)", rep.Imported, rep.Present, rep.Failed,
					tc.imported, tc.present, tc.failed, rep.Failures)
			}
			for _, fl := range rep.Failures {
				if !strings.Contains(fl.Reason, tc.reason) {
					t.Errorf("failure reason %q does not carry %q", fl.Reason, tc.reason)
				}
			}
			if el := time.Since(start); el < tc.minElapsed {
				t.Errorf("finished in %s; Retry-After asked for %s", el, tc.minElapsed)
			}
			if tc.imported > 0 {
				for p, b := range f.stored {
					if !bytes.HasPrefix(b, []byte("BEGIN:VCARD")) {
						t.Errorf("%s stored %q", p, b)
					}
				}
			}
		})
	}
}

// TestRerunSendsNothing checks the journal: a second run makes no PUT.
func TestRerunSendsNothing(t *testing.T) {
	f := &fakeDAV{stored: map[string][]byte{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	archive := smallArchive(t, 3)
	opt := testRun{Options: Options{CardDAV: srv.URL + "/", User: "u"}, StateDir: t.TempDir()}
	for run := 1; run <= 2; run++ {
		rep, err := importArchives(context.Background(), []string{archive}, opt)
		if err != nil {
			t.Fatal(err)
		}
		if run == 2 && (rep.Present != 3 || rep.Imported != 0) {
			t.Errorf("second run: present %d, imported %d; want 3, 0", rep.Present, rep.Imported)
		}
	}
	if n := f.puts.Load(); n != 3 {
		t.Errorf("%d PUTs over two runs, want 3", n)
	}
}

// TestReadBackBounded: the objects waiting to be read back are bounded in
// bytes; past the bound they are read back at once, not at the end.
func TestReadBackBounded(t *testing.T) {
	for _, tc := range []struct {
		limit   int64
		reports int32
	}{{32 << 20, 1}, {1, 3}} {
		old := checkBytes
		checkBytes = tc.limit
		f := &fakeDAV{stored: map[string][]byte{}}
		srv := httptest.NewServer(f)
		rep, err := importArchives(context.Background(), []string{smallArchive(t, 3)}, testRun{Options: Options{CardDAV: srv.URL + "/", User: "u", Concurrency: 1}})
		srv.Close()
		checkBytes = old
		if err != nil {
			t.Fatal(err)
		}
		if n := f.reports.Load(); n != tc.reports || rep.Imported != 3 {
			t.Errorf("bound %d bytes: %d multiget REPORTs, imported %d; want %d, 3", tc.limit, n, rep.Imported, tc.reports)
		}
		if !hasNote(rep, "could not be read back") {
			t.Errorf("no note that the server could not be read back: %q", rep.Notes)
		}
	}
}

// TestProgressAndPlanValue: progress comes as progress.Event, an object
// at a time with the folder being read; a dry run returns its plan as a
// value (objects and bytes to send, the target collection) and sends
// nothing.
func TestProgressAndPlanValue(t *testing.T) {
	f := &fakeDAV{stored: map[string][]byte{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	archive := smallArchive(t, 3)
	var mu sync.Mutex
	var events []progress.Event
	req := importer.Request{User: "u", Archives: []string{archive}, Progress: func(e progress.Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}}
	tg := New(Options{CardDAV: srv.URL + "/", User: "u", Concurrency: 1})
	if tg.Kind() != "dav" {
		t.Errorf("Kind() = %q", tg.Kind())
	}

	dry := req
	dry.DryRun = true
	res, err := tg.Import(context.Background(), dry)
	if err != nil {
		t.Fatal(err)
	}
	if res.Plan == nil || len(res.Plan.Folders) != 1 || f.puts.Load() != 0 {
		t.Fatalf("dry run: plan %+v, %d PUTs; want one folder and none", res.Plan, f.puts.Load())
	}
	var size int64
	for _, uid := range []string{"card-a", "card-b", "card-c"} {
		size += int64(len(fakeCard(uid)))
	}
	if p := res.Plan.Folders[0]; p.Source != "Book" || p.Kind != "contacts" || p.Create || p.Items != 3 || p.Bytes != size || p.Present != 0 || p.Target != srv.URL+"/book/" {
		t.Errorf("plan %+v; want Book's 3 contacts, %d bytes, to the existing %s/book/", p, size, srv.URL)
	}

	events = nil
	res, err = tg.Import(context.Background(), req)
	if err != nil || res.Plan != nil || res.Report.Imported != 3 {
		t.Fatalf("import: %v, plan %v, report %+v", err, res.Plan, res.Report)
	}
	if len(events) != 3 {
		t.Fatalf("%d progress events, want 3: %+v", len(events), events)
	}
	for i, e := range events {
		if e.Stage != "import" || e.User != "u" || e.Folder != "Book" || e.Items != int64(i+1) {
			t.Errorf("event %d: %+v; want import of u's Book, %d items", i, e, i+1)
		}
	}
}

// TestSelectLeavesOut: the request's selection applies to contacts by
// folder; what it leaves out is counted in a note, not sent.
func TestSelectLeavesOut(t *testing.T) {
	f := &fakeDAV{stored: map[string][]byte{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	archive := smallArchive(t, 3)
	tg := New(Options{CardDAV: srv.URL + "/", User: "u", Concurrency: 1})
	res, err := tg.Import(context.Background(), importer.Request{User: "u", Archives: []string{archive},
		Select: importer.Select{Folders: []string{"Other"}}})
	if err != nil {
		t.Fatal(err)
	}
	if f.puts.Load() != 0 || res.Report.Imported != 0 || !hasNote(res.Report, "3 contacts, events or tasks outside the selected") {
		t.Errorf("%d PUTs, imported %d, notes %q; want none sent and a note of 3 left out", f.puts.Load(), res.Report.Imported, res.Report.Notes)
	}
	res, err = tg.Import(context.Background(), importer.Request{User: "u", Archives: []string{archive},
		Select: importer.Select{Folders: []string{"Book"}, After: time.Now()}})
	if err != nil || res.Report.Imported != 3 {
		t.Errorf("selecting Book: %v, imported %d; want 3 (contacts carry no received time)", err, res.Report.Imported)
	}
}
