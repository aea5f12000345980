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
