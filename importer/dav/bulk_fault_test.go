package dav

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// fakeRadicale answers like Radicale where the whole-collection upload
// depends on it; bulkPut decides what a PUT to the collection does.
type fakeRadicale struct {
	mu      sync.Mutex
	cards   map[string]string // name → body, in /u/friends/
	made    bool
	ifMatch string // the If-Match of the whole-collection PUT
	single  int    // per-card PUTs
	bulkPut func(f *fakeRadicale, uids []string) int
}

var uidLine = regexp.MustCompile(`(?m)^UID:(.*?)\r?$`)

func (f *fakeRadicale) etag() string { return fmt.Sprintf(`"coll-%d"`, len(f.cards)) }

func (f *fakeRadicale) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	ms := func(inner string) {
		w.WriteHeader(http.StatusMultiStatus)
		io.WriteString(w, `<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:cr="urn:ietf:params:xml:ns:carddav">`+inner+`</d:multistatus>`)
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/.web":
		io.WriteString(w, "Radicale works!")
	case r.Method == "PROPFIND" && r.URL.Path == "/u/":
		inner := `<d:response><d:href>/u/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`
		ms(inner)
	case r.Method == "MKCOL" && r.URL.Path == "/u/friends/":
		f.made = true
		w.WriteHeader(http.StatusCreated)
	case r.Method == "PROPFIND" && r.URL.Path == "/u/friends/" && f.made:
		inner := `<d:response><d:href>/u/friends/</d:href><d:propstat><d:prop><d:getetag>` + f.etag() + `</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`
		for name := range f.cards {
			inner += `<d:response><d:href>/u/friends/` + name + `</d:href><d:propstat><d:prop><d:getetag>"` + name + `"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`
		}
		ms(inner)
	case r.Method == "PROPPATCH":
		ms(`<d:response><d:href>/u/friends/</d:href><d:propstat><d:prop><d:displayname/></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`)
	case r.Method == http.MethodPut && r.URL.Path == "/u/friends/":
		f.ifMatch = r.Header.Get("If-Match")
		var uids []string
		for _, m := range uidLine.FindAllStringSubmatch(string(body), -1) {
			uids = append(uids, m[1])
		}
		w.WriteHeader(f.bulkPut(f, uids))
	case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/u/friends/"):
		f.single++
		name := strings.TrimPrefix(r.URL.Path, "/u/friends/")
		if _, ok := f.cards[name]; ok && r.Header.Get("If-None-Match") == "*" {
			w.WriteHeader(http.StatusPreconditionFailed)
			return
		}
		f.cards[name] = string(body)
		w.Header().Set("ETag", `"`+name+`"`)
		w.WriteHeader(http.StatusCreated)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// TestBulkFallbacks: the whole-collection PUT is conditional on the empty
// collection's ETag; a refusal sends every card one by one, and a card
// missing after the upload is sent on its own.
func TestBulkFallbacks(t *testing.T) {
	var cards []card
	for i := range 12 {
		cards = append(cards, plainCard(fmt.Sprintf("c%02d", i), "P"))
	}
	archive := bookArchive(t, "b", cards)
	tests := []struct {
		name            string
		bulk            BulkMode
		bulkPut         func(f *fakeRadicale, uids []string) int
		single          int    // per-card PUTs wanted
		note            string // in the report's notes
		wantBulkAttempt bool
	}{
		{name: "someone added a card meanwhile: 412, all one by one",
			bulkPut: func(f *fakeRadicale, uids []string) int { return http.StatusPreconditionFailed },
			single:  12, note: "not used (the server refused it: 412", wantBulkAttempt: true},
		{name: "one card missing after the upload is sent alone",
			bulkPut: func(f *fakeRadicale, uids []string) int {
				for _, u := range uids[1:] {
					f.cards[u+".vcf"] = "stored"
				}
				return http.StatusCreated
			},
			single: 1, note: "11 of 12 cards were stored by one whole-collection PUT", wantBulkAttempt: true},
		{name: "--bulk never",
			bulk:    BulkNever,
			bulkPut: func(f *fakeRadicale, uids []string) int { panic("no whole-collection PUT wanted") },
			single:  12},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeRadicale{cards: map[string]string{}, bulkPut: tc.bulkPut}
			srv := httptest.NewServer(f)
			defer srv.Close()
			rep, err := importArchives(context.Background(), []string{archive}, testRun{Options: Options{CardDAV: srv.URL + "/u/", User: "u", Bulk: tc.bulk, Concurrency: 2}})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Imported != 12 || rep.Failed != 0 {
				t.Errorf("imported/failed = %d/%d, want 12/0 (%+v, notes %q)", rep.Imported, rep.Failed, rep.Failures, rep.Notes)
			}
			if f.single != tc.single {
				t.Errorf("%d per-card PUTs, want %d", f.single, tc.single)
			}
			if tc.wantBulkAttempt && f.ifMatch != `"coll-0"` {
				t.Errorf("whole-collection PUT had If-Match %q, want the empty collection's ETag", f.ifMatch)
			}
			if tc.note != "" && !hasNote(rep, tc.note) {
				t.Errorf("no note %q in %q", tc.note, rep.Notes)
			}
			if len(f.cards) != 12 {
				t.Errorf("%d cards on the server, want 12", len(f.cards))
			}
		})
	}
}
