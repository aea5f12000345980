package main

import (
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/journal"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

func TestDAVOptionsMapCollectionAndPlaintext(t *testing.T) {
	t.Setenv(passwordEnv, "pw")
	f := &importDAVFlags{url: "http://127.0.0.1:5232/", user: "u", schedule: "auto", bulk: "auto", allowPlaintext: true,
		mapCollection: []string{"Friends=/u/freunde/", "Work=Arbeit=2"}}
	opt, err := davOptions(f)
	if err != nil {
		t.Fatal(err)
	}
	if !opt.AllowPlaintext || opt.MapCollection["Friends"] != "/u/freunde/" || opt.MapCollection["Work"] != "Arbeit=2" || len(opt.MapCollection) != 2 {
		t.Errorf("options %+v", opt)
	}
	for _, bad := range [][]string{{"Friends"}, {"=x"}, {"Friends="}, {"A=x", "A=y"}} {
		f.mapCollection = bad
		if _, err := davOptions(f); err == nil || !strings.Contains(err.Error(), "--map-collection") {
			t.Errorf("--map-collection %q: error %v", bad, err)
		}
	}
}

// davBookArchive writes an archive of user's address books in dir, each
// with the cards (UIDs) given.
func davBookArchive(t *testing.T, dir, name, user string, books map[string][]string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := format.NewWriter(f, format.Manifest{User: user}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range slices.Sorted(maps.Keys(books)) {
		if err := w.AddFolder(format.Folder{Kind: format.FolderContacts, Path: b, DisplayName: b}); err != nil {
			t.Fatal(err)
		}
		for _, uid := range books[b] {
			card := "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nFN:Person " + uid + "\r\nN:" + uid + ";;;;\r\nEND:VCARD\r\n"
			if err := w.AddItem(format.Item{Kind: format.KindContact, Folder: b, UID: uid, SourceID: uid}, strings.NewReader(card)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestImportDAVJournalBesideArchive (review of issue 9, item 21): without
// --state, import dav keeps its journal beside the first archive, as
// import imap does. A book the first run put into Xandikos's default
// "addressbook" is found there by the next run from the same directory,
// even when a delta's first card of that book is new (so the target
// holds none of its first objects to recognise it by).
func TestImportDAVJournalBesideArchive(t *testing.T) {
	x := testservers.StartXandikos(t)
	dir := t.TempDir()
	one := davBookArchive(t, dir, "user.tgz", "user", map[string][]string{"work": {"w1", "w2", "w3", "w4"}})
	two := davBookArchive(t, dir, "user-delta.tgz", "user", map[string][]string{"work": {"w0", "w1", "w2", "w3", "w4"}, "private": {"p1", "p2"}})
	base := []string{"-q", "import", "dav", "--url", x.URL, "--user", "user", "--password-file", writePassword(t, "x")}
	if code, stdout, stderr := mailhaul(t, append(clone(base), one)...); code != 0 {
		t.Fatalf("first run: exit %d\n%s%s", code, stdout, stderr)
	}
	// Where the importer keeps it is the one journal layout, under the
	// command's default directory: both name it through the journal
	// package, so the next run finds it.
	xu, _ := url.Parse(x.URL)
	if _, err := os.Stat(journal.Path(journal.DefaultDir("", []string{one}), "user", "dav", xu.Host)); err != nil {
		t.Errorf("no journal beside the archive: %v", err)
	}
	code, stdout, stderr := mailhaul(t, append(clone(base), two)...)
	if code != 0 {
		t.Fatalf("second run: exit %d\n%s%s", code, stdout, stderr)
	}
	u, _ := url.Parse(x.URL + "user/contacts/")
	found := map[string]int{}
	for _, p := range []string{"addressbook", "work", "private"} {
		code, _, _ := httpGetStatus(t, u.ResolveReference(&url.URL{Path: p + "/w0.vcf"}).String(), "user", "x")
		if code == 200 {
			found[p]++
		}
		code, _, _ = httpGetStatus(t, u.ResolveReference(&url.URL{Path: p + "/"}).String(), "user", "x")
		if code == 200 && p == "work" {
			t.Errorf("a collection work/ was created beside the default address book")
		}
	}
	if found["addressbook"] != 1 {
		t.Errorf("the new card w0 of work is not in the default address book: %v", found)
	}

	// The dry run's plan is a value the command prints: as text, a line
	// per folder naming where it goes, from the same journal.
	base = append([]string{"import", "dav", "--url", x.URL, "--user", "user", "--password-file", writePassword(t, "x")}, "--dry-run", two)
	code, stdout, stderr = mailhaul(t, base...)
	want := `address book "work" -> existing ` + x.URL + "user/contacts/addressbook/: 0 to send (0 bytes), 5 already there; address book "
	if code != 0 || !strings.Contains(stdout, want) {
		t.Errorf("dry run: exit %d, output lacks %q:\n%s%s", code, want, stdout, stderr)
	}
}

func httpGetStatus(t *testing.T, u, user, pass string) (int, string, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Status, nil
}
