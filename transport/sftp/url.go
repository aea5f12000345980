package sftp

import (
	"fmt"
	"net"
	"net/url"
	"os/user"
	"strconv"
	"strings"
)

// Target is where an sftp:// URL points.
type Target struct {
	User string
	Host string
	Port int
	// Path on the server: absolute, or relative to the login directory
	// when the URL's path starts with /~/ (or is empty).
	Path string
}

// Addr is host:port for dialing.
func (t Target) Addr() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// String is the URL again, without any password.
func (t Target) String() string {
	p := t.Path
	if !strings.HasPrefix(p, "/") {
		p = "/~/" + p
	}
	host := t.Host
	if t.Port != 22 {
		host = t.Addr()
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return "sftp://" + t.User + "@" + host + p
}

// IsURL reports whether s is an sftp:// URL rather than a local path.
func IsURL(s string) bool { return strings.HasPrefix(s, "sftp://") }

// ParseURL parses sftp://[USER@]HOST[:PORT][/PATH]. A password in the URL
// is refused: it would end up in shell history and process lists.
func ParseURL(s string) (Target, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Target{}, fmt.Errorf("sftp: %w", err)
	}
	if u.Scheme != "sftp" || u.Host == "" {
		return Target{}, fmt.Errorf("sftp: %q: want sftp://USER@HOST[:PORT]/PATH", s)
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			return Target{}, fmt.Errorf("sftp: %q: put the password in a file (--password-file) or MAILHAUL_PASSWORD, not in the URL", u.Redacted())
		}
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return Target{}, fmt.Errorf("sftp: %q: unexpected ?query or #fragment", s)
	}
	t := Target{Host: u.Hostname(), Port: 22}
	if ps := u.Port(); ps != "" {
		if t.Port, err = strconv.Atoi(ps); err != nil || t.Port < 1 || t.Port > 65535 {
			return Target{}, fmt.Errorf("sftp: %q: bad port %q", s, ps)
		}
	}
	if u.User != nil {
		t.User = u.User.Username()
	}
	if t.User == "" {
		cur, err := user.Current()
		if err != nil {
			return Target{}, fmt.Errorf("sftp: %q: no user in the URL and the current user is unknown: %w", s, err)
		}
		t.User = cur.Username
	}
	switch p := u.Path; {
	case p == "" || p == "/" && !strings.HasSuffix(s, "/"), p == "/~", p == "/~/":
		t.Path = "."
	case strings.HasPrefix(p, "/~/"):
		t.Path = strings.TrimPrefix(p, "/~/")
	default:
		t.Path = p
	}
	return t, nil
}
