package usergen

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// PlanOptions say what the plan WritePlan writes names.
type PlanOptions struct {
	Root     string // the source root Generate wrote (Options.Dir)
	Archives string // the archive directory
	IMAPURL  string // "imap://127.0.0.1:PORT"; "" for no mail target
	DAVURL   string // "http://127.0.0.1:PORT/"; "" for no DAV target
	// Master and MasterPassword log in to IMAP for every user (a Dovecot
	// master user); when Master is "", each user logs in with
	// Password(login), which is also the DAV password.
	Master, MasterPassword string
	Password               func(login string) string
	UsersAtOnce, Conns     int
}

// WritePlan writes dir/plan.toml, dir/users.csv (source, target and the
// user's size) and the password files under dir/secrets, and returns the
// plan's path.
func WritePlan(dir string, users []User, o PlanOptions) (string, error) {
	sec := filepath.Join(dir, "secrets")
	if err := os.MkdirAll(sec, 0o700); err != nil {
		return "", err
	}
	var csv strings.Builder
	csv.WriteString("source,target,size\n")
	for _, u := range users {
		fmt.Fprintf(&csv, "%s,%s,%dB\n", u.Name, u.Login, u.Bytes)
		if o.Password != nil {
			if err := os.WriteFile(filepath.Join(sec, u.Login+".pw"), []byte(o.Password(u.Login)+"\n"), 0o600); err != nil {
				return "", err
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "users.csv"), []byte(csv.String()), 0o644); err != nil {
		return "", err
	}
	var p strings.Builder
	fmt.Fprintf(&p, "[source]\nkind = \"maildir\"\nroot = %s\npath = \"{localpart}/Maildir\"\n", quote(o.Root))
	if o.DAVURL != "" {
		p.WriteString("contacts = \"{localpart}/*.vcf\"\ncalendars = \"{localpart}/*.ics\"\n")
	}
	p.WriteString("\n")
	fmt.Fprintf(&p, "[archive]\ndir = %s\ncompress = \"zstd\"\n\n", quote(o.Archives))
	if o.IMAPURL != "" {
		fmt.Fprintf(&p, "[target.imap]\nurl = %s\nprovider = \"dovecot\"\n", quote(o.IMAPURL))
		if o.Master != "" {
			if err := os.WriteFile(filepath.Join(sec, "master.pw"), []byte(o.MasterPassword+"\n"), 0o600); err != nil {
				return "", err
			}
			fmt.Fprintf(&p, "admin = %s\npassword_file = \"secrets/master.pw\"\n", quote(o.Master))
		} else {
			p.WriteString("password_file = \"secrets/{login}.pw\"\n")
		}
		p.WriteString("\n")
	}
	if o.DAVURL != "" {
		fmt.Fprintf(&p, "[target.dav]\nurl = %s\npassword_file = \"secrets/{login}.pw\"\n\n", quote(o.DAVURL))
	}
	p.WriteString("[users]\nfile = \"users.csv\"\n\n[limits]\n")
	if o.UsersAtOnce > 0 {
		fmt.Fprintf(&p, "users = %d\n", o.UsersAtOnce)
	}
	if o.Conns > 0 {
		fmt.Fprintf(&p, "connections_per_server = %d\n", o.Conns)
	}
	path := filepath.Join(dir, "plan.toml")
	return path, os.WriteFile(path, []byte(p.String()), 0o644)
}

// quote is a TOML basic string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
