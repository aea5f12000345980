package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/report"
)

// selfSigned makes a certificate for 127.0.0.1 and writes it as PEM.
func selfSigned(t *testing.T, pemPath string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mailhaul test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pemPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// tlsIMAP serves go-imap's memory server over implicit TLS and, on a
// second port, plain with STARTTLS (login only after the upgrade).
func tlsIMAP(t *testing.T, cert tls.Certificate) (implicit, starttls string, user *imapmemserver.User) {
	t.Helper()
	mem := imapmemserver.New()
	user = imapmemserver.NewUser("alice", "alice-secret")
	user.Create("INBOX", nil)
	mem.AddUser(user)
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:      imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapLiteralPlus: {}, imap.CapUIDPlus: {}},
		TLSConfig: cfg,
	})
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	go srv.Serve(pl)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), pl.Addr().String(), user
}

func TestImportIMAPVerifiesTLS(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	implicit, starttls, _ := tlsIMAP(t, selfSigned(t, ca))
	archive := filepath.Join(exportSamples(t, "alice"), "alice.tgz")
	t.Setenv("MAILHAUL_PASSWORD", "alice-secret")
	base := []string{"-q", "import", "imap", archive, "--user", "alice", "--state", filepath.Join(dir, "state")}

	// The system's roots do not know a self-signed certificate.
	for _, url := range []string{"imaps://" + implicit, "imap://" + starttls} {
		args := append(append([]string{}, base...), "--url", url)
		if strings.HasPrefix(url, "imap:") {
			args = append(args, "--starttls")
		}
		code, _, stderr := mailhaul(t, args...)
		if code != exitTLS || !strings.Contains(stderr, "certificate") {
			t.Errorf("%s without --tls-ca: exit %d, stderr %q; want exit %d (TLS) naming the certificate", url, code, stderr, exitTLS)
		}
	}
	// Trusted through --tls-ca, both ways in.
	for i, url := range []string{"imaps://" + implicit, "imap://" + starttls} {
		reportPath := filepath.Join(dir, "report.json")
		args := append(append([]string{}, base...), "--url", url, "--tls-ca", ca, "--report", reportPath)
		if i == 1 {
			args = append(args, "--starttls")
		}
		code, stdout, stderr := mailhaul(t, args...)
		if code != exitOK {
			t.Fatalf("%s with --tls-ca: exit %d\n%s\n%s", url, code, stdout, stderr)
		}
		var rep report.Report
		b, _ := os.ReadFile(reportPath)
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		// The second run finds everything already there.
		if rep.Failed != 0 || rep.Imported+rep.Present == 0 || (i == 1 && rep.Imported != 0) {
			t.Errorf("%s with --tls-ca: %s", url, rep.Line())
		}
	}
	// A file without a certificate is an error, not "trust nothing".
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o644)
	code, _, stderr := mailhaul(t, append(base, "--url", "imaps://"+implicit, "--tls-ca", bad)...)
	if code != exitUsage || !strings.Contains(stderr, "no PEM certificate") {
		t.Errorf("--tls-ca with a bad file: exit %d, %q", code, stderr)
	}
}

