package plan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export/zimbra/zimbratest"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// servers starts a real Dovecot and Radicale with alice and bob.
func servers(t *testing.T) (*testservers.Dovecot, *testservers.Radicale) {
	t.Helper()
	users := map[string]string{"alice": "alice-pw", "bob": "bob-pw"}
	return testservers.StartDovecot(t, users), testservers.StartRadicale(t, users)
}

// reachPlan writes a plan over a Maildir source for alice and bob into the
// given Dovecot and Radicale; imap is the [target.imap] login part.
func reachPlan(t *testing.T, d *testservers.Dovecot, r *testservers.Radicale, imap string, secrets map[string]string) string {
	t.Helper()
	files := map[string]string{
		"plan.toml": fmt.Sprintf(`[source]
kind = "maildir"
root = "mail"
path = "{localpart}/Maildir"

[archive]
dir = "archives"

[target.imap]
url = "imap://%s"
%s

[target.dav]
url = %q
password_file = "secrets/dav-{login}.pw"

[users]
file = "users.csv"

[limits]
users = 2
`, d.Addr, imap, r.URL),
		"users.csv":                 "source,target\nalice@example.org,alice\nbob@example.org,bob\n",
		"mail/alice/Maildir/cur/.k": "", "mail/alice/Maildir/new/.k": "",
		"mail/bob/Maildir/cur/.k": "", "mail/bob/Maildir/new/.k": "",
	}
	for k, v := range secrets {
		files[k] = v
	}
	dir := write(t, t.TempDir(), files)
	return filepath.Join(dir, "plan.toml")
}

func perUserSecrets(bobIMAP, bobDAV string) map[string]string {
	return map[string]string{
		"secrets/imap-alice.pw": "alice-pw\n", "secrets/imap-bob.pw": bobIMAP + "\n",
		"secrets/dav-alice.pw": "alice-pw\n", "secrets/dav-bob.pw": bobDAV + "\n",
	}
}

const perUserIMAP = `password_file = "secrets/imap-{login}.pw"`

// reach loads path and runs Reach, returning every outcome.
func reach(t *testing.T, path string, logins bool) []Reached {
	t.Helper()
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var mu sync.Mutex
	var out []Reached
	p.Reach(ctx, ReachOptions{Logins: logins, Timeout: 30 * time.Second}, func(r Reached) {
		mu.Lock()
		defer mu.Unlock()
		out = append(out, r)
	})
	return out
}

func find(rs []Reached, role, user string) (Reached, bool) {
	for _, r := range rs {
		if r.Role == role && r.User == user {
			return r, true
		}
	}
	return Reached{}, false
}

func TestReachRealServers(t *testing.T) {
	d, r := servers(t)
	path := reachPlan(t, d, r, perUserIMAP, perUserSecrets("bob-pw", "bob-pw"))
	rs := reach(t, path, true)
	for _, x := range rs {
		if x.Err != nil {
			t.Errorf("%s %s %s: %v", x.Role, x.Where, x.User, x.Err)
		}
	}
	// archive; the source root and the two targets once; per user
	// (alice, bob) the Maildir and the two targets.
	if len(rs) != 1+3+2*3 {
		t.Errorf("%d checks, want 10: %+v", len(rs), rs)
	}
	if x, ok := find(rs, "target imap", "bob@example.org"); !ok || !strings.Contains(x.Detail, "logged in as bob") || !strings.Contains(x.Detail, "mailboxes") {
		t.Errorf("bob's IMAP check: %+v", x)
	}
	if x, ok := find(rs, "target dav", "alice@example.org"); !ok || !strings.Contains(x.Detail, "logged in as alice") {
		t.Errorf("alice's DAV check: %+v", x)
	}
}

