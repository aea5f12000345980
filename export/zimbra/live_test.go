package zimbra_test

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/export/zimbra"
	"github.com/mailhaul/mailhaul/export/zimbra/metadata"
	"github.com/mailhaul/mailhaul/export/zimbra/soap"
	"github.com/mailhaul/mailhaul/export/zimbra/zimbratest"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/report"
)

var lday = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// liveMailbox: the system folders, a user folder with an empty one
// below it, and messages in Inbox, the user folder, Trash and Junk.
func liveMailbox() zimbratest.Mailbox {
	items := append(zimbratest.SystemFolders(),
		zimbratest.Item{ID: 257, Type: zimbratest.TypeFolder, Folder: "/", FolderID: 1, Name: "Projects", Date: lday},
		zimbratest.Item{ID: 258, Type: zimbratest.TypeFolder, Folder: "/Projects", FolderID: 257, Name: "Empty", Date: lday})
	for i, f := range []struct {
		path string
		id   int
	}{{"/Inbox", 2}, {"/Inbox", 2}, {"/Projects", 257}, {"/Trash", 3}, {"/Junk", 4}} {
		m := zimbratest.Message(300+i, f.path, f.id, fmt.Sprint("message ", i), lday.Add(time.Duration(i)*time.Hour))
		m.Blob = append(m.Blob, noise(300+i, 8000)...) // bytes gzip cannot shrink, to cut in
		items = append(items, m)
	}
	return zimbratest.Mailbox{Items: items}
}

// noise is n bytes of hex lines no compressor shrinks much, the same for
// the same seed.
func noise(seed, n int) []byte {
	r := rand.New(rand.NewPCG(uint64(seed), 1))
	var b []byte
	for len(b) < n {
		b = fmt.Appendf(b, "%016x%016x\r\n", r.Uint64(), r.Uint64())
	}
	return b
}

const liveUser = "ann@example.test"

// liveServer serves mb for liveUser, GetFolder counts raised by extra.
func liveServer(t *testing.T, mb zimbratest.Mailbox, o zimbratest.ServerOptions, extra map[int]int, tune ...func(*soap.Config)) (*zimbratest.Server, *soap.Client) {
	t.Helper()
	if o.Content == nil {
		o.Content = mb.Content
	}
	s := zimbratest.NewServer(t, o)
	s.AddAccount(zimbratest.Account{Name: liveUser, Folders: mb.Folders(extra), Items: mb.Items, Attrs: map[string][]string{
		"displayName": {"Ann Example"}, "zimbraMailAlias": {"a@example.test", "annie@example.test"},
		"zimbraMailQuota": {"1048576"}, "zimbraAccountStatus": {"active"}, "zimbraPrefTimeZoneId": {"Europe/Berlin"},
		"zimbraMailSieveScript":      {"require \"fileinto\";\nfileinto \"Projects\";\n"},
		"zimbraPrefOutOfOfficeReply": {"Away"}, "zimbraPrefOutOfOfficeReplyEnabled": {"TRUE"},
		"zimbraPrefMailForwardingAddress": {"x@example.org, y@example.org"}, "userPassword": {"{SSHA512}secret-hash"}}})
	cfg := soap.Config{URL: s.URL, Admin: "admin@example.test", RootCAs: s.RootCAs(),
		Password:          func() (string, error) { return "admin-secret", nil },
		MailURL:           func(string) string { return s.URL },
		RequestsPerSecond: -1,
		// Slow enough for the DoS filter's one-second window.
		Retry: retry.Loop{Attempts: 8, Backoff: retry.Policy{First: 300 * time.Millisecond, Max: 1200 * time.Millisecond}}}
	for _, f := range tune {
		f(&cfg)
	}
	c, err := soap.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func runLive(t *testing.T, c *soap.Client, out string, after string) (*report.Export, error) {
	t.Helper()
	return zimbra.RunLive(context.Background(), zimbra.LiveJob{Client: c,
		Job:   export.Job{User: liveUser, Path: "https://zimbra.example.test:7071", Out: out, After: after},
		Retry: retry.Loop{Attempts: 3, Backoff: retry.Policy{First: time.Millisecond, Max: 5 * time.Millisecond}}})
}

// readArchive is the archive's manifest, folders and message bodies by
// source id, read with the format reader.
func readArchive(t *testing.T, path string) (format.Manifest, map[string]format.Folder, map[string]string) {
	t.Helper()
	a, err := format.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	folders, bodies := map[string]format.Folder{}, map[string]string{}
	for {
		e, err := a.Next()
		if err == io.EOF {
			return a.Manifest(), folders, bodies
		}
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case e.Folder != nil:
			folders[e.Folder.Path] = *e.Folder
		case e.Item != nil:
			b, err := io.ReadAll(e.Body)
			if err != nil {
				t.Fatal(err)
			}
			bodies[e.Item.SourceID] = string(b)
		}
	}
}

