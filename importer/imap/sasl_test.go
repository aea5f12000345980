package imap

import (
	"os"
	"path/filepath"
	"testing"
)

func TestXOAUTH2ReadsTheTokenFileOnEveryConnection(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("first-token\n"), 0o600)
	newClient, err := newSASL(&Options{Auth: "xoauth2", User: "alice@example.org", TokenFile: tokenFile})
	if err != nil {
		t.Fatal(err)
	}
	start := func() string {
		t.Helper()
		c, err := newClient()
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
	if _, err := newClient(); err == nil {
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
	newClient, err := newSASL(&Options{User: "bob@example.net", Admin: "admin", Password: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := newClient()
	_, ir, _ := c.Start()
	if got, want := string(ir), "bob@example.net\x00admin\x00secret"; got != want {
		t.Errorf("PLAIN initial response %q, want authorization identity, admin, password", got)
	}
	if got := loginName(&Options{User: "bob@example.net", Admin: "admin"}); got != "bob@example.net*admin" {
		t.Errorf("loginName = %q, want Dovecot's master-user form", got)
	}
}
