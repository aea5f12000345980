package main

import (
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/internal/testservers"
)

// Each cause of a failed run has its exit code, against real servers: a
// wrong password at Dovecot, a closed loopback port, a certificate of an
// unknown CA, a wrong command line; a cause not known stays 1.
func TestExitCodesByCause(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-pw"})
	r := testservers.StartRadicale(t, map[string]string{"alice": "alice-pw"})
	archive := filepath.Join(exportSamples(t, "alice"), "alice.tgz")
	dir := t.TempDir()
	implicit, _, _ := tlsIMAP(t, selfSigned(t, filepath.Join(dir, "ca.pem")))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	wrong, right := writePassword(t, "nope"), writePassword(t, "alice-pw")
	imp := func(kind, url, pw string) []string {
		return []string{"-q", "import", kind, archive, "--url", url, "--user", "alice", "--password-file", pw, "--state", t.TempDir()}
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		say  string
	}{
		{"imap wrong password", imp("imap", "imap://"+d.Addr, wrong), exitAuth, "AUTHENTICATIONFAILED"},
		{"dav wrong password", imp("dav", r.URL, wrong), exitAuth, "refused the credentials"},
		{"imap closed port", imp("imap", "imap://"+closed, right), exitConnection, "refused"},
		{"dav closed port", imp("dav", "http://"+closed+"/", right), exitConnection, "refused"},
		{"imap unknown CA", imp("imap", "imaps://"+implicit, right), exitTLS, "certificate"},
		{"imap TLS to a plain port", imp("imap", "imaps://"+d.Addr, right), exitTLS, ""},
		{"unknown flag", []string{"export", "maildir", "--no-such-flag"}, exitUsage, "unknown flag"},
		{"missing argument", []string{"migrate", "status"}, exitUsage, "accepts 1 arg"},
		{"unknown command", []string{"frobnicate"}, exitUsage, "unknown command"},
		{"bad --url", imp("imap", "ftp://x", right), exitUsage, ""},
		{"empty --user", []string{"export", "maildir", "--user", "", "--src", sample + "/alice-maildir", "--out", dir}, exitUsage, "--user"},
		{"a plan with problems", []string{"migrate", "status", filepath.Join(dir, "no-plan.toml")}, exitUsage, "no-plan.toml"},
		{"a damaged archive (cause not known)", []string{"verify", filepath.Join(dir, "ca.pem")}, exitFailed, ""},
	} {
		code, stdout, stderr := mailhaul(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.say) {
			t.Errorf("%s: exit %d, want %d (stderr naming %q)\n%s%s", tc.name, code, tc.code, tc.say, stdout, stderr)
		}
	}
}
