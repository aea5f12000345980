package main

import (
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/journal"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// stateLines reads an archive's state record, as "folder/sourceId".
func stateLines(t *testing.T, path string) []string {
	t.Helper()
	r, err := format.Open(path, &format.ReaderOptions{State: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []string
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.State == nil {
			continue
		}
		for s, err := range e.State {
			if err != nil {
				t.Fatal(err)
			}
			if s.ETag == "" {
				t.Errorf("state line %+v: no ETag", s)
			}
			out = append(out, s.Folder+"/"+s.SourceID)
		}
	}
	slices.Sort(out)
	return out
}

// export dav --since gives the state record (issue 13): after an object
// is deleted and another edited at the source, the delta's state lists
// exactly the objects that remain, by the sourceIds of the full export;
// and importing the full archive and then the delta with
// --apply-deletions into another account removes the deleted object
// and updates the edited one there.
func TestExportDAVSinceStateConverges(t *testing.T) {
	r, dir, _ := seededRadicale(t)
	// A second event beside the one deleted: its collection is not
	// emptied, so the deletion is told by the state's sourceIds.
	putDAV(t, r.URL+"alice/event-rrule-recuid/extra.ics", "alice", "wonder", deltaCalendar(deltaEvent("extra", "20200101T000000Z", "Extra")))
	pw := writePassword(t, "wonder")
	mustRun(t, "-q", "export", "dav", "--url", r.URL, "--user", "alice", "--password-file", pw, "--out", filepath.Join(dir, "full"))
	full := filepath.Join(dir, "full", "alice.tgz")
	first := readArchive(t, full)
	var gone, edited string
	for k := range first.items {
		switch {
		case strings.HasPrefix(k, "calendar/event-rrule-recuid/") && !strings.HasSuffix(k, "/extra"):
			gone = k
		case strings.HasPrefix(k, "contacts/v40-sip/"):
			edited = k
		}
	}
	if gone == "" || edited == "" {
		t.Fatalf("no event-rrule-recuid or v40-sip object in %v", slices.Sorted(maps.Keys(first.items)))
	}
	folderOf := func(k string) string { return strings.Split(k, "/")[1] }
	body := strings.Replace(string(first.items[edited]), "\nFN:", "\nFN:Edited ", 1)
	if body == string(first.items[edited]) {
		t.Fatalf("no FN line in %q", body)
	}
	putDAV(t, r.URL+"alice/"+folderOf(edited)+"/"+url.PathEscape(first.sourceIDs[edited]), "alice", "wonder", body)
	deleteDAV(t, r.URL+"alice/"+folderOf(gone)+"/"+url.PathEscape(first.sourceIDs[gone]), "alice", "wonder")
	mustRun(t, "-q", "export", "dav", "--url", r.URL, "--user", "alice", "--password-file", pw, "--out", filepath.Join(dir, "delta"), "--since", full)
	found, _ := filepath.Glob(filepath.Join(dir, "delta", "*.tgz"))
	if len(found) != 1 {
		t.Fatalf("delta archives %v", found)
	}
	var want []string
	for k, id := range first.sourceIDs {
		if k != gone {
			want = append(want, folderOf(k)+"/"+id)
		}
	}
	slices.Sort(want)
	if got := stateLines(t, found[0]); !slices.Equal(got, want) {
		t.Errorf("state %q; want %q", got, want)
	}
	delta := readArchive(t, found[0])
	if got := slices.Sorted(maps.Keys(delta.items)); !slices.Equal(got, []string{edited}) {
		t.Errorf("delta holds %v; want only the edited object", got)
	}

	// Into another account: the full archive, then the delta.
	target := testservers.StartRadicale(t, map[string]string{"bob": "builder"})
	state := t.TempDir()
	imp := []string{"-q", "import", "dav", "--url", target.URL, "--user", "bob", "--password-file", writePassword(t, "builder"),
		"--archive-user", "alice", "--state", state}
	mustRun(t, append(clone(imp), full)...)
	u, _ := url.Parse(target.URL)
	jpath := journal.Path(state, "bob", "dav", u.Host)
	uid := func(k string) string { return k[strings.LastIndex(k, "/")+1:] }
	holds := func(sub string) bool {
		for _, b := range davObjects(t, jpath, "bob", "builder") {
			if strings.Contains(b, sub) {
				return true
			}
		}
		return false
	}
	if !holds("UID:"+uid(gone)) || !holds("UID:extra") || holds("FN:Edited ") {
		t.Fatalf("after the full import: deleted object held %v, edit held %v", holds("UID:"+uid(gone)), holds("FN:Edited "))
	}
	mustRun(t, append(clone(imp), "--apply-deletions", found[0])...)
	if holds("UID:"+uid(gone)) || !holds("UID:extra") || !holds("FN:Edited ") {
		t.Errorf("after the delta: deleted object held %v (want gone), edit held %v (want it)", holds("UID:"+uid(gone)), holds("FN:Edited "))
	}
}

func deleteDAV(t *testing.T, u, user, pass string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, u, nil)
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("DELETE %s: %s", u, resp.Status)
	}
}
