package imapconn

import (
	"os"
	"path/filepath"
	"testing"
)

func TestXOAUTH2ReadsTheTokenFileOnEveryConnection(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("first-token\n"), 0o600)
	a := &Account{Auth: "xoauth2", User: "alice@example.org", Secret: TokenFile(tokenFile)}
	start := func() string {
		t.Helper()
		c, err := a.saslClient()
		if err != nil {
			t.Fatal(err)
		}
		mech, ir, err := c.Start()
		if err != nil || mech != "XOAUTH2" {
			t.Fatalf("Start() = %q, %v", mech, err)
		}
		return string(ir)
	}
	if got, want := start(), "user=alice@example.org\x01auth=Bearer first-token\x01\x01"; got != want {
		t.Errorf("initial response %q, want %q", got, want)
	}
	// Another program refreshes the token: the next connection uses it.
	os.WriteFile(tokenFile, []byte("refreshed-token"), 0o600)
	if got, want := start(), "user=alice@example.org\x01auth=Bearer refreshed-token\x01\x01"; got != want {
		t.Errorf("after a refresh: %q, want %q", got, want)
	}
	os.WriteFile(tokenFile, nil, 0o600)
	if _, err := a.saslClient(); err == nil {
		t.Error("an empty token file must be an error, not an empty bearer token")
	}
}

func TestXOAUTH2AnswersAFailureChallengeWithAnEmptyLine(t *testing.T) {
	x := &xoauth2{user: "u", token: "t"}
	x.Start()
	resp, err := x.Next([]byte(`{"status":"401","schemes":"bearer"}`))
	if err != nil || len(resp) != 0 {
		t.Errorf("Next(error JSON) = %q, %v; want an empty response so the server can send its NO", resp, err)
	}
}

func TestPlainWithAdminActsForTheUser(t *testing.T) {
	a := &Account{User: "bob@example.net", Admin: "admin", Secret: Password("secret")}
	c, err := a.saslClient()
	if err != nil {
		t.Fatal(err)
	}
	_, ir, _ := c.Start()
	if got, want := string(ir), "bob@example.net\x00admin\x00secret"; got != want {
		t.Errorf("PLAIN initial response %q, want authorization identity, admin, password", got)
	}
	if got := a.loginName(); got != "bob@example.net*admin" {
		t.Errorf("loginName = %q, want Dovecot's master-user form", got)
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		url      string
		o        URLOptions
		addr     string
		mode     Mode
		ok       bool
		plainish bool
	}{
		{"imaps://mail.example.org", URLOptions{}, "mail.example.org:993", ImplicitTLS, true, false},
		{"imap://mail.example.org", URLOptions{StartTLS: true}, "mail.example.org:143", StartTLS, true, false},
		{"imap://127.0.0.1:1143", URLOptions{}, "127.0.0.1:1143", Plain, true, true},
		{"imap://[::1]", URLOptions{}, "[::1]:143", Plain, true, true},
		{"imap://mail.example.org", URLOptions{}, "", Plain, false, false},
		{"imap://mail.example.org", URLOptions{AllowPlaintext: true}, "mail.example.org:143", Plain, true, true},
		{"imaps://u:p@mail.example.org", URLOptions{}, "", Plain, false, false},
		{"ftp://mail.example.org", URLOptions{}, "", Plain, false, false},
	}
	for _, tt := range tests {
		a, err := ParseURL(tt.url, tt.o)
		if (err == nil) != tt.ok || (tt.ok && (a.Addr != tt.addr || a.Mode != tt.mode || (a.TLS == nil) != tt.plainish)) {
			t.Errorf("ParseURL(%q, %+v) = %+v, %v; want %s mode %d ok=%v", tt.url, tt.o, a, err, tt.addr, tt.mode, tt.ok)
		}
	}
	// Dial keeps the rule too, for accounts not made from a URL.
	a := Account{Addr: "192.0.2.1:143", User: "u", Secret: Password("p")}
	if err := a.Check(); err == nil {
		t.Error("Check accepted a plaintext login to a host that is not loopback")
	}
}
