package dav

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/report"
)

// Tests of what the target holds (issue 9, items 1, 4 and 24): an object
// counts as present only when the target's object is that object, what
// the server stored is read back and compared, and --update settles.

// pimObject is one archive object of the content tests.
type pimObject struct {
	kind      format.Kind
	folder    string
	uid, body string
	sourceID  string // default: its position among the objects
}

// pimArchive writes an archive with the address books and calendars the
// objects name, in order.
func pimArchive(t *testing.T, objs []pimObject) string {
	t.Helper()
	var folders []format.Folder
	seen := map[string]bool{}
	for _, o := range objs {
		fk := format.FolderCalendar
		if o.kind == format.KindContact {
			fk = format.FolderContacts
		}
		if !seen[string(fk)+o.folder] {
			seen[string(fk)+o.folder] = true
			folders = append(folders, format.Folder{Kind: fk, Path: o.folder, DisplayName: o.folder})
		}
	}
	return writePIMArchive(t, folders, objs)
}

// writePIMArchive writes the folders, then the objects, into an archive of
// user u@example.org.
func writePIMArchive(t *testing.T, folders []format.Folder, objs []pimObject) string {
	t.Helper()
	return writePIMArchiveAs(t, "u.tgz", nil, folders, objs)
}

// writePIMArchiveAs is writePIMArchive with the archive's file name and
// writer options.
func writePIMArchiveAs(t *testing.T, name string, opts *format.WriterOptions, folders []format.Folder, objs []pimObject) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := format.NewWriter(f, format.Manifest{User: "u@example.org"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, fo := range folders {
		if err := w.AddFolder(fo); err != nil {
			t.Fatal(err)
		}
	}
	for i, o := range objs {
		id := o.sourceID
		if id == "" {
			id = fmt.Sprint(i)
		}
		it := format.Item{Kind: o.kind, Folder: o.folder, UID: o.uid, SourceID: id}
		if err := w.AddItem(it, strings.NewReader(o.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func contact(uid, body string) pimObject {
	return pimObject{kind: format.KindContact, folder: "People", uid: uid, body: body}
}

func event(uid, summary string) pimObject {
	return pimObject{kind: format.KindEvent, folder: "Work", uid: uid, body: "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
		"\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240301T100000Z\r\nDTEND:20240301T110000Z\r\nSUMMARY:" + summary + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"}
}

// putCounter counts the PUTs a run sends.
type putCounter struct {
	base http.RoundTripper
	puts atomic.Int32
}

func (p *putCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut {
		p.puts.Add(1)
	}
	return p.base.RoundTrip(r)
}

// realServers starts Radicale and Xandikos for a test that runs against
// both.
func realServers(t *testing.T) map[string]testRun {
	t.Helper()
	if testing.Short() {
		t.Skip("real server")
	}
	r := testservers.StartRadicale(t, map[string]string{"alice": "a"})
	x := testservers.StartXandikos(t)
	return map[string]testRun{
		"radicale": {Options: Options{URL: r.URL, User: "alice", Password: "a"}},
		"xandikos": {Options: Options{URL: x.URL, User: "anyone"}},
	}
}

func failureFor(rep *report.Report, uid string) (report.Failure, bool) {
	for _, f := range rep.Failures {
		if strings.Contains(f.Item, uid) {
			return f, true
		}
	}
	return report.Failure{}, false
}

// TestSameUIDOtherContent: two different contacts (and two different
// events) with one UID. The first is stored; the second is not "already
// present" but a failure naming the UID and what differs, on the first
// run and on re-runs with and without the journal. An identical copy
// is present.
func TestSameUIDOtherContent(t *testing.T) {
	t.Parallel()
	for name, opt := range realServers(t) {
		t.Run(name, func(t *testing.T) {
			ann := "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:dup-1\r\nFN:Ann Smith\r\nN:Smith;Ann;;;\r\nEND:VCARD\r\n"
			bob := "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:dup-1\r\nFN:Bob Jones\r\nN:Jones;Bob;;;\r\nEND:VCARD\r\n"
			archive := pimArchive(t, []pimObject{
				contact("dup-1", ann), contact("dup-1", bob), contact("dup-1", ann),
				event("ev-1", "Dentist"), event("ev-1", "Board meeting"),
			})
			state := t.TempDir()
			for run, st := range []string{state, state, ""} {
				o := opt
				o.StateDir = st
				o.Concurrency = 1
				rep := importOnce(t, archive, o)
				wantImported := 0
				if run == 0 {
					wantImported = 2
				}
				if rep.Imported != wantImported || rep.Present != 5-2-wantImported || rep.Failed != 2 {
					t.Errorf("run %d: imported/present/failed = %d/%d/%d, want %d/%d/2 (%+v)", run, rep.Imported, rep.Present, rep.Failed,
						wantImported, 3-wantImported, rep.Failures)
				}
				for uid, prop := range map[string]string{"dup-1": "FN", "ev-1": "SUMMARY"} {
					f, ok := failureFor(rep, uid)
					if !ok || !strings.Contains(f.Reason, "different content") || !strings.Contains(f.Reason, prop) {
						t.Errorf("run %d: %s: failure %+v; want one naming the different content (%s)", run, uid, f, prop)
					}
				}
				if !rep.Partial() {
					t.Errorf("run %d: the report is not partial", run)
				}
			}
		})
	}
}

// photo returns a base64 JPEG-like payload of n random bytes.
func photo(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	b[0], b[1] = 0xff, 0xd8
	return base64.StdEncoding.EncodeToString(b)
}

// TestDataURIPhotosRadicale: vCard 4.0 cards with data: URI photos. Radicale
// cuts such a value at its comma; the importer sends the comma escaped,
// which Radicale keeps, and every photo reads back whole.
func TestDataURIPhotosRadicale(t *testing.T) {
	realServer(t)
	r := testservers.StartRadicale(t, map[string]string{"alice": "a"})
	payloads := map[string]string{}
	var objs []pimObject
	for i := range 3 {
		uid := fmt.Sprintf("photo-%d", i)
		payloads[uid] = photo(t, 300+i*200)
		objs = append(objs, contact(uid, "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:"+uid+"\r\nFN:Person "+fmt.Sprint(i)+
			"\r\nPHOTO:data:image/jpeg;base64,"+payloads[uid]+"\r\nEND:VCARD\r\n"))
	}
	opt := testRun{Options: Options{URL: r.URL, User: "alice", Password: "a"}, StateDir: t.TempDir()}
	rep := importOnce(t, pimArchive(t, objs), opt)
	if rep.Imported != 3 || rep.Failed != 0 {
		t.Errorf("imported/failed = %d/%d, want 3/0 (%+v)", rep.Imported, rep.Failed, rep.Failures)
	}
	if !hasNote(rep, "data: URI") {
		t.Errorf("no note of the rewrite: %q", rep.Notes)
	}
	g := getter{"alice", "a"}
	for uid, want := range payloads {
		_, _, body := g.get(t, r.URL+"alice/people/"+uid+".vcf")
		got := strings.ReplaceAll(strings.ReplaceAll(string(body), "\r\n ", ""), "\n ", "")
		if !strings.Contains(got, want) {
			t.Errorf("%s: the stored card lacks its photo:\n%.300s", uid, got)
		}
	}
	// A re-run with --update sends nothing: what is stored is what the
	// archive holds.
	pc := &putCounter{base: http.DefaultTransport}
	opt.Update, opt.Transport = true, pc
	if rep := importOnce(t, pimArchive(t, objs), opt); rep.Present != 3 || pc.puts.Load() != 0 {
		t.Errorf("--update re-run: present %d, %d PUTs; want 3, 0 (%+v)", rep.Present, pc.puts.Load(), rep.Failures)
	}
}

// TestDamageReportedRadicale: Radicale keeps only the first of a vCard
// 4.0 card's NICKNAME values. No rewrite avoids that, so the card is a
// failure naming the property, not "imported".
func TestDamageReportedRadicale(t *testing.T) {
	realServer(t)
	r := testservers.StartRadicale(t, map[string]string{"alice": "a"})
	objs := []pimObject{
		contact("nick-1", "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:nick-1\r\nFN:Nick\r\nNICKNAME:Bobby,Rob\r\nEND:VCARD\r\n"),
		contact("fine-1", "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:fine-1\r\nFN:Fine\r\nNICKNAME:Al\r\nEND:VCARD\r\n"),
	}
	rep := importOnce(t, pimArchive(t, objs), testRun{Options: Options{URL: r.URL, User: "alice", Password: "a"}, StateDir: t.TempDir()})
	if rep.Imported != 1 || rep.Failed != 1 {
		t.Errorf("imported/failed = %d/%d, want 1/1 (%+v)", rep.Imported, rep.Failed, rep.Failures)
	}
	if f, ok := failureFor(rep, "nick-1"); !ok || !strings.Contains(f.Reason, "NICKNAME") {
		t.Errorf("failure %+v; want nick-1 naming NICKNAME", f)
	}
}

// TestUpdateSettles: --update twice in a row sends nothing the second
// time, although Radicale reorders parameters, merges and re-cases them
// and re-escapes values; the dry run predicts what the real run sends.
func TestUpdateSettles(t *testing.T) {
	t.Parallel()
	for name, opt := range realServers(t) {
		t.Run(name, func(t *testing.T) {
			card := func(uid, note string) pimObject {
				return contact(uid, "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:"+uid+"\r\nfn:Zoë "+uid+"\r\nn:"+uid+";Zoë\r\n"+
					"email;type=work;type=INTERNET;pref=1:"+uid+"@example.org\r\ntel;TYPE=\"cell,voice\":+1 555\r\n"+
					"item1.URL:http://example.org/"+uid+"\r\nADR;TYPE=home:;;1 Main St\\, Apt 2;Town;;;\r\nNOTE:"+note+"\r\nEND:VCARD\r\n")
			}
			var v1 []pimObject
			for i := range 6 {
				v1 = append(v1, card(fmt.Sprintf("set-%d", i), "line one\\nline two\\; semi"))
			}
			v1 = append(v1, event("set-ev", "Review\\, part 1"))
			opt.Concurrency = 1
			if rep := importOnce(t, pimArchive(t, v1), opt); rep.Imported != 7 || rep.Failed != 0 {
				t.Fatalf("first import: imported/failed %d/%d (%+v)", rep.Imported, rep.Failed, rep.Failures)
			}
			v2 := append([]pimObject{}, v1...)
			v2[2] = card("set-2", "changed")
			archive := pimArchive(t, v2)
			pc := &putCounter{base: http.DefaultTransport}
			o := opt
			o.Update, o.Transport = true, pc

			o.DryRun = true
			dry := importOnce(t, archive, o)
			if dry.WouldImport != 1 || dry.Present != 6 || pc.puts.Load() != 0 {
				t.Errorf("dry run: to send %d, present %d, PUTs %d; want 1, 6, 0", dry.WouldImport, dry.Present, pc.puts.Load())
			}
			o.DryRun = false
			for run := range 2 {
				pc.puts.Store(0)
				rep := importOnce(t, archive, o)
				want := int32(1 - run)
				if pc.puts.Load() != want || rep.Imported != int(want) || rep.Failed != 0 {
					t.Errorf("--update run %d: %d PUTs, imported %d, failed %d; want %d (%+v)", run, pc.puts.Load(), rep.Imported, rep.Failed, want, rep.Failures)
				}
			}
			o.DryRun = true
			if dry := importOnce(t, archive, o); dry.Imported != 0 || dry.Present != 7 {
				t.Errorf("dry run after the update: to send %d, present %d; want 0, 7", dry.Imported, dry.Present)
			}
		})
	}
}

// TestDryRunConflictRadicale: the dry run finds the UID held with other
// content, as the real run will.
func TestDryRunConflictRadicale(t *testing.T) {
	realServer(t)
	r := testservers.StartRadicale(t, map[string]string{"alice": "a"})
	opt := testRun{Options: Options{URL: r.URL, User: "alice", Password: "a"}}
	importOnce(t, pimArchive(t, []pimObject{event("ev-9", "Dentist")}), opt)
	rep, plan := dryRunPlan(t, pimArchive(t, []pimObject{event("ev-9", "Board meeting")}), opt)
	if f, ok := failureFor(rep, "ev-9"); !ok || !strings.Contains(f.Reason, "SUMMARY") || rep.Imported != 0 {
		t.Errorf("dry run: %+v (to send %d); want ev-9 as a failure naming SUMMARY", rep.Failures, rep.Imported)
	}
	if f, ok := planFolder(plan, "1 held there with other content"); !ok || f.Items != 0 || f.Present != 0 {
		t.Errorf("plan: %+v; want 0 to send, 0 already there, 1 held there with other content", plan.Folders)
	}
}

// TestRefusalNamesThePropertyRadicale: Radicale answers a card without FN
// with a bare "400 Bad Request" (the reason goes to its log only); the
// failure says what is wrong with the card.
func TestRefusalNamesThePropertyRadicale(t *testing.T) {
	realServer(t)
	r := testservers.StartRadicale(t, map[string]string{"alice": "a"})
	rep := importOnce(t, pimArchive(t, []pimObject{
		contact("nofn-1", "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:nofn-1\r\nN:Doe;Jane;;;\r\nEND:VCARD\r\n"),
	}), testRun{Options: Options{URL: r.URL, User: "alice", Password: "a"}})
	f, ok := failureFor(rep, "nofn-1")
	if !ok || !strings.Contains(f.Reason, "400 Bad Request") || !strings.Contains(f.Reason, "has no FN") {
		t.Errorf("failure %+v; want the server's 400 and the missing FN", f)
	}
}

// TestUIDElsewhereXandikos: Xandikos answers an event whose UID is stored
// under another name with a 207 holding a 412, without naming it. The
// importer finds the object by its UID and compares it: the same is
// present, another is a failure naming what differs. (Xandikos 0.2.8
// does not check vCard UIDs: a card is stored again under our name.)
func TestUIDElsewhereXandikos(t *testing.T) {
	realServer(t)
	x := testservers.StartXandikos(t)
	opt := testRun{Options: Options{URL: x.URL, User: "anyone", Concurrency: 1}}
	first := importOnce(t, pimArchive(t, []pimObject{event("seed-ev", "Seed")}), opt)
	// The note names the calendar the archive's "Work" went to (Xandikos's
	// default one, or one created).
	var cals string
	for _, n := range first.Notes {
		if !strings.Contains(n, `"Work"`) {
			continue
		}
		if _, after, ok := strings.Cut(n, " at "); ok {
			cals, _, _ = strings.Cut(after, " ")
		}
	}
	if !strings.HasPrefix(cals, "http") || !strings.HasSuffix(cals, "/") {
		t.Fatalf("no calendar named in the notes: %q", first.Notes)
	}
	same := event("same-ev", "Lunch")
	other := event("else-ev", "Dentist")
	put := func(url, ctype, body string) {
		req, _ := http.NewRequest(http.MethodPut, url, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("PUT %s: %s", url, resp.Status)
		}
	}
	put(cals+"someone-elses-name.ics", "text/calendar", same.body)
	put(cals+"someone-elses-other.ics", "text/calendar", other.body)

	rep := importOnce(t, pimArchive(t, []pimObject{same, event("else-ev", "Board meeting")}), opt)
	if rep.Present != 1 || rep.Failed != 1 || rep.Imported != 0 {
		t.Errorf("imported/present/failed = %d/%d/%d, want 0/1/1 (%+v)", rep.Imported, rep.Present, rep.Failed, rep.Failures)
	}
	if f, ok := failureFor(rep, "else-ev"); !ok || !strings.Contains(f.Reason, "SUMMARY") {
		t.Errorf("failure %+v; want else-ev naming SUMMARY", f)
	}
}

// putRecorder keeps the bodies of the PUTs a run sends.
type putRecorder struct {
	base   http.RoundTripper
	mu     sync.Mutex
	bodies []string
}

func (p *putRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut && r.GetBody != nil {
		if b, err := r.GetBody(); err == nil {
			data, _ := io.ReadAll(b)
			p.mu.Lock()
			p.bodies = append(p.bodies, string(data))
			p.mu.Unlock()
		}
	}
	return p.base.RoundTrip(r)
}

// TestRadicaleRewriteSpares21: a vCard 2.1 card that stays 2.1 (it holds a
// line that is not a property) is not given "\," for Radicale: in 2.1 a
// backslash escapes only a semicolon, so "\," would add a backslash.
func TestRadicaleRewriteSpares21(t *testing.T) {
	realServer(t)
	r := testservers.StartRadicale(t, map[string]string{"alice": "a"})
	rec := &putRecorder{base: http.DefaultTransport}
	importOnce(t, pimArchive(t, []pimObject{
		contact("v21-1", "BEGIN:VCARD\r\nVERSION:2.1\r\nUID:v21-1\r\nN:Doe;John\r\nFN:Doe, John\r\n# a comment line\r\nEND:VCARD\r\n"),
	}), testRun{Options: Options{URL: r.URL, User: "alice", Password: "a", Transport: rec}})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.bodies) == 0 {
		t.Fatal("nothing was sent")
	}
	for _, b := range rec.bodies {
		if strings.Contains(b, `\,`) || !strings.Contains(b, "FN:Doe, John") {
			t.Errorf("sent:\n%s\nwant the 2.1 card as the archive holds it", b)
		}
	}
}