// TestImportIMAPAsAdmin logs in as Dovecot's master user on behalf of the
// mailbox owner, by SASL PLAIN's authorization identity and by LOGIN's
// "user*master" form; the mail must land in the owner's mailbox.
func TestImportIMAPAsAdmin(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret"})
	dir := t.TempDir()
	archive := filepath.Join(exportSamples(t, "alice"), "alice.tgz")
	pw := filepath.Join(dir, "master-password")
	os.WriteFile(pw, []byte(d.MasterPassword+"\n"), 0o600)
	wrong := filepath.Join(dir, "wrong")
	os.WriteFile(wrong, []byte("nope\n"), 0o600)
	base := []string{"-q", "import", "imap", archive, "--url", "imap://" + d.Addr, "--user", "alice",
		"--admin", d.Master, "--provider", "dovecot"}

	for i, auth := range []string{"plain", "login"} {
		reportPath := filepath.Join(dir, auth+".json")
		code, out, stderr := mailhaul(t, append(base, "--auth", auth, "--password-file", pw, "--report", reportPath,
			"--state", filepath.Join(dir, auth))...)
		if code != exitOK {
			t.Fatalf("--auth %s --admin: exit %d\n%s\n%s", auth, code, out, stderr)
		}
		var rep report.Report
		b, _ := os.ReadFile(reportPath)
		json.Unmarshal(b, &rep)
		// A fresh journal each time: the second login finds the first's mail.
		if (i == 0 && rep.Imported == 0) || (i == 1 && (rep.Imported != 0 || rep.Present == 0)) || rep.Failed != 0 {
			t.Errorf("--auth %s --admin: %s", auth, rep.Line())
		}
	}
	c, err := imapclient.DialInsecure(d.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", "alice-secret").Wait(); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || st.NumMessages == nil || *st.NumMessages == 0 {
		t.Errorf("alice's INBOX after the admin imports: %+v, %v; want messages", st, err)
	}
	if _, err := os.Stat(filepath.Join(d.Dir, "mail", d.Master)); err == nil {
		t.Error("a mailbox was created for the master user itself")
	}
	// Last: Dovecot slows every login from an address after a failed one.
	code, _, stderr := mailhaul(t, append(base, "--password-file", wrong, "--state", filepath.Join(dir, "s0"))...)
	if code != exitAuth || !strings.Contains(stderr, "refused") {
		t.Errorf("wrong master password: exit %d, %q; want exit %d (authentication), login refused", code, stderr, exitAuth)
	}
}

func TestImportIMAPRefusesCleartextPasswordsOffLoopback(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("secret\n"), 0o600)
	base := importIMAPFlags{imapLogin: imapLogin{user: "alice@example.org", passwordFile: pw, auth: "plain"}}
	for _, tc := range []struct {
		url       string
		startTLS  bool
		plaintext bool
		ok        bool
	}{
		{url: "imap://mail.example.org", ok: false},
		{url: "imap://192.0.2.7:143", ok: false},
		{url: "imap://mail.example.org", startTLS: true, ok: true},
		{url: "imap://mail.example.org", plaintext: true, ok: true},
		{url: "imaps://mail.example.org", ok: true},
		{url: "imap://127.0.0.1:1143", ok: true},
		{url: "imap://localhost:1143", ok: true},
		{url: "imap://[::1]:1143", ok: true},
	} {
		f := base
		f.url, f.startTLS, f.allowPlaintext = tc.url, tc.startTLS, tc.plaintext
		_, err := imapOptions(&f)
		if (err == nil) != tc.ok {
			t.Errorf("%s starttls=%v allow-plaintext=%v: err %v; want ok=%v", tc.url, tc.startTLS, tc.plaintext, err, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("the error leaks the password: %v", err)
		}
	}
}