// A stream that stalls mid-body (the connection open, nothing coming) is
// given up after the idle timeout and the user's export started again.
func TestLiveExportGivesUpStalledStream(t *testing.T) {
	mb := liveMailbox()
	s, c := liveServer(t, mb, zimbratest.ServerOptions{}, nil, func(cfg *soap.Config) { cfg.IdleTimeout = 300 * time.Millisecond })
	s.StallREST(6000)
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var retried []error
	rep, err := zimbra.RunLive(ctx, zimbra.LiveJob{Client: c,
		Job: export.Job{User: liveUser, Path: "https://zimbra.example.test:7071", Out: out},
		Retry: retry.Loop{Attempts: 3, Backoff: retry.Policy{First: time.Millisecond, Max: 5 * time.Millisecond},
			OnRetry: func(_ int, err error, _ time.Duration) { retried = append(retried, err) }}})
	if err != nil || rep.Status != "ok" {
		t.Fatalf("%v %+v", err, rep)
	}
	if len(retried) != 1 || !strings.Contains(retried[0].Error(), "nothing came for 300ms") {
		t.Errorf("restarts %v, want one for the stalled stream", retried)
	}
	if _, _, bodies := readArchive(t, filepath.Join(out, liveUser+".tgz")); len(bodies) != 5 {
		t.Errorf("%d messages, want 5", len(bodies))
	}
	if st := s.Stats(); st.REST != 4 {
		t.Errorf("REST %d, want 4: one stalled, then three", st.REST)
	}
}

