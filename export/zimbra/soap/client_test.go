package soap_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export/zimbra/soap"
	"github.com/mailhaul/mailhaul/export/zimbra/zimbratest"
	"github.com/mailhaul/mailhaul/internal/retry"
)

// item is one mailbox item the fake's content provider exports.
type item struct {
	folder string
	date   time.Time
}

// lines writes one "folder unix-seconds" line per item e includes.
func lines(items []item) zimbratest.ContentFunc {
	return func(e zimbratest.Export, w io.Writer) error {
		for _, it := range items {
			if e.Includes(it.folder, it.date) {
				if _, err := fmt.Fprintf(w, "%s %d\n", it.folder, it.date.Unix()); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

// logs collects log lines.
type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) Logf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *logs) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// pair starts a fake Zimbra with o and a client for it; cfg's zero
// fields are filled for the test (no pacing, fast retries).
func pair(t *testing.T, o zimbratest.ServerOptions, cfg soap.Config) (*zimbratest.Server, *soap.Client) {
	t.Helper()
	s := zimbratest.NewServer(t, o)
	cfg.URL = s.URL
	if cfg.Admin == "" {
		cfg.Admin = "admin@example.test"
	}
	if cfg.Password == nil {
		cfg.Password = func() (string, error) { return "admin-secret", nil }
	}
	cfg.RootCAs = s.RootCAs()
	cfg.MailURL = func(host string) string {
		if host == "mbox1.example.test" {
			return s.URL
		}
		return "https://" + host + ".invalid"
	}
	if cfg.Retry.Attempts == 0 {
		cfg.Retry = retry.Loop{Attempts: 4, Backoff: retry.Policy{First: time.Millisecond, Max: 10 * time.Millisecond}}
	}
	if cfg.RequestsPerSecond == 0 {
		cfg.RequestsPerSecond = -1
	}
	c, err := soap.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func readAll(t *testing.T, st *soap.Stream) string {
	t.Helper()
	defer st.Close()
	b, err := io.ReadAll(st)
	if err != nil {
		t.Fatalf("read the export: %v", err)
	}
	return string(b)
}

func TestAccountFacts(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	os.WriteFile(pwFile, []byte("admin-secret\r\n"), 0o600)
	s, c := pair(t, zimbratest.ServerOptions{}, soap.Config{Password: soap.PasswordFile(pwFile)})
	s.AddAccount(zimbratest.Account{Name: "ann@example.test", MailboxSize: 4096, Attrs: map[string][]string{
		"displayName": {"Ann Example"}, "zimbraMailAlias": {"a@example.test", "annie@example.test"},
		"zimbraMailSieveScript": {"require [\"fileinto\"];\nfileinto \"x\";"}, "userPassword": {"{SSHA512}abc"}, "zimbraNotAsked": {"x"}}})
	ctx := context.Background()
	a, err := c.GetAccount(ctx, "ann@example.test", false)
	if err != nil {
		t.Fatal(err)
	}
	if a.Attr("displayName") != "Ann Example" || len(a.Attrs["zimbraMailAlias"]) != 2 || a.MailHost() != "mbox1.example.test" ||
		!strings.Contains(a.Attr("zimbraMailSieveScript"), "fileinto") || a.ID == "" || a.Attrs["zimbraNotAsked"] != nil || a.PasswordHash != "" {
		t.Errorf("account %+v", a)
	}
	// Over SOAP Zimbra blocks the hash even when asked: none is made up.
	if a, err := c.GetAccount(ctx, "ann@example.test", true); err != nil || a.PasswordHash != "" || a.Attrs["userPassword"] != nil {
		t.Errorf("with the hash asked: %+v, %v; want no hash (VALUE-BLOCKED)", a, err)
	}
	if n, err := c.MailboxSize(ctx, a.ID); err != nil || n != 4096 {
		t.Errorf("MailboxSize = %d, %v; want 4096", n, err)
	}
	_, err = c.GetAccount(ctx, "nobody@example.test", false)
	var f *soap.Fault
	if !errors.As(err, &f) || f.Code != "account.NO_SUCH_ACCOUNT" || !strings.Contains(err.Error(), "nobody@example.test") {
		t.Errorf("unknown account: %v; want a fault account.NO_SUCH_ACCOUNT naming it", err)
	}
	if st := s.Stats(); st.SOAP["AuthRequest"] != 1 {
		t.Errorf("%d logins, want one token for all calls", st.SOAP["AuthRequest"])
	}
}

// A delegated token is renewed before it expires by the client's clock,
// and again when the server says it expired (its clock ran ahead); the
// REST export renews it on a 401; the admin logs in again when its own
// token expired.
func TestTokenRenewal(t *testing.T) {
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	s, c := pair(t, zimbratest.ServerOptions{Content: lines([]item{{"/Inbox", time.Unix(1e9, 0)}})}, soap.Config{Now: now})
	s.AddAccount(zimbratest.Account{Name: "ann@example.test"})
	ctx := context.Background()
	a, err := c.GetAccount(ctx, "ann@example.test", false)
	if err != nil {
		t.Fatal(err)
	}
	delegations := func() int { return s.Stats().SOAP["DelegateAuthRequest"] }
	if _, err := c.Folders(ctx, a); err != nil || delegations() != 1 {
		t.Fatalf("first GetFolder: %v, %d delegations", err, delegations())
	}
	advance(50 * time.Minute)
	if _, err := c.Folders(ctx, a); err != nil || delegations() != 1 {
		t.Errorf("50 minutes into an hour's token: %v, %d delegations; want the token reused", err, delegations())
	}
	advance(6 * time.Minute) // within the last 5 minutes
	if _, err := c.Folders(ctx, a); err != nil || delegations() != 2 {
		t.Errorf("4 minutes before expiry: %v, %d delegations; want a new token", err, delegations())
	}
	s.Advance(2 * time.Hour) // the server's clock: the client's token is dead there
	if _, err := c.Folders(ctx, a); err != nil || delegations() != 3 {
		t.Errorf("after service.AUTH_EXPIRED: %v, %d delegations; want one renewal", err, delegations())
	}
	s.Advance(2 * time.Hour)
	st, err := c.Export(ctx, a, soap.Export{})
	if err != nil || delegations() != 4 {
		t.Fatalf("REST after expiry: %v, %d delegations; want the 401 cured by one renewal", err, delegations())
	}
	if got := readAll(t, st); got != fmt.Sprintf("/Inbox %d\n", int64(1e9)) {
		t.Errorf("export %q", got)
	}
	s.Advance(13 * time.Hour) // the admin token too
	if _, err := c.GetAccount(ctx, "ann@example.test", false); err != nil || s.Stats().SOAP["AuthRequest"] != 2 {
		t.Errorf("after the admin token expired: %v, %d logins; want a second login", err, s.Stats().SOAP["AuthRequest"])
	}
}

// More than Zimbra's 5,000 accounts are listed page by page, none twice.
func TestAccountsPagePast5000(t *testing.T) {
	s, c := pair(t, zimbratest.ServerOptions{}, soap.Config{PageSize: 1000})
	const n = 5200
	for i := range n {
		s.AddAccount(zimbratest.Account{Name: fmt.Sprintf("user%05d@example.test", i), Folders: []*zimbratest.Folder{}})
	}
	var names []string
	err := c.Accounts(context.Background(), soap.Search{}, func(a soap.Account) error {
		if a.MailHost() == "" || a.ID == "" {
			return fmt.Errorf("account %s without zimbraMailHost or id", a.Name)
		}
		names = append(names, a.Name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != n || !sort.StringsAreSorted(names) || names[0] != "user00000@example.test" || names[n-1] != "user05199@example.test" {
		t.Errorf("%d accounts listed, want %d in order", len(names), n)
	}
	if p := s.Stats().SOAP["SearchDirectoryRequest"]; p != 6 {
		t.Errorf("%d pages, want 6 of 1000", p)
	}
}

func TestFolders(t *testing.T) {
	s, c := pair(t, zimbratest.ServerOptions{}, soap.Config{})
	s.AddAccount(zimbratest.Account{Name: "ann@example.test", Folders: []*zimbratest.Folder{
		{ID: 2, Name: "Inbox", View: "message", N: 3, S: 300, Unread: 1, Color: 1, Sub: []*zimbratest.Folder{{ID: 257, Name: "Sub", View: "message", N: 1, S: 10, RGB: "#123456"}}},
		{ID: 3, Name: "Trash", N: 2},
		{ID: 258, Name: "Shared", View: "appointment", Link: &zimbratest.Link{Owner: "bob@example.test", ZID: "zid-b", RID: 10}},
		{ID: 259, Name: "Unread", Query: "is:unread"},
		{ID: 260, Name: "Empty", View: "contact"},
	}})
	ctx := context.Background()
	a, _ := c.GetAccount(ctx, "ann@example.test", false)
	root, err := c.Folders(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	root.Walk(func(f *soap.Folder) error {
		got = append(got, fmt.Sprintf("%s %s id=%s l=%s view=%s rgb=%s n=%d s=%d u=%d owner=%s rid=%s q=%s",
			f.Kind, f.Path, f.ID, f.Parent, f.View, f.RGB, f.Items, f.Size, f.Unread, f.Owner, f.RemoteID, f.Query))
		return nil
	})
	want := []string{
		"folder / id=1 l=11 view= rgb= n=0 s=0 u=0 owner= rid= q=",
		"folder /Inbox id=2 l=1 view=message rgb=#5b9bf2 n=3 s=300 u=1 owner= rid= q=",
		"folder /Inbox/Sub id=257 l=2 view=message rgb=#123456 n=1 s=10 u=0 owner= rid= q=",
		"folder /Trash id=3 l=1 view= rgb= n=2 s=0 u=0 owner= rid= q=",
		"folder /Empty id=260 l=1 view=contact rgb= n=0 s=0 u=0 owner= rid= q=",
		"mountpoint /Shared id=258 l=1 view=appointment rgb= n=0 s=0 u=0 owner=bob@example.test rid=10 q=",
		"search folder /Unread id=259 l=1 view= rgb= n=0 s=0 u=0 owner= rid= q=is:unread",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("tree:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// An account without a mailbox server, or one on a server reached in
	// clear, is refused before any token is asked for.
	if _, err := c.Folders(ctx, soap.Account{Name: "x@example.test"}); err == nil || !strings.Contains(err.Error(), "zimbraMailHost") {
		t.Errorf("no mail host: %v", err)
	}
	clear, _ := soap.New(soap.Config{URL: s.URL, Password: func() (string, error) { return "", nil },
		MailURL: func(h string) string { return "http://" + h }})
	if _, err := clear.Export(ctx, a, soap.Export{}); err == nil || !strings.Contains(err.Error(), "in clear") {
		t.Errorf("http:// mail server: %v; want a refusal", err)
	}
	if n := s.Stats().SOAP["DelegateAuthRequest"]; n != 1 {
		t.Errorf("%d delegations, want only the first client's", n)
	}
}

// Plan's three exports hold every item, Trash and Junk included; a
// cutoff T keeps an item received at T and drops one a second earlier.
func TestExportPlanAndDelta(t *testing.T) {
	T := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	items := []item{{"/Inbox", T.Add(-time.Second)}, {"/Inbox", T}, {"/Inbox/Sub", T.Add(time.Hour)},
		{"/Trash", T}, {"/Junk", T.Add(-time.Hour)}, {"/Sent", T.Add(time.Minute)}}
	s, c := pair(t, zimbratest.ServerOptions{Content: lines(items)}, soap.Config{})
	s.AddAccount(zimbratest.Account{Name: "ann@example.test"})
	ctx := context.Background()
	a, _ := c.GetAccount(ctx, "ann@example.test", false)
	export := func(after time.Time) []string {
		var got []string
		for _, e := range soap.Plan(after) {
			st, err := c.Export(ctx, a, e)
			if err != nil {
				t.Fatal(err)
			}
			if st.Empty {
				got = append(got, e.Folder+":empty")
				continue
			}
			got = append(got, strings.Fields(readAll(t, st))...)
		}
		return got
	}
	all := export(time.Time{})
	if len(all) != 12 || strings.Count(strings.Join(all, " "), "/Trash") != 1 || strings.Count(strings.Join(all, " "), "/Junk") != 1 {
		t.Errorf("full export: %v; want all six items once", all)
	}
	delta := strings.Join(export(T), " ")
	want := fmt.Sprintf("/Inbox %d /Inbox/Sub %d /Sent %d /Trash %d /Junk:empty", T.Unix(), T.Add(time.Hour).Unix(), T.Add(time.Minute).Unix(), T.Unix())
	if delta != want {
		t.Errorf("delta from T: %s\nwant %s", delta, want)
	}
	ex := s.Exports()
	if len(ex) != 6 || !ex[0].FolderMeta || ex[3].FolderMeta || ex[3].Query != "is:local "+soap.AfterQuery(T) || ex[4].Query != soap.AfterQuery(T) || ex[3].Start != "" || !ex[0].Meta || ex[0].Fmt != "tgz" {
		t.Errorf("exports asked: %+v", ex)
	}
}

// A dropped connection, 5xx and 429 before the body are retried to success; a stream cut
// mid-body is an error the caller sees, marked for a restart, and the
// restarted export is whole.
func TestExportRetriesAndCutStream(t *testing.T) {
	var items []item
	for i := range 500 {
		items = append(items, item{"/Inbox", time.Unix(int64(1e9+i), 0)})
	}
	var l logs
	s, c := pair(t, zimbratest.ServerOptions{Content: lines(items)}, soap.Config{Logf: l.Logf, Retry: retry.Loop{Attempts: 6, Backoff: retry.Policy{First: time.Millisecond, Max: 10 * time.Millisecond}}})
	s.AddAccount(zimbratest.Account{Name: "ann@example.test"})
	ctx := context.Background()
	s.FailSOAP(503)
	a, err := c.GetAccount(ctx, "ann@example.test", false)
	if err != nil {
		t.Fatalf("GetAccount after a 503: %v", err)
	}
	// Two drops: Go's transport repeats a GET once by itself when a
	// kept-alive connection closes unanswered, so at least one reaches
	// the retry loop.
	s.DropREST(2)
	s.FailREST(503, 429)
	before := len(l.all())
	st, err := c.Export(ctx, a, soap.Export{})
	if err != nil {
		t.Fatalf("export after dropped connections, 503, 429: %v", err)
	}
	retried := strings.Join(l.all()[before:], "\n")
	if n := s.Stats().REST; n != 1 || !strings.Contains(retried, "EOF") || !strings.Contains(retried, "503") || !strings.Contains(retried, "429") {
		t.Errorf("%d exports reached the content, retries logged:\n%s\nwant one export after a drop, a 503 and a 429 were retried", n, retried)
	}
	whole := readAll(t, st)
	if strings.Count(whole, "\n") != 500 {
		t.Errorf("%d lines, want 500", strings.Count(whole, "\n"))
	}
	s.CutREST(1000)
	st, err = c.Export(ctx, a, soap.Export{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(st)
	st.Close()
	if err == nil || !retry.IsRetryable(err) || !errors.Is(err, io.ErrUnexpectedEOF) || len(b) != 1000 || !strings.Contains(err.Error(), "after 1000 bytes") {
		t.Errorf("cut stream: %d bytes, %v; want 1000 bytes and a retryable unexpected EOF", len(b), err)
	}
	st, err = c.Export(ctx, a, soap.Export{})
	if err != nil || readAll(t, st) != whole {
		t.Errorf("the export after the cut is not whole: %v", err)
	}
	// Tries that run out on a 503 report the server's answer.
	s.FailREST(503, 503, 503, 503, 503, 503)
	if _, err := c.Export(ctx, a, soap.Export{}); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("six 503s in six tries: %v; want the last answer reported", err)
	}
}

// An export that matches nothing is Empty, not an error.
func TestExportEmpty(t *testing.T) {
	s, c := pair(t, zimbratest.ServerOptions{Content: lines(nil)}, soap.Config{})
	s.AddAccount(zimbratest.Account{Name: "ann@example.test"})
	a, _ := c.GetAccount(context.Background(), "ann@example.test", false)
	st, err := c.Export(context.Background(), a, soap.Export{Folder: "/Junk", Types: []string{"message"}})
	if err != nil || !st.Empty {
		t.Fatalf("204: %+v, %v; want an Empty stream", st, err)
	}
	if n, err := st.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Errorf("reading an empty stream: %d, %v", n, err)
	}
	if ex := s.Exports(); ex[0].Folder != "/Junk" || strings.Join(ex[0].Types, ",") != "message" {
		t.Errorf("asked %+v", ex[0])
	}
	// A folder name with spaces, ?, # and % reaches the server whole.
	odd := "/Emailed Contacts/a?b#c%d é"
	if _, err := c.Export(context.Background(), a, soap.Export{Folder: odd, Fmt: "vcf"}); err != nil {
		t.Fatal(err)
	}
	if ex := s.Exports(); ex[1].Folder != odd || ex[1].Fmt != "vcf" || ex[1].Meta || ex[1].RawQuery != "fmt=vcf" {
		t.Errorf("asked %+v; want folder %q, fmt=vcf alone", ex[1], odd)
	}
}

// The pace holds every request: n requests at r per second take at least
// (n-1)/r (a lower bound, which load cannot break), and a client paced
// under the DoS filter's limit is never refused.
func TestPacing(t *testing.T) {
	s, c := pair(t, zimbratest.ServerOptions{DoSLimit: 20}, soap.Config{RequestsPerSecond: 10})
	s.AddAccount(zimbratest.Account{Name: "ann@example.test"})
	ctx := context.Background()
	start := time.Now()
	const n = 16
	for range n - 1 { // the first call logs in: n requests in all
		if _, err := c.GetAccount(ctx, "ann@example.test", false); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el < 1400*time.Millisecond {
		t.Errorf("%d requests in %s at 10/s; want at least 1.5s", n, el)
	}
	st := s.Stats()
	if st.SOAP["AuthRequest"]+st.SOAP["GetAccountRequest"] != n || st.Refused != 0 {
		t.Errorf("stats %+v; want %d requests, none refused", st, n)
	}
}

// Unpaced, a client runs into the DoS filter; every refusal, a 429 or
// the 503 of Jetty before 9.4, is retried as throttling and every call
// succeeds.
func TestDoSRefusalsAreRetried(t *testing.T) {
	for _, status := range []int{429, 503} {
		var retries int
		var mu sync.Mutex
		s, c := pair(t, zimbratest.ServerOptions{DoSLimit: 3, DoSStatus: status}, soap.Config{Retry: retry.Loop{Attempts: 8,
			Backoff: retry.Policy{First: 300 * time.Millisecond, Max: time.Second},
			OnRetry: func(_ int, err error, _ time.Duration) {
				if k, _ := retry.Classify(err); k == retry.Throttled {
					mu.Lock()
					retries++
					mu.Unlock()
				}
			}}})
		s.AddAccount(zimbratest.Account{Name: "ann@example.test"})
		for i := range 10 {
			if _, err := c.GetAccount(context.Background(), "ann@example.test", false); err != nil {
				t.Fatalf("%d: call %d: %v", status, i, err)
			}
		}
		mu.Lock()
		if r := s.Stats().Refused; r != retries {
			t.Errorf("%d: %d refusals, %d throttled retries; want each refusal retried", status, r, retries)
		}
		mu.Unlock()
	}
}

// On the admin port alone: the admin token in ZM_ADMIN_AUTH_TOKEN, the
// account named in the SOAP context, no delegation.
func TestViaAdminPort(t *testing.T) {
	s, c := pair(t, zimbratest.ServerOptions{Content: lines([]item{{"/Inbox", time.Unix(1e9, 0)}})}, soap.Config{ViaAdminPort: true})
	s.AddAccount(zimbratest.Account{Name: "ann@example.test", Attrs: map[string][]string{"zimbraMailHost": {"unreachable.example.test"}}})
	ctx := context.Background()
	a, _ := c.GetAccount(ctx, "ann@example.test", false)
	root, err := c.Folders(ctx, a)
	if err != nil || len(root.Sub) == 0 {
		t.Fatalf("Folders: %v", err)
	}
	st, err := c.Export(ctx, a, soap.Export{})
	if err != nil || readAll(t, st) == "" {
		t.Fatalf("Export: %v", err)
	}
	if ex := s.Exports(); ex[0].Cookie != "ZM_ADMIN_AUTH_TOKEN" || s.Stats().SOAP["DelegateAuthRequest"] != 0 {
		t.Errorf("exports %+v, stats %+v; want the admin cookie and no delegation", ex, s.Stats())
	}
}

// A run cancelled mid-stream ends the read with the context's error, not
// one that asks for a restart.
func TestExportCancelled(t *testing.T) {
	block := make(chan struct{})
	s, c := pair(t, zimbratest.ServerOptions{Content: func(e zimbratest.Export, w io.Writer) error {
		w.Write([]byte("first bytes"))
		w.(http.Flusher).Flush()
		<-block
		return nil
	}}, soap.Config{})
	defer close(block)
	s.AddAccount(zimbratest.Account{Name: "ann@example.test"})
	ctx, cancel := context.WithCancel(context.Background())
	a, _ := c.GetAccount(ctx, "ann@example.test", false)
	st, err := c.Export(ctx, a, soap.Export{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	buf := make([]byte, 11)
	if _, err := io.ReadFull(st, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = st.Read(buf)
	if !errors.Is(err, context.Canceled) || retry.IsRetryable(err) {
		t.Errorf("read after cancel: %v; want context.Canceled, not retryable", err)
	}
}

// One client serves parallel workers: tokens per user, one admin login.
func TestParallelUsers(t *testing.T) {
	s, c := pair(t, zimbratest.ServerOptions{Content: func(e zimbratest.Export, w io.Writer) error {
		_, err := io.WriteString(w, e.User)
		return err
	}}, soap.Config{})
	const n = 8
	for i := range n {
		s.AddAccount(zimbratest.Account{Name: fmt.Sprintf("u%d@example.test", i)})
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("u%d@example.test", i)
			a, err := c.GetAccount(ctx, name, false)
			if err == nil {
				_, err = c.Folders(ctx, a)
			}
			var st *soap.Stream
			if err == nil {
				st, err = c.Export(ctx, a, soap.Export{})
			}
			if err == nil {
				b, _ := io.ReadAll(st)
				st.Close()
				if string(b) != name {
					err = fmt.Errorf("%s got %q", name, b)
				}
			}
			c.Done(name)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if st := s.Stats(); st.SOAP["AuthRequest"] != 1 || st.SOAP["DelegateAuthRequest"] != n {
		t.Errorf("stats %+v; want one login and one delegation per user", st)
	}
}

// No secret (password, admin or delegated token) in an error, a log line
// or a URL, whatever fails.
func TestNoSecretsInErrorsOrLogs(t *testing.T) {
	var l logs
	s, c := pair(t, zimbratest.ServerOptions{Content: lines([]item{{"/Inbox", time.Unix(1e9, 0)}})}, soap.Config{Logf: l.Logf})
	s.AddAccount(zimbratest.Account{Name: "ann@example.test"})
	ctx := context.Background()
	var errs []error
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	s.FailSOAP(503)
	a, err := c.GetAccount(ctx, "ann@example.test", false)
	keep(err)
	s.FailREST(500, 500, 500, 500)
	_, err = c.Export(ctx, a, soap.Export{})
	keep(err)
	s.CutREST(5)
	if st, err := c.Export(ctx, a, soap.Export{}); err == nil {
		_, err = io.ReadAll(st)
		keep(err)
	}
	_, err = c.Export(ctx, soap.Account{Name: "nobody@example.test", Attrs: map[string][]string{"zimbraMailHost": {"mbox1.example.test"}}}, soap.Export{})
	keep(err)
	bad, _ := soap.New(soap.Config{URL: s.URL, Admin: "admin@example.test", RootCAs: s.RootCAs(), RequestsPerSecond: -1,
		Password: func() (string, error) { return "wrong-Pa55word", nil }, Logf: l.Logf})
	_, err = bad.GetAccount(ctx, "ann@example.test", false)
	var f *soap.Fault
	if !errors.As(err, &f) || f.Code != "account.AUTH_FAILED" {
		t.Errorf("wrong password: %v; want account.AUTH_FAILED", err)
	}
	keep(err)
	if len(errs) != 4 || len(l.all()) == 0 {
		t.Fatalf("errors %v, log %v: the failures did not happen", errs, l.all())
	}
	secrets := append(s.Secrets(), "wrong-Pa55word")
	var texts []string
	for _, e := range errs {
		texts = append(texts, e.Error())
	}
	texts = append(texts, l.all()...)
	for _, e := range s.Exports() {
		texts = append(texts, e.RawQuery)
	}
	for _, txt := range texts {
		for _, sec := range secrets {
			if strings.Contains(txt, sec) {
				t.Errorf("secret %.6s… in %q", sec, txt)
			}
		}
	}
}

// TLS is verified: without the fake's CA the client fails, naming the
// certificate, and no request is repeated.
func TestTLSVerified(t *testing.T) {
	s := zimbratest.NewServer(t, zimbratest.ServerOptions{})
	c, err := soap.New(soap.Config{URL: s.URL, Admin: "admin@example.test", RequestsPerSecond: -1,
		Password: func() (string, error) { return "admin-secret", nil }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetAccount(context.Background(), "ann@example.test", false)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate: %v", err)
	}
	if st := s.Stats(); st.SOAP["AuthRequest"] != 0 {
		t.Errorf("a request reached the server over an unverified connection")
	}
	for _, bad := range []string{"", "ftp://x", "https://admin:pw@host:7071", "https://admin:p%zz@host:7071", "http://zimbra.example.test:7071"} {
		if _, err := soap.New(soap.Config{URL: bad, Password: func() (string, error) { return "", nil }}); err == nil || strings.Contains(err.Error(), "pw@") || strings.Contains(err.Error(), "p%zz") {
			t.Errorf("New(%q): %v", bad, err)
		}
	}
	for _, ok := range []soap.Config{{URL: "http://127.0.0.1:7071"}, {URL: "http://zimbra.example.test:7071", AllowPlaintext: true}} {
		ok.Password = func() (string, error) { return "", nil }
		if _, err := soap.New(ok); err != nil {
			t.Errorf("New(%+v): %v", ok, err)
		}
	}
}

// What zmprov shows with gsig, gid and gam comes along for account.json.
func TestProfile(t *testing.T) {
	s, c := pair(t, zimbratest.ServerOptions{}, soap.Config{})
	s.AddAccount(zimbratest.Account{Name: "ann@example.test", MemberOf: []string{"all@example.test", "staff@example.test"},
		Signatures: []zimbratest.Signature{{Name: "work", Text: "-- \nAnn", HTML: "<p>Ann</p>"}},
		Identities: []zimbratest.Identity{{Name: "DEFAULT", Attrs: map[string][]string{"zimbraPrefFromDisplay": {"Ann E."}}},
			{Name: "sales", Attrs: map[string][]string{"zimbraPrefFromAddress": {"sales@example.test"}, "zimbraPrefWhenSentToAddresses": {"sales@example.test", "s@example.test"}}}}})
	ctx := context.Background()
	a, _ := c.GetAccount(ctx, "ann@example.test", false)
	sigs, err := c.Signatures(ctx, a)
	if err != nil || len(sigs) != 1 || sigs[0].Name != "work" || sigs[0].Content["text/plain"] != "-- \nAnn" || sigs[0].Content["text/html"] != "<p>Ann</p>" {
		t.Errorf("signatures %+v, %v", sigs, err)
	}
	ids, err := c.Identities(ctx, a)
	if err != nil || len(ids) != 2 || ids[0].Attrs["zimbraPrefFromDisplay"][0] != "Ann E." || len(ids[1].Attrs["zimbraPrefWhenSentToAddresses"]) != 2 || ids[1].Attrs["zimbraPrefIdentityName"][0] != "sales" {
		t.Errorf("identities %+v, %v", ids, err)
	}
	dls, err := c.Memberships(ctx, "ann@example.test")
	if err != nil || len(dls) != 2 || dls[1].Name != "staff@example.test" {
		t.Errorf("memberships %+v, %v", dls, err)
	}
}

// A server that takes the request and never answers is given up after
// HeaderTimeout (each try), not waited for until the caller's deadline,
// over the transport the client builds and over a caller's.
func TestHeaderTimeout(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.Copy(io.Discard, r.Body) // then the server sees the client hang up
		select {
		case <-r.Context().Done():
		case <-time.After(20 * time.Second):
		}
	}))
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	for _, c := range []struct {
		what string
		cfg  soap.Config
	}{{"built", soap.Config{RootCAs: roots}}, {"the caller's", soap.Config{Transport: srv.Client().Transport}}} {
		n.Store(0)
		cfg := c.cfg
		cfg.URL, cfg.Admin, cfg.HeaderTimeout, cfg.RequestsPerSecond = srv.URL, "admin@example.test", 200*time.Millisecond, -1
		cfg.Password = func() (string, error) { return "admin-secret", nil }
		cfg.Retry = retry.Loop{Attempts: 2, Backoff: retry.Policy{First: time.Millisecond, Max: 2 * time.Millisecond}}
		cl, err := soap.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
		start := time.Now()
		_, err = cl.GetAccount(ctx, "ann@example.test", false)
		if err == nil || ctx.Err() != nil || time.Since(start) > 5*time.Second {
			t.Errorf("%s transport: after %s: %v (caller's deadline reached: %v)", c.what, time.Since(start), err, ctx.Err())
		}
		cancel()
		if n.Load() != 2 {
			t.Errorf("%s transport: %d tries, want 2", c.what, n.Load())
		}
	}
}

// A SOAP answer whose body stops coming is given up after IdleTimeout
// and asked again (a transient break), as an export stream is.
func TestSOAPBodyStallRetried(t *testing.T) {
	var l logs
	s, c := pair(t, zimbratest.ServerOptions{}, soap.Config{IdleTimeout: 200 * time.Millisecond, Logf: l.Logf})
	s.AddAccount(zimbratest.Account{Name: "ann@example.test", Attrs: map[string][]string{"displayName": {"Ann"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	if _, err := c.GetAccount(ctx, "ann@example.test", false); err != nil {
		t.Fatal(err)
	}
	s.StallSOAP(20)
	start := time.Now()
	a, err := c.GetAccount(ctx, "ann@example.test", false)
	if err != nil || a.Attr("displayName") != "Ann" {
		t.Fatalf("after %s: %+v, %v", time.Since(start), a, err)
	}
	if got := s.Stats().SOAP["GetAccountRequest"]; got != 3 {
		t.Errorf("%d GetAccountRequests, want 3 (one stalled, asked again)", got)
	}
	if lines := l.all(); len(lines) != 1 || !strings.Contains(lines[0], "nothing came for 200ms") {
		t.Errorf("logged %q, want the stalled answer once", lines)
	}
}

// With BasicAuth the exports go to the admin port with the admin's name
// and password (HTTP Basic), the mailbox's SOAP there with the admin
// token: no delegated token, nothing for the mailbox server, and the
// password in no log line or error.
func TestBasicAuthOnAdminPort(t *testing.T) {
	var l logs
	s, c := pair(t, zimbratest.ServerOptions{Content: lines([]item{{"/Inbox", time.Unix(1e9, 0)}})}, soap.Config{BasicAuth: true, Logf: l.Logf})
	s.AddAccount(zimbratest.Account{Name: "ann@example.test", Attrs: map[string][]string{"zimbraMailHost": {"unreachable.example.test"}}})
	s.FailREST(http.StatusServiceUnavailable) // a repeated try carries Basic too
	ctx := context.Background()
	a, err := c.GetAccount(ctx, "ann@example.test", false)
	if err != nil {
		t.Fatal(err)
	}
	if root, err := c.Folders(ctx, a); err != nil || len(root.Sub) == 0 {
		t.Fatalf("Folders: %v", err)
	}
	st, err := c.Export(ctx, a, soap.Export{})
	if err != nil || readAll(t, st) == "" {
		t.Fatalf("Export: %v", err)
	}
	if ex := s.Exports(); len(ex) != 1 || !ex[0].Basic || s.Stats().SOAP["DelegateAuthRequest"] != 0 {
		t.Errorf("exports %+v, stats %+v; want Basic and no delegation", ex, s.Stats())
	}
	for _, line := range l.all() {
		if strings.Contains(line, "admin-secret") {
			t.Errorf("the password in a log line: %q", line)
		}
	}
}

// Basic refused (a wrong password, or a Zimbra that does not allow it)
// is said once, not repeated: each try would count towards a lockout.
func TestBasicAuthRefused(t *testing.T) {
	s, c := pair(t, zimbratest.ServerOptions{Content: lines([]item{{"/Inbox", time.Unix(1e9, 0)}})}, soap.Config{BasicAuth: true,
		Password: func() (string, error) { return "wrong-secret", nil }})
	s.AddAccount(zimbratest.Account{Name: "ann@example.test"})
	_, err := c.Export(context.Background(), soap.Account{Name: "ann@example.test"}, soap.Export{})
	if err == nil || !strings.Contains(err.Error(), "HTTP Basic") || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("err %v; want Basic named as refused, no password", err)
	}
}

// Basic sends the password with every request: never over http:// to a
// host other than loopback, even where plaintext is allowed.
func TestBasicAuthNeverInClear(t *testing.T) {
	_, err := soap.New(soap.Config{URL: "http://zimbra.example.test:7071", Admin: "admin", BasicAuth: true, AllowPlaintext: true,
		Password: func() (string, error) { return "pw", nil }})
	if err == nil || !strings.Contains(err.Error(), "HTTP Basic") {
		t.Errorf("err %v; want Basic refused over http", err)
	}
}

// An account deleted while the listing pages (one sorting before the
// offset) shifts the pages: the listing notices and starts again, so no
// live account is left out; calendar resources (rooms) are listed too.
func TestAccountsDeletedDuringListing(t *testing.T) {
	var s *zimbratest.Server
	var pages atomic.Int32
	s, c := pair(t, zimbratest.ServerOptions{OnSOAP: func(name string) {
		if name == "SearchDirectoryRequest" && pages.Add(1) == 2 {
			s.RemoveAccount("u00@example.test") // after u00..u02 were listed
		}
	}}, soap.Config{PageSize: 3})
	for i := range 10 {
		s.AddAccount(zimbratest.Account{Name: fmt.Sprintf("u%02d@example.test", i), Resource: i == 7})
	}
	var names []string
	err := c.Accounts(context.Background(), soap.Search{}, func(a soap.Account) error {
		names = append(names, strings.TrimSuffix(a.Name, "@example.test"))
		return nil
	})
	if err != nil || strings.Join(names, " ") != "u00 u01 u02 u03 u04 u05 u06 u07 u08 u09" {
		t.Errorf("listed %v, err %v; want every account, u03 and the resource u07 included", names, err)
	}
}

// Accounts created under the listing, before its offset, are not
// listed: the listing gives fewer than searchTotal and ends in
// ErrListGap (each listed account still once): never a silent gap.
func TestAccountsListingBelowSearchTotal(t *testing.T) {
	var s *zimbratest.Server
	var n atomic.Int32
	s, c := pair(t, zimbratest.ServerOptions{OnSOAP: func(name string) {
		if name == "SearchDirectoryRequest" && n.Add(1)%2 == 0 {
			s.AddAccount(zimbratest.Account{Name: fmt.Sprintf("a%03d@example.test", n.Load())}) // sorts first
		}
	}}, soap.Config{PageSize: 2})
	for i := range 6 {
		s.AddAccount(zimbratest.Account{Name: fmt.Sprintf("u%02d@example.test", i)})
	}
	seen := map[string]int{}
	err := c.Accounts(context.Background(), soap.Search{}, func(a soap.Account) error {
		seen[a.Name]++
		return nil
	})
	if !errors.Is(err, soap.ErrListGap) {
		t.Errorf("err %v, want ErrListGap", err)
	}
	for i := range 6 {
		if name := fmt.Sprintf("u%02d@example.test", i); seen[name] != 1 {
			t.Errorf("%s listed %d times", name, seen[name])
		}
	}
}

// A server that answers every attribute whatever attrs= asked (older
// releases) gives the account record AccountAttrs alone, as a gaa -v
// listing does: no old password hashes, no auth tokens.
func TestGetAccountKeepsAccountAttrsOnly(t *testing.T) {
	s, c := pair(t, zimbratest.ServerOptions{IgnoreAttrs: true}, soap.Config{})
	s.AddAccount(zimbratest.Account{Name: "ann@example.test", Attrs: map[string][]string{"displayName": {"Ann"},
		"zimbraPasswordHistory": {"1700000000000:{SSHA512}old"}, "zimbraAuthTokens": {"123|1700000000000|10.0.0_GA"}, "zimbraNotes": {"x"}}})
	a, err := c.GetAccount(context.Background(), "ann@example.test", false)
	if err != nil {
		t.Fatal(err)
	}
	for n := range a.Attrs {
		if !slices.Contains(soap.AccountAttrs, n) {
			t.Errorf("attribute %s kept: %q", n, a.Attrs[n])
		}
	}
	if a.Attr("displayName") != "Ann" || a.MailHost() == "" || a.ID == "" {
		t.Errorf("the documented attributes: %+v", a)
	}
}

// Answers are bounded by what they can hold: an account's answer above
// 8 MiB is refused, naming the request; the folder tree of a large
// mailbox may be larger.
func TestAnswerCaps(t *testing.T) {
	s, c := pair(t, zimbratest.ServerOptions{}, soap.Config{})
	var folders []*zimbratest.Folder
	for i := range 60000 {
		folders = append(folders, &zimbratest.Folder{ID: 300 + i, Name: fmt.Sprintf("folder %06d with a long name to fill the tree", i), View: "message", N: i})
	}
	s.AddAccount(zimbratest.Account{Name: "ann@example.test", Folders: folders})
	s.AddAccount(zimbratest.Account{Name: "big@example.test", Attrs: map[string][]string{"zimbraMailSieveScript": {strings.Repeat("# x\n", 9<<18)}}})
	ctx := context.Background()
	a, err := c.GetAccount(ctx, "ann@example.test", false)
	if err != nil {
		t.Fatal(err)
	}
	root, err := c.Folders(ctx, a)
	if err != nil || len(root.Sub) != 60000 || root.Sub[59999].Items != 59999 {
		t.Fatalf("a folder tree above 8 MiB: %v", err)
	}
	if _, err := c.GetAccount(ctx, "big@example.test", false); err == nil || !strings.Contains(err.Error(), "GetAccountRequest: the answer is larger than 8 MiB") {
		t.Errorf("a 9 MiB account: %v", err)
	}
}

// A refused Basic login is remembered: the next user's export does not
// send the password again (Zimbra counts each refusal towards the
// admin's lockout, and a password changed during the run, after the
// admin token was issued, would otherwise be tried once per user), and
// it is a refused login (LoginRefused), which stops a run.
func TestBasicAuthRefusedRemembered(t *testing.T) {
	s, c := pair(t, zimbratest.ServerOptions{Content: lines([]item{{"/Inbox", time.Unix(1e9, 0)}})}, soap.Config{BasicAuth: true,
		Password: func() (string, error) { return "wrong-secret", nil }})
	for _, u := range []string{"ann", "bob", "cyd"} {
		s.AddAccount(zimbratest.Account{Name: u + "@example.test"})
		_, err := c.Export(context.Background(), soap.Account{Name: u + "@example.test"}, soap.Export{})
		if err == nil || !soap.LoginRefused(err) || strings.Contains(err.Error(), "wrong-secret") {
			t.Errorf("%s: err %v; want a refused login, no password", u, err)
		}
	}
	if n := s.Stats().BasicRefused; n != 1 {
		t.Errorf("%d Basic logins refused by the server, want 1", n)
	}
}