// A wrong password is named by user and server, with the server's
// reason, and costs only that user's check.
func TestReachWrongPasswordNamesUser(t *testing.T) {
	d, r := servers(t)
	path := reachPlan(t, d, r, perUserIMAP, perUserSecrets("wrong", "wrong"))
	rs := reach(t, path, true)
	imap, ok := find(rs, "target imap", "bob@example.org")
	if !ok || imap.Err == nil || !strings.Contains(strings.ToLower(imap.Err.Error()), "authentication failed") {
		t.Errorf("bob's IMAP check: %+v", imap)
	}
	dav, ok := find(rs, "target dav", "bob@example.org")
	if !ok || dav.Err == nil || !strings.Contains(dav.Err.Error(), "401") {
		t.Errorf("bob's DAV check: %+v", dav)
	}
	for _, role := range []string{"target imap", "target dav", "source maildir"} {
		if x, ok := find(rs, role, "alice@example.org"); !ok || x.Err != nil {
			t.Errorf("alice's %s check: %+v", role, x)
		}
	}
	// Without --logins only the servers are checked, with the first user.
	for _, x := range reach(t, path, false) {
		if x.User != "" || x.Err != nil {
			t.Errorf("server check: %+v", x)
		}
	}
}

// A master user logs in for each user; a wrong master password fails the
// server check itself.
func TestReachAdminLogin(t *testing.T) {
	d, r := servers(t)
	secrets := perUserSecrets("bob-pw", "bob-pw")
	secrets["secrets/master.pw"] = d.MasterPassword
	admin := fmt.Sprintf("admin = %q\npassword_file = \"secrets/master.pw\"", d.Master)
	rs := reach(t, reachPlan(t, d, r, admin, secrets), true)
	if x, ok := find(rs, "target imap", "bob@example.org"); !ok || x.Err != nil || !strings.Contains(x.Detail, d.Master+" for bob") {
		t.Errorf("bob's IMAP check through the master user: %+v", x)
	}
	secrets["secrets/master.pw"] = "not-it"
	rs = reach(t, reachPlan(t, d, r, admin, secrets), false)
	if x, ok := find(rs, "target imap", ""); !ok || x.Err == nil {
		t.Errorf("the server check with a wrong master password: %+v", x)
	}
}

// A missing Maildir is named by user.
func TestReachMissingMaildir(t *testing.T) {
	d, r := servers(t)
	path := reachPlan(t, d, r, perUserIMAP, perUserSecrets("bob-pw", "bob-pw"))
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	bob := p.Users()[1]
	if err := os.RemoveAll(bob.SourcePath); err != nil {
		t.Fatal(err)
	}
	rs := reach(t, path, true)
	if x, ok := find(rs, "source maildir", "bob@example.org"); !ok || x.Err == nil || !strings.Contains(x.Err.Error(), "no such file") {
		t.Errorf("bob's Maildir check: %+v", x)
	}
}

// A Zimbra source: the admin logs in and the directory is listed (users.all),
// or each CSV user is looked up; a wrong admin password is named.
func TestReachZimbra(t *testing.T) {
	z := zimbratest.NewServer(t, zimbratest.ServerOptions{})
	z.AddAccount(zimbratest.Account{Name: "alice@example.test"})
	z.AddAccount(zimbratest.Account{Name: "bob@example.test"})
	rad := testservers.StartRadicale(t, map[string]string{"alice@example.test": "a", "bob@example.test": "b"})
	plan := func(users string) map[string]string {
		return map[string]string{
			"plan.toml": fmt.Sprintf(`[source]
kind = "zimbra"
url = %q
admin = "admin@example.test"
password_file = "secrets/admin.pw"
tls_ca = "zimbra.pem"

[archive]
dir = "archives"

[target.imap]
url = "imap://127.0.0.1:1"
admin = "master"
password_file = "secrets/admin.pw"

[target.dav]
url = %q
password_file = "secrets/{user}.pw"

[users]
%s
`, z.URL, rad.URL, users),
			"zimbra.pem":                     string(z.CertificatePEM()),
			"secrets/admin.pw":               "admin-secret\n",
			"users.csv":                      "source\nalice@example.test\nnobody@example.test\n",
			"secrets/alice@example.test.pw":  "a",
			"secrets/bob@example.test.pw":    "b",
			"secrets/nobody@example.test.pw": "n",
		}
	}
	dir := write(t, t.TempDir(), plan("all = true"))
	rs := reach(t, filepath.Join(dir, "plan.toml"), true)
	if x, ok := find(rs, "source zimbra", ""); !ok || x.Err != nil || !strings.Contains(x.Detail, "2 accounts") {
		t.Errorf("the directory listing: %+v", x)
	}
	if x, ok := find(rs, "target dav", "bob@example.test"); !ok || x.Err != nil {
		t.Errorf("bob, listed from the directory, is checked on the target: %+v", x)
	}
	// The IMAP target does not answer: checked once, not for each user.
	if x, ok := find(rs, "target imap", ""); !ok || x.Err == nil {
		t.Errorf("the dead IMAP target: %+v", x)
	}
	if x, ok := find(rs, "target imap", "alice@example.test"); ok {
		t.Errorf("a dead server tried again for a user: %+v", x)
	}

	write(t, dir, plan(`file = "users.csv"`))
	rs = reach(t, filepath.Join(dir, "plan.toml"), true)
	if x, ok := find(rs, "source zimbra", "alice@example.test"); !ok || x.Err != nil {
		t.Errorf("alice's lookup: %+v", x)
	}
	if x, ok := find(rs, "source zimbra", "nobody@example.test"); !ok || x.Err == nil {
		t.Errorf("a user Zimbra does not have: %+v", x)
	}

	write(t, dir, map[string]string{"secrets/admin.pw": "wrong\n"})
	rs = reach(t, filepath.Join(dir, "plan.toml"), true)
	if x, ok := find(rs, "source zimbra", ""); !ok || x.Err == nil || !strings.Contains(x.Err.Error(), "AUTH_FAILED") {
		t.Errorf("a wrong admin password: %+v", x)
	}
	if x, ok := find(rs, "source zimbra", "alice@example.test"); ok {
		t.Errorf("a refused admin login tried again for a user: %+v", x)
	}
}