// TestImportIMAPRefusedFolderIsPartial imports a Thunderbird profile with
// a folder "Release v1.2" into a Dovecot that refuses "." in names: the
// run goes on past it, exits 3, lists that folder's messages with the
// server's answer and the --folder-map line, and the suggested map then
// finishes the import.
func TestImportIMAPRefusedFolderIsPartial(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"bob": "bob-secret"}, testservers.WithSeparator("/"))
	dir := t.TempDir()
	src := filepath.Join(dir, "profile")
	os.MkdirAll(src, 0o755)
	for from, to := range map[string]string{"Inbox": "Inbox", "Sent": "Release v1.2"} {
		b, err := os.ReadFile(filepath.Join(sample, "bob-mbox", from))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, to), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "out")
	mustRun(t, "export", "mbox", "--user", "bob", "--src", src, "--out", out)
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("bob-secret\n"), 0o600)
	reportPath := filepath.Join(dir, "report.json")
	args := []string{"import", "imap", filepath.Join(out, "bob.tgz"), "--url", "imap://" + d.Addr, "--user", "bob",
		"--password-file", pw, "--provider", "dovecot", "--state", filepath.Join(dir, "state"), "--report", reportPath}

	code, stdout, stderr := mailhaul(t, args...)
	if code != exitPartial {
		t.Fatalf("exit %d, want 3\n%s\n%s", code, stdout, stderr)
	}
	var rep report.Report
	b, _ := os.ReadFile(reportPath)
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Imported == 0 || rep.Failed == 0 {
		t.Fatalf("report: %s; want the Inbox imported and Release v1.2 failed", rep.Line())
	}
	for _, f := range rep.Failures {
		if f.Folder != "Release v1.2" || !strings.Contains(f.Reason, "Character not allowed") {
			t.Errorf("failure %+v: want Release v1.2 with Dovecot's answer", f)
		}
	}
	if !strings.Contains(stdout, "NOT on the target") || !strings.Contains(stderr, "failed: bob: Release v1.2: ") ||
		!strings.Contains(stderr, `--folder-map (for example the line "Release v1.2 = Release v1_2")`) {
		t.Errorf("summary does not list the refused folder's messages with the fix:\n%s\n%s", stdout, stderr)
	}

	fm := filepath.Join(dir, "folders.map")
	os.WriteFile(fm, []byte("Release v1.2 = Release v1_2\n"), 0o600)
	code, stdout, stderr = mailhaul(t, append(args, "--folder-map", fm)...)
	if code != exitOK || !strings.Contains(stdout, "all ") {
		t.Errorf("with the suggested --folder-map: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// TestImportIMAPApplyDeletionsFlag: from the command line, a delta's
// deletion is listed ("would delete") without --apply-deletions, and made
// with it; both runs exit 0.
func TestImportIMAPApplyDeletionsFlag(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret"})
	dir := t.TempDir()
	src := filepath.Join(dir, "Maildir")
	for _, sub := range []string{"cur", "new", "tmp", ".Trash/cur", ".Trash/new", ".Trash/tmp"} {
		os.MkdirAll(filepath.Join(src, sub), 0o755)
	}
	gone := filepath.Join(src, ".Trash/cur/1000000001.M1P1.host:2,S")
	os.WriteFile(filepath.Join(src, "cur/1000000002.M2P2.host:2,S"), []byte("Subject: kept\nMessage-ID: <kept@x>\n\nkept\n"), 0o644)
	os.WriteFile(gone, []byte("Subject: gone\nMessage-ID: <gone@x>\n\ngone\n"), 0o644)
	mustRun(t, "export", "maildir", "--user", "alice", "--src", src, "--out", filepath.Join(dir, "full"))
	full := filepath.Join(dir, "full", "alice.tgz")
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("alice-secret\n"), 0o600)
	base := []string{"import", "imap", "--url", "imap://" + d.Addr, "--user", "alice", "--password-file", pw,
		"--provider", "dovecot", "--state", filepath.Join(dir, "state"), "--settle", "1ms"}
	if code, stdout, stderr := mailhaul(t, append(base, full)...); code != exitOK {
		t.Fatalf("full import: exit %d\n%s\n%s", code, stdout, stderr)
	}
	os.Remove(gone)
	mustRun(t, "export", "maildir", "--user", "alice", "--src", src, "--out", filepath.Join(dir, "delta"), "--since", full)
	deltas, _ := filepath.Glob(filepath.Join(dir, "delta", "alice*.tgz"))
	if len(deltas) != 1 {
		t.Fatalf("delta archives: %v", deltas)
	}
	delta := deltas[0]

	code, stdout, stderr := mailhaul(t, append(base, full, delta)...)
	if code != exitOK || !strings.Contains(stdout, "would delete: alice: Trash: Trash/1000000001.M1P1.host") ||
		!strings.Contains(stdout, "1 deleted at the source are still on the target") {
		t.Errorf("without --apply-deletions: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = mailhaul(t, append(base, "--apply-deletions", full, delta)...)
	if code != exitOK || !strings.Contains(stdout, "0 added, 0 updated, 0 moved, 1 deleted") {
		t.Errorf("with --apply-deletions: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, mb := range testservers.ReadMailboxes(t, d.Addr, "alice", "alice-secret") {
		if mb.Name == "Trash" && len(mb.Messages) != 0 {
			t.Errorf("Trash still holds %d messages after --apply-deletions", len(mb.Messages))
		}
	}
}
