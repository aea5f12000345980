package main

import (
	"bytes"
	"encoding/pem"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	davexport "github.com/mailhaul/mailhaul/export/dav"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/contentline"
	"github.com/mailhaul/mailhaul/internal/davfault"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// davFixtures are corpus files, contacts and calendars, that both Radicale
// and Xandikos store (importer/dav's corpus tests list what they damage).
var davFixtures = struct{ vcf, ics []string }{
	vcf: []string{"vcard/aosp/v40_sip.vcf", "vcard/aosp/v40_sort_as.vcf", "vcard/aosp/v21_complicated.vcf", "vcard/ez-vcard/John_Doe_EVOLUTION.vcf"},
	ics: []string{"ical/khal/event_rrule_recuid.ics", "ical/khal/cal_dt_two_tz.ics", "ical/khal/event_dt_floating.ics", "ical/python-icalendar/todos/example.ics"},
}

// archived is an archive read into memory: folders, and items by folder
// kind, folder path and UID.
type archived struct {
	user    string
	folders map[string]format.Folder // by kind and path
	items   map[string][]byte        // by folder kind, folder path and UID
	kinds   map[string]format.Kind
	// sourceIDs are the items' source ids, by the same key.
	sourceIDs map[string]string
	summary   *format.Summary
}

func readArchive(t *testing.T, path string) archived {
	t.Helper()
	r, err := format.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a := archived{user: r.Manifest().User, folders: map[string]format.Folder{}, items: map[string][]byte{}, kinds: map[string]format.Kind{}, sourceIDs: map[string]string{}}
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		switch {
		case e.Folder != nil:
			a.folders[string(e.Folder.Kind)+"/"+e.Folder.Path] = *e.Folder
		case e.Item != nil:
			b, err := io.ReadAll(e.Body)
			if err != nil {
				t.Fatal(err)
			}
			k := string(e.Item.Kind.FolderKind()) + "/" + e.Item.Folder + "/" + e.Item.UID
			if _, dup := a.items[k]; dup {
				t.Errorf("%s: %s twice", path, k)
			}
			a.items[k], a.kinds[k], a.sourceIDs[k] = b, e.Item.Kind, e.Item.SourceID
		case e.Summary != nil:
			a.summary = e.Summary
		}
	}
	return a
}

// uids are the UIDs of an archive's items of each kind, sorted.
func (a archived) uids() []string {
	var out []string
	for k, kind := range a.kinds {
		out = append(out, string(kind)+" "+k[strings.LastIndex(k, "/")+1:])
	}
	slices.Sort(out)
	return out
}

// fixtureArchive exports the fixtures (with an empty Maildir) as user
// into dir, through the command, and returns the archive.
func fixtureArchive(t *testing.T, dir, user string) string {
	t.Helper()
	md := emptyMaildir(t, filepath.Join(dir, "Maildir"))
	args := []string{"-q", "export", "maildir", "--src", md, "--user", user, "--out", filepath.Join(dir, "fixtures")}
	for _, p := range davFixtures.vcf {
		args = append(args, "--contacts", filepath.Join("..", "..", "testdata", "corpus", p))
	}
	for _, p := range davFixtures.ics {
		args = append(args, "--calendar", filepath.Join("..", "..", "testdata", "corpus", p))
	}
	mustRun(t, args...)
	return filepath.Join(dir, "fixtures", user+".tgz")
}

// davServer is one account on a real server, for a round trip; via,
// when set, is a proxy in front of it that exports go through.
type davServer struct{ url, user, pass, via string }

// exportURL is where the account is exported from.
func (s davServer) exportURL() string {
	if s.via != "" {
		return s.via
	}
	return s.url
}

