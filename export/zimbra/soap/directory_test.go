package soap_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export/zimbra"
	"github.com/mailhaul/mailhaul/export/zimbra/soap"
	"github.com/mailhaul/mailhaul/export/zimbra/zimbratest"
)

func readGAA(t *testing.T, in string, withHash bool) ([]soap.Account, error) {
	t.Helper()
	var out []soap.Account
	err := soap.ReadGAA(strings.NewReader(in), withHash, func(a soap.Account) error {
		out = append(out, a)
		return nil
	})
	return out, err
}

func TestReadGAAPlain(t *testing.T) {
	got, err := readGAA(t, "admin@example.test\r\nann@example.test\n\nbob@example.test\n", false)
	if err != nil || len(got) != 3 || got[1].Name != "ann@example.test" || got[2].Name != "bob@example.test" {
		t.Errorf("%+v, %v", got, err)
	}
	_, err = readGAA(t, "ann@example.test\nWARN: something odd\n", false)
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "WARN") {
		t.Errorf("a stray line: %v; want an error naming line 2", err)
	}
}

// zmprov -l gaa -v: attributes per account, a Sieve script over several
// lines (blank ones included), the hash only when asked.
func TestReadGAAVerbose(t *testing.T) {
	in := `# name ann@example.test
cn: Ann
displayName: Ann Example
mail: ann@example.test
userPassword: {SSHA512}c2VjcmV0
zimbraId: 1111-2222
zimbraMailAlias: a@example.test
zimbraMailAlias: annie@example.test
zimbraMailSieveScript: require ["fileinto"];

if header :contains "Subject" "x" {
Subject: not an attribute
  fileinto "X";
}
zimbraPrefTimeZoneId: Europe/Berlin

# name bob@example.test
zimbraMailHost: mbox2.example.test

`
	got, err := readGAA(t, in, false)
	if err != nil || len(got) != 2 {
		t.Fatalf("%+v, %v", got, err)
	}
	ann := got[0]
	wantSieve := "require [\"fileinto\"];\n\nif header :contains \"Subject\" \"x\" {\nSubject: not an attribute\n  fileinto \"X\";\n}"
	if ann.Name != "ann@example.test" || ann.ID != "1111-2222" || ann.Attr("displayName") != "Ann Example" ||
		len(ann.Attrs["zimbraMailAlias"]) != 2 || ann.Attr("zimbraMailSieveScript") != wantSieve ||
		ann.Attr("zimbraPrefTimeZoneId") != "Europe/Berlin" || ann.PasswordHash != "" || ann.Attrs["userPassword"] != nil {
		t.Errorf("ann: %+v\nsieve %q", ann, ann.Attr("zimbraMailSieveScript"))
	}
	if got[1].MailHost() != "mbox2.example.test" {
		t.Errorf("bob: %+v", got[1])
	}
	got, _ = readGAA(t, in, true)
	if got[0].PasswordHash != "{SSHA512}c2VjcmV0" {
		t.Errorf("with the hash asked: %q", got[0].PasswordHash)
	}
	if _, err := readGAA(t, "# name not an address\n", false); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad name: %v", err)
	}
}

// start= is a second early, because Zimbra's after: excludes the second
// it names; the trash/junk rule follows ZimbraQuery.
func TestDeltaRules(t *testing.T) {
	T := time.UnixMilli(1714550400123)
	if got := soap.StartParam(T); got != "1714550399123" {
		t.Errorf("StartParam = %s", got)
	}
	for _, c := range []struct {
		e    soap.Export
		want bool
	}{
		{soap.Export{}, false},
		{soap.Export{Folder: "/"}, false},
		{soap.Export{Query: "after:1"}, false},
		{soap.Export{Folder: "/Trash"}, true},
		{soap.Export{Folder: "/Junk/sub"}, true},
		{soap.Export{Folder: "/Inbox"}, false},
		{soap.Export{Query: "is:anywhere"}, true},
		{soap.Export{Query: "in:trash"}, false}, // Junk still left out
	} {
		if got := c.e.IncludesTrashAndJunk(); got != c.want {
			t.Errorf("%+v: %v, want %v", c.e, got, c.want)
		}
	}
	p := soap.Plan(T)
	if len(p) != 3 || p[0].Folder != "/" || p[1].Folder != "/Trash" || p[2].Folder != "/Junk" || p[0].Query != "is:local after:"+soap.StartParam(T) || p[2].Query != "after:"+soap.StartParam(T) {
		t.Errorf("Plan = %+v", p)
	}
}

