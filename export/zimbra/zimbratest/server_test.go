package zimbratest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// call posts a JSON SOAP request and decodes the answer.
func call(t *testing.T, s *Server, path, tok, name string, req map[string]any) (status int, body map[string]any, faultCode string) {
	t.Helper()
	env := map[string]any{"Header": map[string]any{"context": map[string]any{"_jsns": "urn:zimbra"}}, "Body": map[string]any{name: req}}
	if tok != "" {
		env["Header"].(map[string]any)["context"].(map[string]any)["authToken"] = map[string]any{"_content": tok}
	}
	b, _ := json.Marshal(env)
	resp, err := s.ts.Client().Post(s.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Body map[string]map[string]any
	}
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		return resp.StatusCode, nil, ""
	}
	if f, ok := out.Body["Fault"]; ok {
		return resp.StatusCode, nil, text(f["Detail"].(map[string]any)["Error"].(map[string]any)["Code"])
	}
	return resp.StatusCode, out.Body[strings.TrimSuffix(name, "Request")+"Response"], ""
}

func acct(name string) map[string]any {
	return map[string]any{"by": "name", "_content": name}
}

func adminToken(t *testing.T, s *Server) string {
	t.Helper()
	_, b, code := call(t, s, "/service/admin/soap", "", "AuthRequest", map[string]any{"_jsns": "urn:zimbraAdmin",
		"name": s.o.AdminName, "password": map[string]any{"_content": s.o.AdminPassword}})
	if code != "" {
		t.Fatalf("AuthRequest fault %s", code)
	}
	return text(b["authToken"])
}

func TestServerAuthAndDelegation(t *testing.T) {
	s := NewServer(t, ServerOptions{DelegateLifetime: 10 * time.Minute})
	s.AddAccount(Account{Name: "ann@example.test"})
	st, _, code := call(t, s, "/service/admin/soap", "", "AuthRequest", map[string]any{"name": s.o.AdminName, "password": "wrong"})
	if st != 500 || code != "account.AUTH_FAILED" {
		t.Errorf("bad password: %d %q; want 500 account.AUTH_FAILED", st, code)
	}
	if _, _, code := call(t, s, "/service/admin/soap", "", "GetAccountRequest", map[string]any{"account": acct("ann@example.test")}); code != "service.AUTH_REQUIRED" {
		t.Errorf("no token: fault %q, want service.AUTH_REQUIRED", code)
	}
	admin := adminToken(t, s)
	_, b, code := call(t, s, "/service/admin/soap", admin, "DelegateAuthRequest", map[string]any{"account": acct("ann@example.test"), "duration": "3600"})
	if code != "" || text(b["lifetime"]) != "600000" {
		t.Fatalf("DelegateAuth: %v %q; want a token capped at 10 minutes (600000 ms)", b, code)
	}
	user := text(b["authToken"])
	if _, b, code := call(t, s, "/service/soap", user, "GetFolderRequest", map[string]any{"_jsns": "urn:zimbraMail"}); code != "" || b["folder"] == nil {
		t.Errorf("GetFolder with the delegated token: %v %q", b, code)
	}
	if _, _, code := call(t, s, "/service/admin/soap", user, "GetAccountRequest", map[string]any{"account": acct("ann@example.test")}); code != "service.PERM_DENIED" {
		t.Errorf("a user token on the admin port: fault %q, want service.PERM_DENIED", code)
	}
	s.Advance(10 * time.Minute)
	if _, _, code := call(t, s, "/service/soap", user, "GetFolderRequest", map[string]any{}); code != "service.AUTH_EXPIRED" {
		t.Errorf("after its lifetime: fault %q, want service.AUTH_EXPIRED", code)
	}
	if _, _, code := call(t, s, "/service/admin/soap", admin, "GetAccountRequest", map[string]any{"account": acct("ann@example.test")}); code != "" {
		t.Errorf("the 12 h admin token after 10 minutes: fault %q", code)
	}
}