// roundTrip imports the fixtures into a with import dav, exports a with
// export dav, imports that into b, exports b: the fixtures' objects are
// all in a's export, and b's export holds the same folders and objects as
// a's, byte for byte where bytesKept.
func roundTrip(t *testing.T, a, b davServer, bytesKept bool, extra ...string) (fixtures, fromA, fromB archived) {
	dir := t.TempDir()
	src := fixtureArchive(t, dir, "alice@example.org")
	fixtures = readArchive(t, src)
	mustRun(t, "-q", "import", "dav", "--url", a.url, "--user", a.user, "--password-file", writePassword(t, a.pass),
		"--archive-user", "alice@example.org", "--state", filepath.Join(dir, "stateA"), src)

	exportA := filepath.Join(dir, "a")
	mustRun(t, append([]string{"-q", "export", "dav", "--url", a.exportURL(), "--user", a.user, "--password-file", writePassword(t, a.pass),
		"--out", exportA, "--batch", "3"}, extra...)...)
	fromA = readArchive(t, filepath.Join(exportA, a.user+".tgz"))
	if !slices.Equal(fixtures.uids(), fromA.uids()) {
		t.Errorf("fixtures hold\n%v\nthe export of %s\n%v", fixtures.uids(), a.url, fromA.uids())
	}

	mustRun(t, "-q", "import", "dav", "--url", b.url, "--user", b.user, "--password-file", writePassword(t, b.pass),
		"--archive-user", a.user, "--state", filepath.Join(dir, "stateB"), filepath.Join(exportA, a.user+".tgz"))
	exportB := filepath.Join(dir, "b")
	mustRun(t, "-q", "export", "dav", "--url", b.exportURL(), "--user", b.user, "--password-file", writePassword(t, b.pass), "--out", exportB)
	fromB = readArchive(t, filepath.Join(exportB, b.user+".tgz"))

	if len(fromA.items) != len(fixtures.items) || len(fromB.items) != len(fromA.items) {
		t.Errorf("%d fixtures, %d objects exported from A, %d from B", len(fixtures.items), len(fromA.items), len(fromB.items))
	}
	for k, ab := range fromA.items {
		bb, ok := fromB.items[k]
		switch {
		case !ok:
			t.Errorf("%s: exported from A, missing from B", k)
		case bytesKept && !bytes.Equal(ab, bb):
			t.Errorf("%s: A holds\n%q\nB holds\n%q", k, ab, bb)
		case fromA.kinds[k] != fromB.kinds[k]:
			t.Errorf("%s: kind %s from A, %s from B", k, fromA.kinds[k], fromB.kinds[k])
		}
	}
	for k, fa := range fromA.folders {
		fb, ok := fromB.folders[k]
		if !ok || fa.DisplayName != fb.DisplayName || fa.Description != fb.Description {
			t.Errorf("folder %s: A %+v, B %+v", k, fa, fb)
		}
		if fa.SyncToken == "" || fb.SyncToken == "" {
			t.Errorf("folder %s: sync tokens %q, %q", k, fa.SyncToken, fb.SyncToken)
		}
	}
	return fixtures, fromA, fromB
}

// Radicale rewrites what it stores, each time the same way: what user A
// holds and what user B holds after the round trip are the same bytes.
func TestExportDAVRoundTripRadicale(t *testing.T) {
	r := testservers.StartRadicale(t, map[string]string{"alice": "wonder", "bob": "builder"})
	roundTrip(t, davServer{url: r.URL, user: "alice", pass: "wonder"}, davServer{url: r.URL, user: "bob", pass: "builder"}, true)
}

// Xandikos stores objects byte for byte; it has one principal, so A and B
// are two servers.
func TestExportDAVRoundTripXandikos(t *testing.T) {
	a, b := testservers.StartXandikos(t), testservers.StartXandikos(t)
	fixtures, fromA, _ := roundTrip(t, davServer{url: a.URL, user: "user", pass: "x"}, davServer{url: b.URL, user: "user", pass: "x"}, true)
	// Xandikos keeps a vCard's bytes and re-serialises iCalendar (order
	// of properties, CR LF): what import dav sent unchanged (all but the
	// vCard 2.1, which it converts) comes back with the same content
	// lines, a vCard with the same bytes.
	byUID := map[string][]byte{}
	for k, b := range fromA.items {
		byUID[k[strings.LastIndex(k, "/")+1:]] = b
	}
	for k, b := range fixtures.items {
		got := byUID[k[strings.LastIndex(k, "/")+1:]]
		switch {
		case bytes.Contains(b, []byte("VERSION:2.1")):
		case fixtures.kinds[k] == format.KindContact && !bytes.Equal(got, b):
			t.Errorf("%s: fixture\n%q\nexported\n%q", k, b, got)
		case !slices.Equal(contentLines(got), contentLines(b)):
			t.Errorf("%s: fixture lines\n%q\nexported\n%q", k, contentLines(b), contentLines(got))
		}
	}
}

// contentLines are an object's unfolded content lines, sorted: its
// content whatever the order and line ends a server writes.
func contentLines(b []byte) []string {
	l := contentline.Unfold(b)
	slices.Sort(l)
	return l
}