// An SFTP archive place: reached through the real sshd with its host key
// verified; a known_hosts without it fails by name.
func TestReachSFTPArchive(t *testing.T) {
	s := testservers.StartSSHD(t, testservers.SSHDOptions{})
	dir := t.TempDir()
	plan := func(knownHosts string) {
		write(t, dir, map[string]string{
			"plan.toml": fmt.Sprintf(`[source]
kind = "mbox"
root = "mail"
path = "{user}"

[archive]
sftp = %q
identity_file = %q
known_hosts = %q
state = "state"

[target.dav]
url = "http://127.0.0.1:1/"
password_file = "secrets/{user}"

[users]
file = "users.csv"
`, s.URL(filepath.Join(dir, "remote")), s.Identity, knownHosts),
			"users.csv":        "source\nalice\n",
			"mail/alice":       "",
			"secrets/alice":    "pw",
			"other_known_host": "127.0.0.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMb0Zk0Xh4m0uJQ3l3Jp0x6gJ2kq5o5c0Jc3n4b2v4Zk\n",
		})
	}
	plan(s.KnownHosts)
	rs := reach(t, filepath.Join(dir, "plan.toml"), false)
	if x, ok := find(rs, "archive sftp", ""); !ok || x.Err != nil {
		t.Errorf("the SFTP archive: %+v", x)
	}
	plan(filepath.Join(dir, "other_known_host"))
	rs = reach(t, filepath.Join(dir, "plan.toml"), false)
	if x, ok := find(rs, "archive sftp", ""); !ok || x.Err == nil {
		t.Errorf("an SFTP server whose host key is not the known one: %+v", x)
	} else {
		t.Logf("refused: %v", x.Err)
	}
}

// An IMAP source read through a master user, each user's login checked
// on it; a user the source does not have is named.
func TestReachIMAPSource(t *testing.T) {
	d, r := servers(t)
	dir := write(t, t.TempDir(), map[string]string{
		"plan.toml": fmt.Sprintf(`[source]
kind = "imap"
url = "imap://%s"
admin = %q
password_file = "master.pw"

[archive]
dir = "archives"

[target.dav]
url = %q
password_file = "dav-{login}.pw"

[users]
file = "users.csv"
`, d.Addr, d.Master, r.URL),
		"master.pw": d.MasterPassword, "dav-alice.pw": "alice-pw", "dav-bob.pw": "bob-pw", "dav-carol.pw": "x",
		"users.csv": "source,target\nalice,alice\nbob,bob\ncarol,carol\n",
	})
	rs := reach(t, filepath.Join(dir, "plan.toml"), true)
	if x, ok := find(rs, "source imap", "bob"); !ok || x.Err != nil || !strings.Contains(x.Detail, d.Master+" for bob") {
		t.Errorf("bob on the IMAP source: %+v", x)
	}
	if x, ok := find(rs, "source imap", "carol"); !ok || x.Err == nil {
		t.Errorf("carol, whom the source does not have: %+v", x)
	}
}