// gaa -v prints every attribute: the listing keeps the documented ones
// (AccountAttrs) and leaves out the old password hashes, the auth tokens
// and the rest, continuation lines included.
func TestReadGAAKeepsAccountAttrsOnly(t *testing.T) {
	in := "# name zed@example.test\ndisplayName: Zed\nuserPassword: {SSHA512}current\n" +
		"zimbraPasswordHistory: 1700000000000:{SSHA512}oldhash\nzimbraAuthTokens: 123456|1700000000000|10.0.0_GA\n" +
		"zimbraNotes: first\nsecond line\nzimbraMailQuota: 1048576\nzimbraPrefTimeZoneId: Europe/Berlin\n"
	got, err := readGAA(t, in, false)
	if err != nil || len(got) != 1 {
		t.Fatalf("%+v, %v", got, err)
	}
	z := got[0]
	for _, secret := range []string{"zimbraPasswordHistory", "zimbraAuthTokens", "zimbraNotes", "userPassword"} {
		if z.Attrs[secret] != nil {
			t.Errorf("%s kept: %q", secret, z.Attrs[secret])
		}
	}
	if z.Attr("displayName") != "Zed" || z.Attr("zimbraMailQuota") != "1048576" || z.Attr("zimbraPrefTimeZoneId") != "Europe/Berlin" || len(z.Attrs) != 3 {
		t.Errorf("the documented attributes: %v", z.Attrs)
	}
	r := zimbra.Record(z)
	if fmt.Sprint(r.SourceAttributes) != fmt.Sprint(z.Attrs) || r.PasswordHash != "" {
		t.Errorf("the account record: %+v", r)
	}
}

// A server that says more accounts follow but sends only the page's
// overlap (the last account of the page before) again and again does
// not hold the listing in a loop of requests: it is an error.
func TestAccountsListingMakesProgress(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch {
		case strings.Contains(string(b), "AuthRequest"):
			io.WriteString(w, `{"Body":{"AuthResponse":{"authToken":[{"_content":"tok"}],"lifetime":43200000}}}`)
		case n.Add(1) > 50:
			http.Error(w, "too many pages", http.StatusTeapot)
		case n.Load() == 1:
			io.WriteString(w, `{"Body":{"SearchDirectoryResponse":{"more":true,"searchTotal":3,"account":[{"name":"a@x.test","id":"1"},{"name":"b@x.test","id":"2"}]}}}`)
		default:
			io.WriteString(w, `{"Body":{"SearchDirectoryResponse":{"more":true,"searchTotal":3,"account":[{"name":"b@x.test","id":"2"}]}}}`)
		}
	}))
	defer srv.Close()
	c, err := soap.New(soap.Config{URL: srv.URL, Admin: "admin", PageSize: 2, RequestsPerSecond: -1,
		Password: func() (string, error) { return "pw", nil }})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Accounts(context.Background(), soap.Search{}, func(soap.Account) error { return nil })
	if err == nil || strings.Contains(err.Error(), "too many pages") || n.Load() > 10 {
		t.Errorf("after %d pages: %v; want an error naming the stalled listing", n.Load(), err)
	}
}

// The whole listing is held before the exports begin, so it holds what
// the run needs of each account (name, id, zimbraMailHost), not the
// record GetAccount reads per user (Sieve scripts, out-of-office
// texts): 25,000 of those would be held for the whole run. Also from a
// server that answers every attribute whatever attrs= asks.
func TestAccountsListingHoldsLittle(t *testing.T) {
	for _, ignore := range []bool{false, true} {
		s, c := pair(t, zimbratest.ServerOptions{IgnoreAttrs: ignore}, soap.Config{})
		s.AddAccount(zimbratest.Account{Name: "ann@example.test", Attrs: map[string][]string{
			"zimbraMailSieveScript": {strings.Repeat("# a long filter\n", 1000)}, "displayName": {"Ann"}}})
		var listed []soap.Account
		if err := c.Accounts(context.Background(), soap.Search{}, func(a soap.Account) error {
			listed = append(listed, a)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(listed) != 1 || listed[0].MailHost() == "" || listed[0].ID == "" || len(listed[0].Attrs) != 1 {
			t.Errorf("IgnoreAttrs %v: listed %+v; want the name, id and zimbraMailHost alone", ignore, listed)
		}
	}
}