// The same round trip with both exports going through a proxy that
// throttles and cuts answers part way: the archives are the same.
func TestExportDAVRoundTripThroughFaults(t *testing.T) {
	r := testservers.StartRadicale(t, map[string]string{"alice": "wonder", "bob": "builder"})
	pa := davfault.Start(t, davfault.Options{Upstream: r.URL, ThrottleEvery: 4, CutEvery: 2, CutAfter: 900})
	pb := davfault.Start(t, davfault.Options{Upstream: r.URL, ThrottleEvery: 3, CutEvery: 3, CutAfter: 600})
	roundTrip(t, davServer{url: r.URL, user: "alice", pass: "wonder", via: pa.URL}, davServer{url: r.URL, user: "bob", pass: "builder", via: pb.URL}, true)
	for _, p := range []*davfault.Proxy{pa, pb} {
		if p.Throttled.Load() == 0 || p.Cuts.Load() == 0 {
			t.Errorf("proxy throttled %d, cut %d answers; want both", p.Throttled.Load(), p.Cuts.Load())
		}
	}
}

// An object the server cannot deliver is listed by collection and href in
// the report, the rest is exported, and the exit code is 3.
func TestExportDAVObjectFailsExit3(t *testing.T) {
	r, dir, src := seededRadicale(t)
	p := davfault.Start(t, davfault.Options{Upstream: r.URL, Fail: "floating1234567890"})
	code, stdout, stderr := mailhaul(t, "-q", "export", "dav", "--url", p.URL, "--user", "alice", "--password-file", writePassword(t, "wonder"),
		"--out", filepath.Join(dir, "out"))
	if code != exitPartial {
		t.Fatalf("exit %d; want 3\n%s%s", code, stdout, stderr)
	}
	got := readArchive(t, filepath.Join(dir, "out", "alice.tgz"))
	fixtures := readArchive(t, src)
	if len(got.items) != len(fixtures.items)-1 {
		t.Errorf("%d objects exported; want all %d but the one", len(got.items), len(fixtures.items))
	}
	if errs := got.summary.Errors; len(errs) != 1 || errs[0].Folder != "event-dt-floating" ||
		!strings.Contains(errs[0].Item, "/alice/event-dt-floating/") || !strings.Contains(errs[0].Reason, "500") {
		t.Errorf("errors %+v; want the object of event-dt-floating with the server's 500", errs)
	}
	if !strings.Contains(stdout+stderr, "floating1234567890") && !strings.Contains(stdout+stderr, "event-dt-floating") {
		t.Errorf("the output does not name the failed object:\n%s%s", stdout, stderr)
	}

	// A delta from that archive asks again for the object it missed
	// (its sync token covers it): exactly that object, exit 0.
	mustRun(t, "-q", "export", "dav", "--url", r.URL, "--user", "alice", "--password-file", writePassword(t, "wonder"),
		"--out", filepath.Join(dir, "delta"), "--since", filepath.Join(dir, "out", "alice.tgz"))
	found, _ := filepath.Glob(filepath.Join(dir, "delta", "*.tgz"))
	if len(found) != 1 {
		t.Fatalf("delta archives %v", found)
	}
	delta := readArchive(t, found[0])
	keys := slices.Collect(maps.Keys(delta.items))
	if len(keys) != 1 || !strings.HasPrefix(keys[0], "calendar/event-dt-floating/") || len(delta.summary.Errors) != 0 {
		t.Errorf("delta holds %v, errors %+v; want the object the full export missed", keys, delta.summary.Errors)
	}
}

// Credentials that stop working part way (the password changed during
// the run) end the export at the first 401 with exit 1, and the last line
// says why: no object is asked for again with them.
func TestExportDAVUnauthorizedExit1(t *testing.T) {
	r, dir, _ := seededRadicale(t)
	p := davfault.Start(t, davfault.Options{Upstream: r.URL, DenyMultigets: true})
	code, stdout, stderr := mailhaul(t, "export", "dav", "--url", p.URL, "--user", "alice", "--password-file", writePassword(t, "wonder"),
		"--out", filepath.Join(dir, "out"))
	lines := strings.Split(strings.TrimSpace(stdout+stderr), "\n")
	if last := lines[len(lines)-1]; code != exitAuth || !strings.Contains(last, "401") {
		t.Errorf("exit %d, last line %q; want %d (authentication) and the server's 401\n%s%s", code, last, exitAuth, stdout, stderr)
	}
	if n := p.Denied.Load(); n != 1 {
		t.Errorf("%d multigets answered 401; want the export to stop at the first", n)
	}
}

