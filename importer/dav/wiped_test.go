package dav

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/internal/testservers"
)

// A journal speaks of a collection as it was. When the collection is gone
// from the server (the administrator wiped the account, or the target
// was rebuilt on the same address) and this run creates it again, nothing
// in it can be "already there": every object is sent again, and the last
// line does not claim objects the server no longer holds.
func TestWipedCollectionIsFilledAgainRadicale(t *testing.T) {
	realServer(t)
	r := testservers.StartRadicale(t, map[string]string{"alice": "wonderland"})
	archive := pimArchive(t, []pimObject{
		contact("c1", "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c1\r\nFN:One\r\nN:One;;;;\r\nEND:VCARD\r\n"),
		contact("c2", "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c2\r\nFN:Two\r\nN:Two;;;;\r\nEND:VCARD\r\n"),
		event("e1", "Meeting"),
	})
	opt := testRun{Options: Options{URL: r.URL, User: "alice", Password: "wonderland"}, StateDir: filepath.Join(t.TempDir(), "state")}
	ctx := context.Background()
	rep, err := importArchives(ctx, []string{archive}, opt)
	if err != nil || rep.Imported != 3 {
		t.Fatalf("first run: %v, %d imported; want 3", err, rep.Imported)
	}
	// Wipe the account's collections on the server: those the first run
	// created, as its notes name them.
	var cols []string
	for _, n := range rep.Notes {
		if _, at, ok := strings.Cut(n, " at "); ok && strings.HasPrefix(n, "created ") {
			cols = append(cols, at)
		}
	}
	if len(cols) != 2 {
		t.Fatalf("the first run created %d collections (%q); want 2", len(cols), rep.Notes)
	}
	for _, col := range cols {
		req, _ := http.NewRequest(http.MethodDelete, col, nil)
		req.SetBasicAuth("alice", "wonderland")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("DELETE %s: %s", col, resp.Status)
		}
	}
	rep, err = importArchives(ctx, []string{archive}, opt)
	if err != nil || rep.Imported != 3 || rep.Present != 0 {
		t.Fatalf("after the wipe: %v, %d imported, %d present; want all 3 sent again\n%s", err, rep.Imported, rep.Present, rep.Statement)
	}
	// The server holds the three objects again.
	g := getter{"alice", "wonderland"}
	var n int
	for _, col := range cols {
		code, _, body := g.get(t, col)
		if code != http.StatusOK {
			t.Errorf("%s: %d after the second run", col, code)
		}
		n += strings.Count(string(body), "BEGIN:VCARD") + strings.Count(string(body), "BEGIN:VEVENT")
	}
	if n != 3 {
		t.Errorf("the server holds %d objects after the second run; want 3", n)
	}
}
