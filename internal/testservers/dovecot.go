package testservers

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Dovecot is a Dovecot instance started for one test.
type Dovecot struct {
	Addr                   string // 127.0.0.1:port
	Port                   int
	Conf                   string // the configuration file, for doveadm -c
	Dir                    string
	Master, MasterPassword string // a master user: "user*Master" logs in as user
	passwd                 string
}

// MailUID is the system user (nobody) owning the mail directories.
const MailUID = 65534

// DovecotOption changes the configuration StartDovecot writes.
type DovecotOption func(*dovecotConf)

type dovecotConf struct{ separator string }

// WithSeparator sets the hierarchy separator of the inbox namespace. "/"
// is what many distributions' configurations set; over Maildir++ storage
// Dovecot then refuses "." in a mailbox name, as it names the folder's
// directory on disk.
func WithSeparator(sep string) DovecotOption {
	return func(c *dovecotConf) { c.separator = sep }
}

// StartDovecot starts Dovecot on a free port of 127.0.0.1 with a
// throwaway configuration: passwd-file users (users maps login →
// password), a master user, special-use folders, "." as the hierarchy
// delimiter (Dovecot's Maildir++ default, unless an option changes it),
// and enough connections per user for parallel importers.
func StartDovecot(t testing.TB, users map[string]string, opts ...DovecotOption) *Dovecot {
	t.Helper()
	var dc dovecotConf
	for _, o := range opts {
		o(&dc)
	}
	bin := Need(t, "dovecot")
	Need(t, "doveadm")
	dir := t.TempDir()
	// Dovecot's unprivileged processes must reach the mail under here.
	// (t.TempDir's parent is private to root too.)
	for _, p := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	port := FreePort(t)
	d := &Dovecot{Addr: "127.0.0.1:" + strconv.Itoa(port), Port: port, Dir: dir,
		Conf: filepath.Join(dir, "dovecot.conf"), Master: "master", MasterPassword: "master-secret",
		passwd: filepath.Join(dir, "passwd")}
	mail := filepath.Join(dir, "mail")
	for _, p := range []string{mail, filepath.Join(dir, "run"), filepath.Join(dir, "state")} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(mail, MailUID, MailUID); err != nil {
		Unavailable(t, fmt.Sprintf("cannot give %s to uid %d (Dovecot's mail user): %v", mail, MailUID, err))
	}
	for u, p := range users {
		d.AddUser(t, u, p)
	}
	if err := os.WriteFile(filepath.Join(dir, "master-users"),
		[]byte(d.Master+":{PLAIN}"+d.MasterPassword+"::::::\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`instance_name = mailhaul-test-%[2]d
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_master_user_separator = *
first_valid_uid = 1
default_login_user = dovenull
default_internal_user = dovecot
mail_location = maildir:%[1]s/mail/%%u/Maildir
mail_max_userip_connections = 40
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[2]d
  }
  inet_listener imaps {
    port = 0
  }
}
service stats {
  inet_listener http {
    port = 0
  }
}
passdb {
  driver = passwd-file
  args = %[1]s/master-users
  master = yes
  pass = yes
}
passdb {
  driver = passwd-file
  args = %[1]s/passwd
}
userdb {
  driver = static
  args = uid=%[3]d gid=%[3]d home=%[1]s/mail/%%u
}
namespace inbox {
  inbox = yes
%[4]s
  mailbox Sent {
    special_use = \Sent
    auto = create
  }
  mailbox Drafts {
    special_use = \Drafts
    auto = create
  }
  mailbox Trash {
    special_use = \Trash
    auto = create
  }
  mailbox Junk {
    special_use = \Junk
    auto = create
  }
  mailbox Archive {
    special_use = \Archive
  }
}
`, dir, port, MailUID, separatorLine(dc.separator))
	if err := os.WriteFile(d.Conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(d.Log())
		}
	})
	// -F keeps Dovecot in the foreground, so Start can stop it.
	Start(t, exec.Command(bin, "-F", "-c", d.Conf), port, filepath.Join(dir, "dovecot.out"))
	return d
}

func separatorLine(sep string) string {
	if sep == "" {
		return ""
	}
	return "  separator = " + sep
}

// AddUser adds (or replaces) a user; Dovecot re-reads the passwd file
// when it changes.
func (d *Dovecot) AddUser(t testing.TB, user, password string) {
	t.Helper()
	lines := map[string]string{}
	if b, err := os.ReadFile(d.passwd); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if u, _, ok := strings.Cut(l, ":"); ok {
				lines[u] = l
			}
		}
	}
	lines[user] = user + ":{PLAIN}" + password + "::::::"
	var keys []string
	for k := range lines {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(lines[k] + "\n")
	}
	if err := os.WriteFile(d.passwd, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Doveadm runs doveadm against this instance.
func (d *Dovecot) Doveadm(args ...string) (string, error) {
	out, err := exec.Command("doveadm", append([]string{"-c", d.Conf}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("doveadm %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Log is the server's log, for failing tests to print.
func (d *Dovecot) Log() string {
	b, _ := os.ReadFile(filepath.Join(d.Dir, "dovecot.log"))
	return string(b)
}