// export maildir --dav-url writes one archive holding the Maildir's mail
// and the DAV account's contacts and calendars.
func TestExportMaildirWithDAVSource(t *testing.T) {
	r, dir, src := seededRadicale(t)
	md := emptyMaildir(t, filepath.Join(dir, "Mail"))
	msg := "From: bob@example.org\r\nTo: alice@example.org\r\nSubject: hi\r\nMessage-ID: <1@example.org>\r\n\r\nhello\r\n"
	if err := os.WriteFile(filepath.Join(md, "cur", "1700000000.1.host:2,S"), []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	mustRun(t, "-q", "export", "maildir", "--src", md, "--user", "alice@example.org", "--out", out,
		"--dav-url", r.URL, "--dav-user", "alice", "--dav-password-file", writePassword(t, "wonder"))
	got := readArchive(t, filepath.Join(out, "alice@example.org.tgz"))
	fixtures := readArchive(t, src)
	c := got.summary.Counts
	if c.Messages != 1 || c.Contacts+c.Events+c.Tasks != len(fixtures.items) {
		t.Errorf("counts %+v; want the message and the %d objects", c, len(fixtures.items))
	}
	if _, ok := got.folders["mail/INBOX"]; !ok {
		t.Errorf("folders %v; want INBOX beside the collections", slices.Sorted(maps.Keys(got.folders)))
	}

	// export mbox takes the same flags.
	mbox := filepath.Join(dir, "inbox.mbox")
	if err := os.WriteFile(mbox, []byte("From bob@example.org Sat Jan  6 10:00:00 2024\n"+strings.ReplaceAll(msg, "\r\n", "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "-q", "export", "mbox", "--src", mbox, "--user", "alice@example.org", "--out", filepath.Join(dir, "mbox"),
		"--dav-carddav", r.URL+"alice/", "--dav-caldav", r.URL+"alice/", "--dav-user", "alice", "--dav-password-file", writePassword(t, "wonder"))
	got = readArchive(t, filepath.Join(dir, "mbox", "alice@example.org.tgz"))
	if c := got.summary.Counts; c.Messages != 1 || c.Contacts+c.Events+c.Tasks != len(fixtures.items) {
		t.Errorf("mbox: counts %+v; want the message and the %d objects", c, len(fixtures.items))
	}

	// Without a password file the DAV source is refused before anything
	// is written, naming its flag.
	code, _, stderr := mailhaul(t, "-q", "export", "maildir", "--src", md, "--user", "alice@example.org", "--out", filepath.Join(dir, "none"),
		"--dav-url", r.URL, "--dav-password-file", filepath.Join(dir, "missing"))
	if code != exitFailed || !strings.Contains(stderr, "--dav-password-file") {
		t.Errorf("exit %d, %s; want 1 naming --dav-password-file", code, stderr)
	}
}

// export maildir --dav-url --since takes the sync tokens its earlier
// archive recorded for the collections: a card added with an old REV,
// which the cutoff alone would drop, is in the delta.
func TestExportMaildirWithDAVSourceSince(t *testing.T) {
	r, dir, _ := seededRadicale(t)
	md := emptyMaildir(t, filepath.Join(dir, "Mail"))
	pw := writePassword(t, "wonder")
	run := func(out string, more ...string) {
		mustRun(t, append([]string{"-q", "export", "maildir", "--src", md, "--user", "alice@example.org", "--out", out,
			"--dav-url", r.URL, "--dav-user", "alice", "--dav-password-file", pw}, more...)...)
	}
	run(filepath.Join(dir, "full"))
	full := filepath.Join(dir, "full", "alice@example.org.tgz")
	card := "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:late\r\nFN:Late Comer\r\nN:Comer;Late;;;\r\nREV:20000101T000000Z\r\nEND:VCARD\r\n"
	hr, _ := http.NewRequest(http.MethodPut, r.URL+"alice/v40-sip/late.vcf", strings.NewReader(card))
	hr.SetBasicAuth("alice", "wonder")
	resp, err := http.DefaultClient.Do(hr)
	if err != nil || resp.StatusCode >= 300 {
		t.Fatalf("PUT: %v %v", err, resp)
	}
	resp.Body.Close()
	run(filepath.Join(dir, "delta"), "--since", full)
	found, _ := filepath.Glob(filepath.Join(dir, "delta", "*.tgz"))
	if len(found) != 1 {
		t.Fatalf("delta archives %v", found)
	}
	if got := slices.Sorted(maps.Keys(readArchive(t, found[0]).items)); !slices.Equal(got, []string{"contacts/v40-sip/late"}) {
		t.Errorf("delta holds %v; want only the new card, old REV and all", got)
	}
}

// emptyMaildir makes a Maildir with no messages at md.
func emptyMaildir(t *testing.T, md string) string {
	t.Helper()
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(md, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return md
}

// seededRadicale is a Radicale whose user alice (password "wonder") holds
// the fixtures, imported with import dav from the archive src in dir.
func seededRadicale(t *testing.T) (r *testservers.Radicale, dir, src string) {
	t.Helper()
	r = testservers.StartRadicale(t, map[string]string{"alice": "wonder"})
	dir = t.TempDir()
	src = fixtureArchive(t, dir, "alice@example.org")
	mustRun(t, "-q", "import", "dav", "--url", r.URL, "--user", "alice", "--password-file", writePassword(t, "wonder"),
		"--archive-user", "alice@example.org", "--state", filepath.Join(dir, "state"), src)
	return r, dir, src
}

// TLS is verified: a server whose certificate is not trusted fails at
// once, naming --tls-ca, and is exported once its CA is given; http://
// off loopback is refused before anything is sent.
func TestExportDAVTrust(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusMultiStatus)
		io.WriteString(w, `<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:cr="urn:ietf:params:xml:ns:carddav">`+
			`<d:response><d:href>/home/book/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><cr:addressbook/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>`)
	}))
	defer srv.Close()
	dir := t.TempDir()
	pw := writePassword(t, "pw")
	args := []string{"-q", "export", "dav", "--carddav", srv.URL + "/home/", "--user", "alice", "--password-file", pw, "--out", filepath.Join(dir, "out")}
	code, _, stderr := mailhaul(t, args...)
	if code != exitTLS || !strings.Contains(stderr, "--tls-ca") {
		t.Errorf("untrusted certificate: exit %d, %s; want %d (TLS) naming --tls-ca", code, stderr, exitTLS)
	}
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, append(args, "--tls-ca", ca)...)
	got := readArchive(t, filepath.Join(dir, "out", "alice.tgz"))
	if _, ok := got.folders["contacts/book"]; !ok {
		t.Errorf("folders %v; want book", got.folders)
	}

	code, _, stderr = mailhaul(t, "-q", "export", "dav", "--url", "http://dav.example.com/", "--user", "alice", "--password-file", pw, "--out", filepath.Join(dir, "plain"))
	if code != exitFailed || !strings.Contains(stderr, "in clear") {
		t.Errorf("http:// off loopback: exit %d, %s; want 1, refused", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "plain")); err == nil {
		t.Errorf("the refused export made its --out directory")
	}
}