// The live export is whole although the first stream is cut mid-way,
// the delegated token expires between exports, and the account record
// is in the manifest; no temporary file is left.
func TestLiveExportRestartsCutStream(t *testing.T) {
	mb := liveMailbox()
	var s *zimbratest.Server
	exports := 0
	s, c := liveServer(t, mb, zimbratest.ServerOptions{DelegateLifetime: time.Hour, Content: func(e zimbratest.Export, w io.Writer) error {
		exports++
		if exports == 2 {
			s.Advance(2 * time.Hour) // the user's token expires between two exports
		}
		return mb.Content(e, w)
	}}, nil)
	s.CutREST(6000) // the first export dies after 6,000 bytes
	out := t.TempDir()
	before := exporttest.Compressors()
	rep, err := runLive(t, c, out, "")
	exporttest.NoCompressorLeft(t, before) // the cut try's archive was aborted
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != "ok" {
		t.Fatalf("status %q: %+v", rep.Status, rep.Errors)
	}
	m, folders, bodies := readArchive(t, filepath.Join(out, liveUser+".tgz"))
	for _, it := range mb.Items {
		if it.Type == zimbratest.TypeMessage && bodies[fmt.Sprint("zimbra:", it.ID)] != string(it.Blob) {
			t.Errorf("message %d not in the archive byte for byte", it.ID)
		}
	}
	if len(bodies) != 5 {
		t.Errorf("%d messages, want 5", len(bodies))
	}
	for _, p := range []string{"INBOX", "Trash", "Junk", "Projects", "Projects/Empty", "Sent", "Drafts"} {
		if _, ok := folders[p]; !ok {
			t.Errorf("folder %q missing: %v", p, folders)
		}
	}
	a := m.Account
	if a == nil || a.DisplayName != "Ann Example" || len(a.Aliases) != 2 || a.QuotaBytes != 1048576 || a.Status != "active" ||
		a.TimeZone != "Europe/Berlin" || !strings.Contains(a.Sieve, "fileinto") || a.OutOfOffice == nil || !a.OutOfOffice.Enabled ||
		len(a.Forwarding) != 2 || a.PasswordHash != "" {
		t.Errorf("account record %+v", a)
	}
	st := s.Stats()
	if st.REST != 4 || st.SOAP["DelegateAuthRequest"] < 2 {
		t.Errorf("REST %d (want 4: one cut, then three), DelegateAuth %d (want a renewal)", st.REST, st.SOAP["DelegateAuthRequest"])
	}
	left, _ := filepath.Glob(filepath.Join(out, ".*tmp*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// A stream cut on every try fails the user's export after the bounded
// attempts, and no archive is left under the final name.
func TestLiveExportCutEveryTimeLeavesNoArchive(t *testing.T) {
	s, c := liveServer(t, liveMailbox(), zimbratest.ServerOptions{}, nil)
	s.CutREST(5000, 5000, 5000)
	out := t.TempDir()
	before := exporttest.Compressors()
	rep, err := runLive(t, c, out, "")
	exporttest.NoCompressorLeft(t, before)
	if err == nil || !strings.Contains(err.Error(), "broke") {
		t.Fatalf("err %v, want the broken stream", err)
	}
	if _, serr := os.Stat(filepath.Join(out, liveUser+".tgz")); serr == nil {
		t.Error("an archive is under the final name")
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".*tmp*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if rep == nil || rep.Stage != "export" || s.Stats().REST != 3 {
		t.Errorf("report %+v, REST %d (want 3 attempts)", rep, s.Stats().REST)
	}
}

// GetFolder counting more items than the exports held is an error
// naming the folder and the numbers; a DoS filter's refusals are waited
// out.
func TestLiveExportShortfallAndDoS(t *testing.T) {
	s, c := liveServer(t, liveMailbox(), zimbratest.ServerOptions{DoSLimit: 2}, map[int]int{2: 3})
	out := t.TempDir()
	rep, err := runLive(t, c, out, "")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != "partial" || len(rep.Errors) != 1 || rep.Errors[0].Folder != "INBOX" ||
		!strings.Contains(rep.Errors[0].Reason, "counts 5") || !strings.Contains(rep.Errors[0].Reason, "held 2: 3 missing") {
		t.Errorf("status %q errors %+v", rep.Status, rep.Errors)
	}
	if s.Stats().Refused == 0 {
		t.Error("the DoS filter refused nothing; the test proves nothing")
	}
}

// An unknown account fails at once, reported, not retried.
func TestLiveExportUnknownAccount(t *testing.T) {
	s, c := liveServer(t, liveMailbox(), zimbratest.ServerOptions{}, nil)
	out := t.TempDir()
	rep, err := zimbra.RunLive(context.Background(), zimbra.LiveJob{Client: c,
		Job: export.Job{User: "nobody@example.test", Path: s.URL, Out: out}})
	if err == nil || !strings.Contains(err.Error(), "NO_SUCH_ACCOUNT") || rep.Stage != "export" {
		t.Fatalf("err %v report %+v", err, rep)
	}
	if n := s.Stats().SOAP["GetAccountRequest"]; n != 1 {
		t.Errorf("GetAccount asked %d times", n)
	}
	if _, err := os.Stat(filepath.Join(out, "nobody@example.test.tgz.report.json")); err != nil {
		t.Errorf("no report: %v", err)
	}
}

// With a cutoff, each export asks for after:T-1000 and only newer items
// come; folders without new items are still made from the tree.
func TestLiveExportAfter(t *testing.T) {
	mb := liveMailbox()
	mb.Items = append(mb.Items, zimbratest.Item{ID: 259, Type: zimbratest.TypeFolder, Folder: "/", FolderID: 1, Name: "Friends", Date: lday})
	mb.Views, mb.Colors = map[int]string{259: "contact"}, map[int]int{259: 5}
	s, c := liveServer(t, mb, zimbratest.ServerOptions{}, nil)
	out := t.TempDir()
	cut := lday.Add(2 * time.Hour)
	rep, err := runLive(t, c, out, cut.Format(time.RFC3339))
	if err != nil || rep.Status != "ok" {
		t.Fatalf("err %v report %+v", err, rep)
	}
	for _, e := range s.Exports() {
		if want := soap.AfterQuery(cut); e.Folder == "/" && e.Query != "is:local "+want || e.Folder != "/" && e.Query != want || e.Start != "" {
			t.Errorf("export %s query=%q start=%s", e.Folder, e.Query, e.Start)
		}
	}
	_, folders, bodies := readArchive(t, rep.Archive)
	if len(bodies) != 3 || bodies["zimbra:301"] != "" {
		t.Errorf("delta holds %d messages", len(bodies))
	}
	if _, ok := folders["Projects/Empty"]; !ok {
		t.Errorf("empty folder missing in a delta: %v", folders)
	}
	// The tree says its view and colour: an address book, not mail.
	if f := folders["Friends"]; f.Kind != format.FolderContacts || f.Color != "#f66666" {
		t.Errorf("address book from the tree: %+v", f)
	}
}

// zmmailbox's output is read as the HTTPS export would be: a fake
// zmmailbox that prints a tgz the writer made, per getRestURL path.
func TestLiveExportZmmailbox(t *testing.T) {
	mb := liveMailbox()
	dir := t.TempDir()
	for name, folder := range map[string]string{"root": "/", "trash": "/Trash", "junk": "/Junk"} {
		f, _ := os.Create(filepath.Join(dir, name+".tgz"))
		e := zimbratest.Export{Folder: folder, FolderMeta: true, Trash: folder == "/Trash", Junk: folder == "/Junk"}
		if err := mb.Content(e, f); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	script := filepath.Join(dir, "zmmailbox")
	os.WriteFile(script, []byte(`#!/bin/sh
echo "$@" >> "`+dir+`/args"
[ "$1 $2 $3 $4 $5 $6" = "-z -m `+liveUser+` -t 0 getRestURL" ] || { echo "bad arguments: $*" >&2; exit 2; }
case "$7" in
"//?fmt=tgz") exec cat "`+dir+`/root.tgz" ;;
"/Trash?fmt=tgz") exec cat "`+dir+`/trash.tgz" ;;
"/Junk?fmt=tgz") exec cat "`+dir+`/junk.tgz" ;;
esac
echo "no such folder" >&2; exit 1
`), 0o700)
	out := t.TempDir()
	rep, err := zimbra.RunLive(context.Background(), zimbra.LiveJob{Zmmailbox: script,
		Job: export.Job{User: liveUser, Path: script, Out: out}})
	if err != nil || rep.Status != "ok" {
		t.Fatalf("err %v report %+v", err, rep)
	}
	_, folders, bodies := readArchive(t, rep.Archive)
	if len(bodies) != 5 || len(folders) < 7 {
		t.Errorf("%d messages, folders %v", len(bodies), folders)
	}
	// Without SOAP there are no counts to check the exports against:
	// the report says so, rather than implying they were checked.
	if !slices.ContainsFunc(rep.Warnings, func(p report.Problem) bool { return strings.Contains(p.Reason, "not checked") }) {
		t.Errorf("warnings %+v; want the folder counts said not checked", rep.Warnings)
	}
}

// Search folders and mountpoints are counted as not migrated, in a delta
// too, whose exports carry no folder records: the tree names them.
func TestLiveExportCountsSearchFoldersAndMountpoints(t *testing.T) {
	mb := liveMailbox()
	mb.Items = append(mb.Items,
		zimbratest.Item{ID: 270, Type: zimbratest.TypeSearchFolder, Folder: "/", FolderID: 1, Name: "Unread", Date: lday},
		zimbratest.Item{ID: 271, Type: zimbratest.TypeMountpoint, Folder: "/", FolderID: 1, Name: "Shared", Date: lday},
		zimbratest.Item{ID: 272, Type: zimbratest.TypeSearchFolder, Folder: "/Projects", FolderID: 257, Name: "Big", Date: lday})
	_, c := liveServer(t, mb, zimbratest.ServerOptions{}, nil)
	for _, after := range []string{"", lday.Add(2 * time.Hour).Format(time.RFC3339)} {
		rep, err := runLive(t, c, t.TempDir(), after)
		if err != nil || rep.Status != "ok" {
			t.Fatalf("after %q: err %v report %+v", after, err, rep)
		}
		if n, m := rep.Skipped["Zimbra search folder: not migrated"], rep.Skipped["Zimbra mountpoint: not migrated"]; n != 2 || m != 1 {
			t.Errorf("after %q: %d search folders and %d mountpoints counted, want 2 and 1: %v", after, n, m, rep.Skipped)
		}
	}
}

// A delta carries an appointment entered after the cutoff whose first
// instance lies before it (a past meeting entered afterwards), and a
// task: Zimbra's start= would select appointments by their first
// instance (appt-start:>=), so the cutoff goes into the query instead,
// which selects every type by the item's date.
func TestLiveExportDeltaKeepsAppointments(t *testing.T) {
	mb := liveMailbox()
	cut := lday.Add(2 * time.Hour)
	past := zimbratest.Calendar(zimbratest.TypeAppointment, 400, "/Calendar", 10, "Entered late", "late-1", cut.Add(time.Hour),
		metadata.Map{"u": "late-1", "st": "20240501T090000Z", "et": "20240501T100000Z", "n": "Entered late", "dts": int64(1714554000000)})
	past.ApptStart = cut.AddDate(0, 0, -5)
	task := zimbratest.Calendar(zimbratest.TypeTask, 401, "/Tasks", 15, "New task", "task-1", cut.Add(time.Minute),
		metadata.Map{"u": "task-1", "st": "20240510T090000Z", "n": "New task", "dts": int64(1714554000000)})
	old := zimbratest.Calendar(zimbratest.TypeAppointment, 402, "/Calendar", 10, "Old series", "old-1", lday,
		metadata.Map{"u": "old-1", "st": "20240601T090000Z", "et": "20240601T100000Z", "n": "Old series", "dts": int64(1714554000000)})
	old.ApptStart = cut.AddDate(0, 1, 0)
	mb.Items = append(mb.Items, past, task, old)
	s, c := liveServer(t, mb, zimbratest.ServerOptions{}, nil)
	out := t.TempDir()
	rep, err := runLive(t, c, out, cut.Format(time.RFC3339))
	if err != nil || rep.Status != "ok" {
		t.Fatalf("err %v report %+v", err, rep)
	}
	for _, e := range s.Exports() {
		if e.Start != "" || !strings.HasSuffix(e.Query, fmt.Sprint("after:", cut.UnixMilli()-1000)) {
			t.Errorf("export %s: start=%q query=%q", e.Folder, e.Start, e.Query)
		}
	}
	_, _, bodies := readArchive(t, rep.Archive)
	if !strings.Contains(bodies["zimbra:400"], "late-1") || !strings.Contains(bodies["zimbra:401"], "task-1") {
		t.Errorf("the delta lacks the appointment or the task entered after the cutoff: %v", slices.Sorted(maps.Keys(bodies)))
	}
	if _, ok := bodies["zimbra:402"]; ok {
		t.Errorf("the delta holds the appointment entered before the cutoff")
	}
}

// Through the admin port an admin token acts on the account, and Zimbra
// qualifies the tree's ids with the account's zimbraId ("<id>:2"): the
// counts are still matched to the export's folders, so a complete
// mailbox is complete.
func TestLiveExportViaAdminPortQualifiedIDs(t *testing.T) {
	mb := liveMailbox()
	_, c := liveServer(t, mb, zimbratest.ServerOptions{}, nil, func(cfg *soap.Config) { cfg.ViaAdminPort = true })
	rep, err := runLive(t, c, t.TempDir(), "")
	if err != nil || rep.Status != "ok" || rep.Failed != 0 {
		t.Fatalf("err %v status %s errors %+v", err, rep.Status, rep.Errors)
	}
	_, folders, bodies := readArchive(t, rep.Archive)
	if len(bodies) != 5 || folders["Projects/Empty"].Path == "" {
		t.Errorf("%d messages, folders %v", len(bodies), slices.Sorted(maps.Keys(folders)))
	}
}

// A stream that ends cleanly mid-archive (mailboxd died behind nginx,
// which closed its reply normally) is a broken transfer, not damage:
// the user's export starts again and ends complete; when it ends so on
// every try, the user fails, rather than being partial with two items.
func TestLiveExportCleanlyEndedStream(t *testing.T) {
	s, c := liveServer(t, liveMailbox(), zimbratest.ServerOptions{}, nil)
	s.EndREST(9000)
	rep, err := runLive(t, c, t.TempDir(), "")
	if err != nil || rep.Status != "ok" || s.Stats().REST != 4 {
		t.Fatalf("err %v, report %+v, REST %d (want 4: one cut, then three)", err, rep, s.Stats().REST)
	}
	if _, _, bodies := readArchive(t, rep.Archive); len(bodies) != 5 {
		t.Errorf("%d messages, want 5", len(bodies))
	}
	s.EndREST(9000, 9000, 9000)
	out := t.TempDir()
	rep, err = runLive(t, c, out, "")
	if err == nil || !strings.Contains(err.Error(), "ended before") {
		t.Fatalf("err %v, report %+v; want the user failed by the cut stream", err, rep)
	}
	if _, serr := os.Stat(filepath.Join(out, liveUser+".tgz")); serr == nil {
		t.Error("an archive is under the final name")
	}
}

// zmmailbox is a shell wrapper (often under sudo): a child of it that
// stalls with the output open is ended with the whole process group,
// when nothing came for the idle timeout (the user's export then starts
// again, and fails when every try stalls), and when the run is
// cancelled; neither waits for the child.
func TestLiveExportZmmailboxStalls(t *testing.T) {
	script, _ := fakeZmmailbox(t, "head -c 3000 \"$DIR/root.tgz\"\nsleep 30")
	run := func(ctx context.Context, idle time.Duration) (time.Duration, error) {
		start := time.Now()
		_, err := zimbra.RunLive(ctx, zimbra.LiveJob{Zmmailbox: script, IdleTimeout: idle,
			Job:   export.Job{User: liveUser, Path: script, Out: t.TempDir()},
			Retry: retry.Loop{Attempts: 2, Backoff: retry.Policy{First: time.Millisecond, Max: time.Millisecond}}})
		return time.Since(start), err
	}
	took, err := run(context.Background(), 500*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "sent nothing") || took > 15*time.Second {
		t.Errorf("stalled zmmailbox: %v after %s; want the idle timeout, twice", err, took)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	took, err = run(ctx, time.Minute)
	if err == nil || took > 15*time.Second {
		t.Errorf("cancelled: %v after %s; want the run ended without waiting for sleep 30", err, took)
	}
}

// zmmailbox's first byte waits for Zimbra's search of the mailbox, as an
// HTTPS export's headers do: it gets the header timeout, not the idle
// timeout, which counts only once output has begun.
func TestLiveExportZmmailboxSlowStart(t *testing.T) {
	script, _ := fakeZmmailbox(t, "sleep 1.5\ncase \"$7\" in //*) exec cat \"$DIR/root.tgz\" ;; esac")
	rep, err := zimbra.RunLive(context.Background(), zimbra.LiveJob{Zmmailbox: script, IdleTimeout: 300 * time.Millisecond,
		HeaderTimeout: 20 * time.Second, Job: export.Job{User: liveUser, Path: script, Out: t.TempDir()},
		Retry: retry.Loop{Attempts: 1}})
	if err != nil || rep.Status != "ok" {
		t.Fatalf("err %v, report %+v; want the slow start waited for", err, rep)
	}
}

// An item purged from Trash between GetFolderRequest and the export of
// /Trash (Zimbra's own trash lifetime, or the user) is not a shortfall:
// the counts are read again after the exports and the smaller is used.
// A shortfall in both counts is still reported.
func TestLiveExportCountsReadAgain(t *testing.T) {
	mb := liveMailbox()
	var s *zimbratest.Server
	s, c := liveServer(t, mb, zimbratest.ServerOptions{Content: func(e zimbratest.Export, w io.Writer) error {
		if e.Folder == "/" {
			purged := zimbratest.Mailbox{Items: slices.DeleteFunc(slices.Clone(mb.Items), func(it zimbratest.Item) bool { return it.ID == 303 })}
			s.SetFolders(liveUser, purged.Folders(map[int]int{257: 1}))
			mb = purged
		}
		return mb.Content(e, w)
	}}, map[int]int{257: 1})
	rep, err := runLive(t, c, t.TempDir(), "")
	if err != nil || rep.Status != "partial" || rep.Failed != 1 || !strings.Contains(rep.Errors[0].Item, "/Projects") {
		t.Fatalf("err %v status %s errors %+v; want only the shortfall in /Projects", err, rep.Status, rep.Errors)
	}
}

// zmmailbox that exits 0 after a short copy gave a cut archive: the
// user's export is tried again, and fails when every try is cut, rather
// than ending partial with the items before the cut.
func TestLiveExportZmmailboxCutExitZero(t *testing.T) {
	script, dir := fakeZmmailbox(t, "echo run >> \"$DIR/runs\"\nhead -c 9000 \"$DIR/root.tgz\"\nexit 0")
	out := t.TempDir()
	rep, err := zimbra.RunLive(context.Background(), zimbra.LiveJob{Zmmailbox: script,
		Job:   export.Job{User: liveUser, Path: script, Out: out},
		Retry: retry.Loop{Attempts: 3, Backoff: retry.Policy{First: time.Millisecond, Max: time.Millisecond}}})
	runs, _ := os.ReadFile(filepath.Join(dir, "runs"))
	if err == nil || !strings.Contains(err.Error(), "ended before the archive did") || strings.Count(string(runs), "run") != 3 {
		t.Errorf("err %v, report %+v, %d runs; want the user failed after 3", err, rep, strings.Count(string(runs), "run"))
	}
	if _, serr := os.Stat(filepath.Join(out, liveUser+".tgz")); serr == nil {
		t.Error("an archive is under the final name")
	}
}

// fakeZmmailbox writes a zmmailbox script running body, with $DIR its
// directory, which holds root.tgz, liveMailbox's root export.
func fakeZmmailbox(t *testing.T, body string) (script, dir string) {
	dir = t.TempDir()
	f, err := os.Create(filepath.Join(dir, "root.tgz"))
	if err != nil {
		t.Fatal(err)
	}
	liveMailbox().Content(zimbratest.Export{Folder: "/", FolderMeta: true}, f)
	f.Close()
	script = filepath.Join(dir, "zmmailbox")
	os.WriteFile(script, []byte("#!/bin/sh\nDIR=\""+dir+"\"\n"+body+"\n"), 0o700)
	return script, dir
}