func TestServerAccountsAndFolders(t *testing.T) {
	s := NewServer(t, ServerOptions{})
	s.AddAccount(Account{Name: "bob@example.test", MailboxSize: 12345,
		Attrs: map[string][]string{"displayName": {"Bob"}, "zimbraMailAlias": {"b@example.test", "robert@example.test"}, "userPassword": {"{SSHA512}xyz"}},
		Folders: []*Folder{
			{ID: 2, Name: "Inbox", View: "message", N: 3, S: 300, Unread: 1, Color: 5, Sub: []*Folder{{ID: 257, Name: "Sub", View: "message", N: 1, RGB: "#123456"}}},
			{ID: 258, Name: "Shared", View: "message", Link: &Link{Owner: "c@example.test", ZID: "zid-1", RID: 2}},
			{ID: 259, Name: "Unread", Query: "is:unread"},
		}})
	admin := adminToken(t, s)
	_, b, code := call(t, s, "/service/admin/soap", admin, "GetAccountRequest", map[string]any{"account": acct("bob@example.test"), "attrs": "displayName,zimbraMailAlias,zimbraMailHost,userPassword"})
	if code != "" {
		t.Fatal(code)
	}
	a := b["account"].([]any)[0].(map[string]any)
	got := map[string][]string{}
	for k, v := range a["_attrs"].(map[string]any) {
		if list, ok := v.([]any); ok {
			for _, x := range list {
				got[k] = append(got[k], text(x))
			}
		} else {
			got[k] = []string{text(v)}
		}
	}
	want := map[string][]string{"displayName": {"Bob"}, "zimbraMailAlias": {"b@example.test", "robert@example.test"}, "zimbraMailHost": {"mbox1.example.test"}, "userPassword": {"VALUE-BLOCKED"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("attributes %v, want %v", got, want)
	}
	_, b, _ = call(t, s, "/service/admin/soap", admin, "GetMailboxRequest", map[string]any{"mbox": map[string]any{"id": text(a["id"])}})
	if text(child(b, "mbox")["s"]) != "12345" {
		t.Errorf("GetMailbox %v, want s=12345", b)
	}
	_, b, _ = call(t, s, "/service/soap", admin, "GetFolderRequest", map[string]any{})
	if b != nil {
		t.Errorf("an admin token without a target account got a folder tree")
	}
	// An admin token with the target account in the context header.
	env := `{"Header":{"context":{"_jsns":"urn:zimbra","authToken":{"_content":"` + admin + `"},"account":{"by":"name","_content":"bob@example.test"}}},"Body":{"GetFolderRequest":{"_jsns":"urn:zimbraMail"}}}`
	resp, err := s.ts.Client().Post(s.URL+"/service/soap", "application/json", strings.NewReader(env))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`"name":"USER_ROOT"`, `"absFolderPath":"/Inbox/Sub"`, `"rgb":"#123456"`, `"color":5`, `"n":3`, `"u":1`, `"s":300`,
		`"link":[{`, `"owner":"c@example.test"`, `"rid":2`, `"search":[{`, `"query":"is:unread"`, `"l":"2"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("GetFolderResponse lacks %s:\n%s", want, raw)
		}
	}
}

// Without maxResults="0" a match above Zimbra's 5,000 cap fails
// whatever the page; with it, limit and offset page through everything.
func TestServerSearchDirectoryCap(t *testing.T) {
	s := NewServer(t, ServerOptions{})
	const n = 5001
	for i := range n {
		s.AddAccount(Account{Name: fmt.Sprintf("u%05d@example.test", i)})
	}
	admin := adminToken(t, s)
	if _, _, code := call(t, s, "/service/admin/soap", admin, "SearchDirectoryRequest", map[string]any{"types": "accounts", "limit": 10}); code != "account.TOO_MANY_SEARCH_RESULTS" {
		t.Errorf("without maxResults: fault %q, want account.TOO_MANY_SEARCH_RESULTS", code)
	}
	var names []string
	for offset := 0; offset < 2*n; offset += 1000 {
		_, b, code := call(t, s, "/service/admin/soap", admin, "SearchDirectoryRequest", map[string]any{"types": "accounts", "limit": 1000, "offset": offset, "maxResults": "0"})
		if code != "" {
			t.Fatal(code)
		}
		list, _ := b["account"].([]any)
		for _, a := range list {
			names = append(names, text(a.(map[string]any)["name"]))
		}
		if text(b["searchTotal"]) != "5001" {
			t.Errorf("searchTotal %v", b["searchTotal"])
		}
		if b["more"] != true {
			break
		}
	}
	if len(names) != n || names[0] != "u00000@example.test" || names[n-1] != "u05000@example.test" {
		t.Errorf("paged %d accounts (%v ... ), want %d in order", len(names), names[:min(3, len(names))], n)
	}
}

// get fetches a REST URL with a cookie.
func get(t *testing.T, s *Server, path, cookie, tok string) (*http.Response, []byte, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
	if tok != "" {
		req.AddCookie(&http.Cookie{Name: cookie, Value: tok})
	}
	resp, err := s.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func delegated(t *testing.T, s *Server, user string) string {
	_, b, code := call(t, s, "/service/admin/soap", adminToken(t, s), "DelegateAuthRequest", map[string]any{"account": acct(user)})
	if code != "" {
		t.Fatal(code)
	}
	return text(b["authToken"])
}

// The REST export derives Zimbra's search from the URL: Trash and Junk
// out of a plain root export, back in under their own path or with
// is:anywhere; start=T as date >= T+1s; no folder .meta with a query.
func TestServerRESTExport(t *testing.T) {
	day := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	items := []struct {
		folder string
		date   time.Time
	}{{"/Inbox", day}, {"/Inbox/Sub", day.Add(time.Second)}, {"/Trash", day.Add(2 * time.Second)}, {"/Junk", day}, {"/Sent", day.Add(-time.Hour)}}
	s := NewServer(t, ServerOptions{Content: func(e Export, w io.Writer) error {
		for _, it := range items {
			if e.Includes(it.folder, it.date) {
				fmt.Fprintf(w, "%s %d\n", it.folder, it.date.Unix())
			}
		}
		return nil
	}})
	s.AddAccount(Account{Name: "ann@example.test"})
	tok := delegated(t, s, "ann@example.test")
	for _, c := range []struct {
		path, want string
		status     int
	}{
		{"/service/home/ann@example.test/?fmt=tgz", "/Inbox,/Inbox/Sub,/Sent", 200},
		{"/home/~/Trash?fmt=tgz", "/Trash", 200},
		{"/service/home/ann@example.test/Junk?fmt=tgz", "/Junk", 200},
		{"/service/home/ann@example.test/Inbox?fmt=tgz", "/Inbox,/Inbox/Sub", 200},
		{"/service/home/ann@example.test/?fmt=tgz&query=is:anywhere", "/Inbox,/Inbox/Sub,/Trash,/Junk,/Sent", 200},
		// start=T: after:T is date >= T+1s, so T-1000 keeps an item at T.
		{fmt.Sprintf("/service/home/ann@example.test/?fmt=tgz&start=%d", day.UnixMilli()), "/Inbox/Sub", 200},
		{fmt.Sprintf("/service/home/ann@example.test/?fmt=tgz&query=is:anywhere&start=%d", day.UnixMilli()-1000), "/Inbox,/Inbox/Sub,/Trash,/Junk", 200},
		{fmt.Sprintf("/service/home/ann@example.test/?fmt=tgz&end=%d", day.UnixMilli()), "/Sent", 200},
		{fmt.Sprintf("/service/home/ann@example.test/?fmt=tgz&start=%d", day.Add(time.Hour).UnixMilli()), "", 204},
		{"/service/home/ann@example.test/?fmt=tgz&start=03/01/2024", "", 400},
	} {
		resp, body, err := get(t, s, c.path, "ZM_AUTH_TOKEN", tok)
		if err != nil || resp.StatusCode != c.status {
			t.Errorf("%s: %d %v; want %d", c.path, resp.StatusCode, err, c.status)
			continue
		}
		if c.status == 400 {
			continue
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(string(body)), "\n") {
			if l != "" {
				got = append(got, strings.Fields(l)[0])
			}
		}
		if strings.Join(got, ",") != c.want {
			t.Errorf("%s: folders %v, want %s", c.path, got, c.want)
		}
	}
	ex := s.Exports()
	if len(ex) != 9 || !ex[0].FolderMeta || ex[4].FolderMeta || !ex[0].Meta || ex[1].Folder != "/Trash" || ex[1].User != "ann@example.test" {
		t.Errorf("exports %+v", ex)
	}
	if q, _ := url.ParseQuery(ex[5].RawQuery); q.Get("start") == "" {
		t.Errorf("RawQuery %q lacks start", ex[5].RawQuery)
	}
}

func TestServerRESTAuth(t *testing.T) {
	s := NewServer(t, ServerOptions{DelegateLifetime: time.Minute, Content: func(e Export, w io.Writer) error {
		_, err := io.WriteString(w, "data")
		return err
	}})
	s.AddAccount(Account{Name: "ann@example.test"})
	s.AddAccount(Account{Name: "bob@example.test"})
	ann := delegated(t, s, "ann@example.test")
	path := "/service/home/ann@example.test/?fmt=tgz"
	if resp, _, _ := get(t, s, path, "", ""); resp.StatusCode != 401 {
		t.Errorf("no token: %d, want 401", resp.StatusCode)
	}
	if resp, _, _ := get(t, s, "/service/home/bob@example.test/?fmt=tgz", "ZM_AUTH_TOKEN", ann); resp.StatusCode != 403 {
		t.Errorf("ann's token on bob: %d, want 403", resp.StatusCode)
	}
	if resp, b, _ := get(t, s, path, "ZM_ADMIN_AUTH_TOKEN", adminToken(t, s)); resp.StatusCode != 200 || string(b) != "data" {
		t.Errorf("admin token: %d %q", resp.StatusCode, b)
	}
	if ex := s.Exports(); len(ex) != 1 || ex[0].Cookie != "ZM_ADMIN_AUTH_TOKEN" {
		t.Errorf("exports %+v; want one, by the admin cookie", ex)
	}
	s.Advance(time.Minute)
	if resp, _, _ := get(t, s, path, "ZM_AUTH_TOKEN", ann); resp.StatusCode != 401 {
		t.Errorf("expired token: %d, want 401", resp.StatusCode)
	}
}

// Faults: a 5xx before the body, and a 200 whose gzip is cut mid-way.
func TestServerFaults(t *testing.T) {
	var payload bytes.Buffer
	zw := gzip.NewWriter(&payload)
	zw.Write(bytes.Repeat([]byte("zimbra tgz payload "), 4000))
	zw.Close()
	s := NewServer(t, ServerOptions{Content: func(e Export, w io.Writer) error {
		_, err := w.Write(payload.Bytes())
		return err
	}})
	s.AddAccount(Account{Name: "ann@example.test"})
	tok := delegated(t, s, "ann@example.test")
	path := "/service/home/ann@example.test/?fmt=tgz"
	s.FailREST(503, 500)
	for _, want := range []int{503, 500, 200} {
		if resp, _, err := get(t, s, path, "ZM_AUTH_TOKEN", tok); resp.StatusCode != want || err != nil {
			t.Errorf("status %d (%v), want %d", resp.StatusCode, err, want)
		}
	}
	s.DropREST(1)
	req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
	req.AddCookie(&http.Cookie{Name: "ZM_AUTH_TOKEN", Value: tok})
	fresh := s.ts.Client().Transport.(*http.Transport).Clone()
	fresh.DisableKeepAlives = true // Go repeats a GET itself on a reused connection
	if resp, err := (&http.Client{Transport: fresh}).Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("a dropped request got an answer: %d", resp.StatusCode)
	}
	s.CutREST(100)
	resp, b, err := get(t, s, path, "ZM_AUTH_TOKEN", tok)
	if resp.StatusCode != 200 || !errors.Is(err, io.ErrUnexpectedEOF) || len(b) != 100 {
		t.Fatalf("cut stream: %d, %d bytes, %v; want 200, 100 bytes, unexpected EOF", resp.StatusCode, len(b), err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err == nil {
		_, err = io.Copy(io.Discard, zr)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("the cut gzip reads as %v, want unexpected EOF", err)
	}
	s.FailSOAP(502)
	if st, _, _ := call(t, s, "/service/admin/soap", "", "AuthRequest", map[string]any{}); st != 502 {
		t.Errorf("SOAP fault injection: %d, want 502", st)
	}
}

// Past DoSLimit requests in a second, the DoS filter refuses; a client
// that waits a second is served again.
func TestServerDoSFilter(t *testing.T) {
	s := NewServer(t, ServerOptions{DoSLimit: 3})
	var refused int
	for range 30 {
		st, _, _ := call(t, s, "/service/admin/soap", "", "AuthRequest", map[string]any{})
		if st == http.StatusTooManyRequests {
			refused++
		}
	}
	// Of 30 requests, some 4 in a row fall within a second unless the
	// machine takes a second per request.
	if refused == 0 || refused != s.Stats().Refused {
		t.Errorf("%d refused (stats %d); want some refused and counted", refused, s.Stats().Refused)
	}
	time.Sleep(1100 * time.Millisecond)
	if st, _, _ := call(t, s, "/service/admin/soap", "", "AuthRequest", map[string]any{}); st == http.StatusTooManyRequests {
		t.Errorf("refused after a quiet second")
	}
}

// StallREST sends the bytes asked for, then nothing, the connection open,
// until the client hangs up.
func TestStallREST(t *testing.T) {
	s := NewServer(t, ServerOptions{Content: func(e Export, w io.Writer) error {
		_, err := w.Write(bytes.Repeat([]byte("x"), 1000))
		return err
	}})
	s.AddAccount(Account{Name: "ann@example.test"})
	tok := delegated(t, s, "ann@example.test")
	s.StallREST(100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/service/home/ann@example.test/?fmt=tgz", nil)
	req.AddCookie(&http.Cookie{Name: "ZM_AUTH_TOKEN", Value: tok})
	resp, err := s.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	stalls(t, resp.Body, cancel, 100)
	if s.Stats().REST != 1 {
		t.Errorf("REST requests %d, want 1", s.Stats().REST)
	}
}

// StallSOAP sends a SOAP answer's headers and the bytes asked for, then
// nothing, the connection open, until the client hangs up; the answer
// after it is whole.
func TestStallSOAP(t *testing.T) {
	s := NewServer(t, ServerOptions{})
	s.StallSOAP(10)
	env := `{"Body":{"AuthRequest":{"_jsns":"urn:zimbraAdmin","name":"admin@example.test","password":"admin-secret"}}}`
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/service/admin/soap", strings.NewReader(env))
	resp, err := s.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	stalls(t, resp.Body, cancel, 10)
	if tok := adminToken(t, s); tok == "" {
		t.Error("the next answer holds no token")
	}
}

// HTTP Basic: the admin's name and password on the admin port export
// any account; on the mailbox server, with a wrong password or from a
// non-admin they are refused.
func TestServerRESTBasic(t *testing.T) {
	s := NewServer(t, ServerOptions{Content: func(e Export, w io.Writer) error {
		_, err := io.WriteString(w, "data")
		return err
	}})
	s.AddAccount(Account{Name: "ann@example.test", Attrs: map[string][]string{"userPassword": {"ann-secret"}}})
	path := "/service/home/ann@example.test/?fmt=tgz"
	basic := func(base, name, pw string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.SetBasicAuth(name, pw)
		resp, err := s.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, b := basic(s.URL, "admin@example.test", "admin-secret"); st != 200 || b != "data" {
		t.Errorf("admin on the admin port: %d %q", st, b)
	}
	if ex := s.Exports(); len(ex) != 1 || !ex[0].Basic || ex[0].Cookie != "" {
		t.Errorf("exports %+v; want one, by Basic", ex)
	}
	for _, c := range []struct{ base, name, pw, what string }{
		{s.MailURL, "admin@example.test", "admin-secret", "admin on the mailbox server"},
		{s.URL, "admin@example.test", "wrong", "wrong password"},
		{s.URL, "ann@example.test", "ann-secret", "a non-admin"},
	} {
		if st, _ := basic(c.base, c.name, c.pw); st != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", c.what, st)
		}
	}
	if n := len(s.Exports()); n != 1 {
		t.Errorf("%d exports, want the refused ones not run", n)
	}
	// The mailbox server has no admin SOAP.
	resp, err := s.ts.Client().Post(s.MailURL+"/service/admin/soap", "application/json", strings.NewReader(`{"Body":{"AuthRequest":{}}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("admin SOAP on the mailbox server: %d, want 404", resp.StatusCode)
	}
}

// stalls checks that body gives want bytes and then nothing until the
// client hangs up (hangUp), when the read ends with an error.
func stalls(t *testing.T, body io.Reader, hangUp func(), want int) {
	t.Helper()
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(body)
		done <- result{len(b), err}
	}()
	select {
	case r := <-done:
		t.Fatalf("the stalled answer ended: %d bytes, %v", r.n, r.err)
	case <-time.After(300 * time.Millisecond):
	}
	hangUp()
	select {
	case r := <-done:
		if r.n != want || r.err == nil {
			t.Errorf("after hanging up: %d bytes, %v; want %d and an error", r.n, r.err, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read did not end when the client hung up")
	}
}