// export dav --since an earlier export dav asks each collection for what
// changed since its sync token: a card added with an old REV is in the
// delta, unchanged objects are not, and a deleted one is counted.
func TestExportDAVSinceUsesSyncTokens(t *testing.T) {
	r, dir, _ := seededRadicale(t)
	pw := writePassword(t, "wonder")
	mustRun(t, "-q", "export", "dav", "--url", r.URL, "--user", "alice", "--password-file", pw, "--out", filepath.Join(dir, "full"))
	full := filepath.Join(dir, "full", "alice.tgz")
	first := readArchive(t, full)
	var gone string
	for k := range first.items {
		if strings.HasPrefix(k, "calendar/event-rrule-recuid/") {
			gone = k
		}
	}
	if gone == "" {
		t.Fatalf("no event-rrule-recuid object in %v", slices.Sorted(maps.Keys(first.items)))
	}
	card := "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:late\r\nFN:Late Comer\r\nN:Comer;Late;;;\r\nREV:20000101T000000Z\r\nEND:VCARD\r\n"
	for _, req := range []struct{ method, path, body string }{
		{http.MethodPut, "alice/v40-sip/late.vcf", card},
		{http.MethodDelete, "alice/event-rrule-recuid/" + first.sourceIDs[gone], ""},
	} {
		hr, _ := http.NewRequest(req.method, r.URL+req.path, strings.NewReader(req.body))
		hr.SetBasicAuth("alice", "wonder")
		resp, err := http.DefaultClient.Do(hr)
		if err != nil || resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %v %v", req.method, req.path, err, resp)
		}
		resp.Body.Close()
	}
	mustRun(t, "-q", "export", "dav", "--url", r.URL, "--user", "alice", "--password-file", pw, "--out", filepath.Join(dir, "delta"), "--since", full)
	found, _ := filepath.Glob(filepath.Join(dir, "delta", "*.tgz"))
	if len(found) != 1 {
		t.Fatalf("delta archives %v", found)
	}
	delta := readArchive(t, found[0])
	if got := slices.Sorted(maps.Keys(delta.items)); !slices.Equal(got, []string{"contacts/v40-sip/late"}) {
		t.Errorf("delta holds %v; want only the new card, old REV and all", got)
	}
	if n := delta.summary.Skipped[davexport.SkipDeleted]; n != 1 {
		t.Errorf("skipped %v; want the deleted event counted", delta.summary.Skipped)
	}
}
