package main

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/export/zimbra/zimbratest"
	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/internal/trace"
)

// TestDebugTracesIMAPImport: --debug on an import into a real Dovecot
// traces the login, the folders and the appends on stderr, with neither
// the password nor PLAIN's base64 of it, and the trace ends with the run.
func TestDebugTracesIMAPImport(t *testing.T) {
	const secret = "D3bug-impo-Pw"
	d := testservers.StartDovecot(t, map[string]string{"alice": secret})
	dir := t.TempDir()
	archive := filepath.Join(exportSamples(t, "alice"), "alice.tgz")
	pw := filepath.Join(dir, "password")
	os.WriteFile(pw, []byte(secret+"\n"), 0o600)
	for _, auth := range []string{"plain", "login"} {
		var out, errw syncBuffer // stderr, as a terminal is, takes the trace and the command at once
		code := run(context.Background(), []string{"--debug", "-q", "import", "imap", archive, "--url", "imap://" + d.Addr,
			"--user", "alice", "--auth", auth, "--password-file", pw, "--state", filepath.Join(dir, auth)}, &out, &errw)
		got := errw.String()
		if code != exitOK {
			t.Fatalf("--auth %s: exit %d\n%s", auth, code, got)
		}
		if trace.Enabled() {
			t.Error("the trace is still on after the run")
		}
		plain := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + secret))
		if strings.Contains(got, secret) || strings.Contains(got, plain) {
			t.Errorf("--auth %s: the trace shows the password:\n%s", auth, got)
		}
		want := map[string]string{"plain": " AUTHENTICATE PLAIN [redacted]", "login": " LOGIN [redacted]"}[auth]
		for _, w := range []string{want, "S: * OK", " LIST ", "S: * LIST "} {
			if !strings.Contains(got, w) {
				t.Errorf("--auth %s: trace lacks %q:\n%s", auth, w, got)
			}
		}
		if auth == "plain" && (!strings.Contains(got, " APPEND ") || !strings.Contains(got, "not shown)")) {
			t.Errorf("the first import's trace lacks its appends, named by size:\n%s", got)
		}
	}
}

// TestDebugTracesZimbraLiveExport: --debug on a live Zimbra export (the
// fake Zimbra over TLS) traces the SOAP requests by name and the REST
// exports, with delegated tokens (ZM_AUTH_TOKEN), through the admin port
// (ZM_ADMIN_AUTH_TOKEN) and as HTTP Basic; neither the admin password,
// nor any token the server issued, nor the Basic credentials appear.
func TestDebugTracesZimbraLiveExport(t *testing.T) {
	for _, mode := range []struct {
		name  string
		flags []string
		want  []string
	}{
		{"delegated", nil, []string{"(AuthRequest)", "(DelegateAuthRequest)", "Cookie: [redacted]"}},
		{"admin port", []string{"--via-admin-port"}, []string{"(AuthRequest)", "Cookie: [redacted]"}},
		{"basic", []string{"--rest-auth", "basic"}, []string{"(AuthRequest)", "Authorization: [redacted]"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			z := startLiveZimbra(t, "zed", zimbratest.ServerOptions{}, zimbraLiveItems()...)
			args := append([]string{"--debug", "-q", "export", "zimbra", "--user", "zed", "--out", t.TempDir()}, z.args...)
			code, stdout, got := mailhaul(t, append(args, mode.flags...)...)
			if code != exitOK {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, got)
			}
			wantZimbraTrace(t, z, got, mode.want...)
		})
	}
}

// wantZimbraTrace: the trace got of a live export from z names its SOAP
// requests and REST exports, and holds neither the admin password, nor a
// token z issued, nor the admin's Basic credentials.
func wantZimbraTrace(t *testing.T, z *liveZimbra, got string, more ...string) {
	t.Helper()
	secrets := append(z.s.Secrets(), base64.StdEncoding.EncodeToString([]byte("admin@example.test:admin-secret")))
	if len(secrets) < 3 {
		t.Fatalf("the fake issued no token: %q", secrets)
	}
	for _, s := range secrets {
		if strings.Contains(got, s) {
			t.Errorf("the trace shows the secret %q:\n%s", s, got)
		}
	}
	want := append([]string{"/service/admin/soap HTTP/1.1 (AuthRequest)", "(GetAccountRequest)", "(GetFolderRequest)",
		"/service/home/zed/", "fmt=tgz", "S: HTTP/1.1 200 OK", "not shown)"}, more...)
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("trace lacks %q:\n%s", w, got)
		}
	}
	// The user's exports are labelled with it, whatever else runs.
	if !regexp.MustCompile(`(?m)^\S+ \[zed\] http#\d+ \S+ C: GET https://\S+/service/home/zed/`).MatchString(got) {
		t.Errorf("the exports are not labelled with their user:\n%s", got)
	}
}

// TestDebugFile: --debug-file writes the trace of a live Zimbra export to
// a new file, mode 0600, without the secrets; stderr gets none of it,
// and the trace is off after the run. A file that cannot be made is an
// error before anything is sent.
func TestDebugFile(t *testing.T) {
	z := startLiveZimbra(t, "zed", zimbratest.ServerOptions{}, zimbraLiveItems()...)
	file := filepath.Join(t.TempDir(), "trace.txt")
	code, stdout, stderr := mailhaul(t, append([]string{"--debug-file", file, "export", "zimbra", "--user", "zed", "--out", t.TempDir()}, z.args...)...)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if trace.Enabled() {
		t.Error("the trace is still on after the run")
	}
	b := readDebugFile(t, file, stdout+stderr)
	wantZimbraTrace(t, z, b, "(DelegateAuthRequest)", "Cookie: [redacted]")

	before := len(z.s.Secrets())
	code, _, stderr = mailhaul(t, append([]string{"--debug-file", filepath.Join(file, "under-a-file"), "export", "zimbra", "--user", "zed", "--out", t.TempDir()}, z.args...)...)
	if code == exitOK || !strings.Contains(stderr, "--debug-file") || len(z.s.Secrets()) != before {
		t.Errorf("an impossible --debug-file: exit %d, %d tokens issued\n%s", code, len(z.s.Secrets())-before, stderr)
	}
}
