package plan

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"

	"github.com/mailhaul/mailhaul/internal/davclient"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/loopback"
	"github.com/mailhaul/mailhaul/internal/tlsca"
)

// checker turns the decoded file into a Plan, collecting every problem.
type checker struct {
	path  string
	dir   string // relative paths in the plan are relative to its directory
	lines map[string]int
	probs []Problem
}

// at records a problem at the line of key (a dotted key or table name;
// the nearest enclosing table when the key itself is absent).
func (c *checker) at(key string, format string, args ...any) {
	c.probs = append(c.probs, Problem{File: c.path, Line: c.line(key), Msg: fmt.Sprintf(format, args...)})
}

func (c *checker) line(key string) int {
	for key != "" {
		if l, ok := c.lines[key]; ok {
			return l
		}
		i := strings.LastIndexByte(key, '.')
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

// abs makes a path from the plan relative to the plan's directory.
func (c *checker) abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

func (c *checker) plan(f *file) *Plan {
	p := &Plan{Path: c.path}
	c.source(f, p)
	c.archive(f, p)
	if f.Target.IMAP != nil {
		p.IMAP = c.server("target.imap", *f.Target.IMAP, KindIMAP)
	}
	if f.Target.DAV != nil {
		p.DAV = c.server("target.dav", *f.Target.DAV, KindDAV)
	}
	if p.IMAP == nil && p.DAV == nil {
		c.at("target", "no target: add [target.imap] (mail) and/or [target.dav] (contacts and calendars)")
	}
	c.limits(f, p)
	c.users(f, p)
	return p
}

func (c *checker) source(f *file, p *Plan) {
	s := f.Source
	k := "source"
	if _, ok := c.lines[k]; !ok {
		c.at(k, "no [source] table: the plan needs one, with kind = zimbra, maildir, mbox, imap or dav")
		return
	}
	p.Source.Kind = strings.ToLower(s.Kind)
	switch p.Source.Kind {
	case KindMaildir, KindMbox:
		if s.Root == "" {
			c.at(k, "source.root is missing: the directory holding every user's %s", p.Source.Kind)
		}
		p.Source.Root = c.abs(s.Root)
		p.Source.Pattern = s.Path
		c.pattern(k+".path", s.Path)
		p.Source.Contacts, p.Source.Calendars = s.Contacts, s.Calendars
		for key, pat := range map[string]string{"contacts": s.Contacts, "calendars": s.Calendars} {
			if pat == "" {
				continue
			}
			c.pattern(k+"."+key, pat)
			if _, err := filepath.Match(pat, ""); err != nil {
				c.at(k+"."+key, "source.%s %q is not a glob pattern: %v", key, pat, err)
			}
		}
		for key, set := range map[string]bool{"url": s.URL != "", "admin": s.Admin != "", "password_file": s.PasswordFile != "",
			"password_env": s.PasswordEnv != "", "token_file": s.TokenFile != "", "auth": s.Auth != "", "tls_ca": s.TLSCA != "", "provider": s.Provider != ""} {
			if set {
				c.at(k+"."+key, "source.%s has no meaning for a %s source (it reads files below root)", key, p.Source.Kind)
			}
		}
		p.Source.Line = c.line(k)
	case KindZimbra, KindIMAP, KindDAV:
		if s.Root != "" || s.Path != "" || s.Contacts != "" || s.Calendars != "" {
			c.at(k+".root", "source.root, path, contacts and calendars are for maildir and mbox sources only")
		}
		if sv := c.server(k, s.server, p.Source.Kind); sv != nil {
			p.Source.Server = *sv
		}
		if s.MailURL != "" {
			if p.Source.Kind != KindZimbra {
				c.at(k+".mail_url", "source.mail_url is for a zimbra source only")
			}
			c.url(k+".mail_url", strings.ReplaceAll(s.MailURL, "{host}", "mailhost.invalid"), KindZimbra, false, s.AllowPlaintext)
			p.Source.MailURL = s.MailURL
		}
	case "":
		c.at(k, "source.kind is missing: zimbra, maildir, mbox, imap or dav")
	default:
		c.at(k+".kind", "source.kind %q is not one of zimbra, maildir, mbox, imap, dav", s.Kind)
	}
}

// pattern checks a per-user source path: relative, below root, and
// naming the user.
func (c *checker) pattern(key, pat string) {
	switch {
	case pat == "":
		c.at(key, "%s is missing: each user's mailbox below root, e.g. \"{domain}/{localpart}/Maildir\"", key)
	case !hasPlaceholder(pat):
		c.at(key, "%s %q has no placeholder ({user}, {localpart}, {domain}): every user would read the same mailbox", key, pat)
	default:
		filled := fill(pat, "x", "x", "x", "x")
		if !filepath.IsLocal(filled) {
			c.at(key, "%s %q must be relative and stay below root (no leading /, no ..)", key, pat)
		}
	}
}

func hasPlaceholder(s string) bool {
	for _, ph := range []string{PhUser, PhLocalpart, PhDomain, PhLogin} {
		if strings.Contains(s, ph) {
			return true
		}
	}
	return false
}

func fill(pat, user, local, domain, login string) string {
	return strings.NewReplacer(PhUser, user, PhLocalpart, local, PhDomain, domain, PhLogin, login).Replace(pat)
}

// server checks one network endpoint of kind (zimbra, imap, dav) at key.
func (c *checker) server(key string, s server, kind string) *Server {
	sv := &Server{URL: s.URL, Admin: s.Admin, Auth: strings.ToLower(s.Auth), StartTLS: s.StartTLS, AllowPlaintext: s.AllowPlaintext,
		Provider: s.Provider, TLSCA: c.abs(s.TLSCA), TokenFile: c.abs(s.TokenFile), Line: c.line(key)}
	sv.Secret = Secret{File: c.abs(s.PasswordFile), Env: s.PasswordEnv}
	if s.URL == "" {
		c.at(key, "%s.url is missing", key)
	} else {
		c.url(key+".url", s.URL, kind, s.StartTLS, s.AllowPlaintext)
	}
	if s.TLSCA != "" {
		if _, err := tlsca.Load(sv.TLSCA); err != nil {
			c.at(key+".tls_ca", "%s.tls_ca: %v", key, err)
		}
	}
	if s.Provider != "" {
		if kind != KindIMAP {
			c.at(key+".provider", "%s.provider is for IMAP servers only", key)
		} else if _, err := imapconn.ProviderLimits(s.Provider); err != nil {
			c.at(key+".provider", "%s.provider: %v", key, err)
		}
	}
	if s.StartTLS && kind != KindIMAP {
		c.at(key+".starttls", "%s.starttls is for IMAP servers only", key)
	}
	if s.PasswordFile != "" && s.PasswordEnv != "" {
		c.at(key+".password_env", "%s names both password_file and password_env: keep one", key)
	}
	oauth := false
	switch sv.Auth {
	case "", imapconn.AuthPlain, imapconn.AuthLogin:
		if s.TokenFile != "" && kind != KindDAV {
			c.at(key+".token_file", "%s.token_file needs auth = \"xoauth2\" or \"oauthbearer\"", key)
		}
	case imapconn.AuthXOAuth2, imapconn.AuthOAuthBearer:
		if kind != KindIMAP {
			c.at(key+".auth", "%s.auth = %q is for IMAP servers; a DAV server takes token_file alone", key, s.Auth)
		}
		oauth = true
	default:
		c.at(key+".auth", "%s.auth %q is not one of plain, login, xoauth2, oauthbearer", key, s.Auth)
	}
	if kind == KindDAV && s.TokenFile != "" {
		oauth = true
	}
	switch {
	case kind == KindZimbra && s.Admin == "":
		c.at(key, "%s.admin is missing: the Zimbra admin account", key)
	case kind == KindDAV && s.Admin != "":
		c.at(key+".admin", "%s.admin: a DAV server has no administrator login; give each user's password_file", key)
	}
	switch {
	case oauth:
		if s.TokenFile == "" {
			c.at(key, "%s: OAuth needs token_file, e.g. \"tokens/{login}.token\"", key)
		} else if !hasPlaceholder(s.TokenFile) {
			c.at(key+".token_file", "%s.token_file %q has no placeholder: each user needs their own token ({user} or {login})", key, s.TokenFile)
		}
		if s.PasswordFile != "" || s.PasswordEnv != "" {
			c.at(key+".password_file", "%s: OAuth takes token_file, not a password", key)
		}
		sv.PerUser = true
	case s.Admin != "":
		if hasPlaceholder(s.PasswordFile) {
			c.at(key+".password_file", "%s.password_file holds a user placeholder, but the admin %q logs in with one password", key, s.Admin)
		}
		if !sv.Secret.Set() {
			c.at(key, "%s: the admin's password is missing: give password_file or password_env", key)
		}
		c.secret(key+".password_file", key+".password_env", sv.Secret)
	default:
		// Each user logs in with their own password: a per-user file
		// pattern, or a column of the users CSV (checked per row).
		sv.PerUser = true
		if s.PasswordEnv != "" {
			c.at(key+".password_env", "%s.password_env gives one password, but with no admin each user logs in with their own: use a password_file pattern (\"secrets/{user}.pw\") or a users CSV column, or set admin", key)
		}
		if s.PasswordFile != "" && !hasPlaceholder(s.PasswordFile) {
			c.at(key+".password_file", "%s.password_file %q has no placeholder, but with no admin each user logs in with their own password: use e.g. \"secrets/{user}.pw\", or set admin", key, s.PasswordFile)
		}
	}
	return sv
}

// url checks a server's URL and the plaintext rule through the same
// functions the single-user commands use.
func (c *checker) url(key, raw, kind string, startTLS, allowPlaintext bool) {
	var err error
	switch kind {
	case KindIMAP:
		_, err = imapconn.ParseURL(raw, imapconn.URLOptions{StartTLS: startTLS, AllowPlaintext: allowPlaintext})
		if err != nil {
			err = fmt.Errorf("%s", strings.NewReplacer("--url", "url", "--starttls", "starttls = true", "--allow-plaintext", "allow_plaintext = true", "--user and --password-file", "password_file").Replace(err.Error()))
		}
	case KindDAV:
		err = davclient.Endpoints{URL: raw}.Check(allowPlaintext)
		if err != nil && strings.Contains(err.Error(), "clear") {
			err = fmt.Errorf("%s: http:// to a host other than loopback sends the password in clear; use https://, or allow_plaintext = true on a network you trust", raw)
		}
	case KindZimbra:
		u, perr := url.Parse(raw)
		switch {
		case perr != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			err = fmt.Errorf("%q is not an https:// URL with a host", raw)
		case u.User != nil:
			err = fmt.Errorf("put no credentials in the URL; use password_file")
		case u.Scheme == "http" && !allowPlaintext && !loopback.IsHost(u.Hostname()):
			err = fmt.Errorf("http://%s sends the admin password in clear; use https://, or allow_plaintext = true on a network you trust", u.Host)
		}
	}
	if err != nil {
		c.at(key, "%s: %v", key, err)
	}
}

// secret checks that a named secret can be read now: a file that is
// readable and not empty, a variable that is set.
func (c *checker) secret(fileKey, envKey string, s Secret) {
	if msg := secretProblem(s); msg != "" {
		k := fileKey
		if s.File == "" {
			k = envKey
		}
		c.at(k, "%s", msg)
	}
}

// secretProblem says why a secret cannot be read ("" when it can). The
// secret itself is read and dropped.
func secretProblem(s Secret) string {
	switch {
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			return "cannot read the " + s.Where() + ": " + unwrapPath(err)
		}
		if strings.TrimRight(string(b), "\r\n") == "" {
			return "the " + s.Where() + " is empty"
		}
	case s.Env != "":
		if v, ok := os.LookupEnv(s.Env); !ok || v == "" {
			return "the " + s.Where() + " is not set"
		}
	}
	return ""
}

// unwrapPath drops the path a *PathError repeats.
func unwrapPath(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

func (c *checker) archive(f *file, p *Plan) {
	a := f.Archive
	k := "archive"
	p.Archive = Archive{Dir: c.abs(a.Dir), SFTP: a.SFTP, IdentityFile: c.abs(a.IdentityFile), KnownHosts: c.abs(a.KnownHosts),
		State: c.abs(a.State), Compress: strings.ToLower(a.Compress), Level: a.Level}
	switch {
	case a.Dir == "" && a.SFTP == "":
		c.at(k, "the archive place is missing: [archive] dir = \"DIR\" (a local or shared directory) or sftp = \"sftp://user@host/path\"")
	case a.Dir != "" && a.SFTP != "":
		c.at(k+".sftp", "archive names both dir and sftp: keep one")
	case a.SFTP != "":
		u, err := url.Parse(a.SFTP)
		if err != nil || u.Scheme != "sftp" || u.Host == "" || u.Path == "" {
			c.at(k+".sftp", "archive.sftp %q is not sftp://user@host[:port]/path", a.SFTP)
		} else if _, set := u.User.Password(); set {
			c.at(k+".sftp", "archive.sftp holds a password: secrets are references only; use identity_file")
		}
		if a.KnownHosts == "" {
			c.at(k, "archive.known_hosts is missing: the SFTP server's host key is verified against it")
		} else if _, err := os.Stat(p.Archive.KnownHosts); err != nil {
			c.at(k+".known_hosts", "archive.known_hosts: %s", unwrapPath(err))
		}
		if a.IdentityFile != "" {
			if _, err := os.ReadFile(p.Archive.IdentityFile); err != nil {
				c.at(k+".identity_file", "archive.identity_file: cannot read %s: %s", p.Archive.IdentityFile, unwrapPath(err))
			}
		}
	default:
		if a.IdentityFile != "" || a.KnownHosts != "" {
			c.at(k+".identity_file", "archive.identity_file and known_hosts are for sftp only")
		}
	}
	if p.Archive.State == "" && p.Archive.Dir != "" {
		p.Archive.State = filepath.Join(p.Archive.Dir, "state")
	}
	if p.Archive.State == "" {
		c.at(k, "archive.state is missing: with sftp the per-user state needs a local or shared directory")
	}
	switch p.Archive.Compress {
	case "":
		p.Archive.Compress = "gzip"
	case "gzip", "zstd":
	default:
		c.at(k+".compress", "archive.compress %q is not gzip or zstd", a.Compress)
	}
	if a.Level < 0 || a.Level > 19 || (p.Archive.Compress == "gzip" && a.Level > 9) {
		c.at(k+".level", "archive.level %d is out of range (gzip 1-9, zstd 1-19; 0: the default)", a.Level)
	}
}

func (c *checker) limits(f *file, p *Plan) {
	l := f.Limits
	k := "limits"
	p.Limits = Limits{Users: l.Users, ConnectionsPerServer: l.ConnectionsPerServer}
	if p.Limits.Users == 0 {
		p.Limits.Users = DefaultUsers
	}
	if p.Limits.ConnectionsPerServer == 0 {
		p.Limits.ConnectionsPerServer = DefaultConnectionsPerServer
	}
	if p.Limits.Users < 0 || p.Limits.Users > 1000 {
		c.at(k+".users", "limits.users %d: give 1 to 1000 users at once", l.Users)
	}
	if p.Limits.ConnectionsPerServer < 0 || p.Limits.ConnectionsPerServer > 10000 {
		c.at(k+".connections_per_server", "limits.connections_per_server %d: give 1 to 10000", l.ConnectionsPerServer)
	}
	if l.Bandwidth != "" {
		n, err := ParseRate(l.Bandwidth)
		if err != nil {
			c.at(k+".bandwidth", "limits.bandwidth: %v", err)
		}
		p.Limits.BytesPerSecond = n
	}
}

// ParseRate reads a byte rate: "0" (unbounded), "500000", "100KB/s",
// "50MB/s", "1GB/s" (powers of 1000; KiB, MiB, GiB of 1024), or "100Mbit/s".
func ParseRate(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSpace(s), "/s")
	n, err := ParseSize(t)
	if err == nil {
		return n, nil
	}
	low := strings.ToLower(t)
	for suf, mul := range map[string]float64{"kbit": 1e3 / 8, "mbit": 1e6 / 8, "gbit": 1e9 / 8} {
		if num, ok := strings.CutSuffix(low, suf); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(num), 64); err == nil && f >= 0 {
				return int64(f * mul), nil
			}
		}
	}
	return 0, fmt.Errorf("%q is not a rate such as \"50MB/s\" or \"200Mbit/s\"", s)
}

// ParseSize reads a size: "123" bytes, "300MB", "2.5GB", "1GiB".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mul := 1.0
	for _, u := range []struct {
		suf string
		mul float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}} {
		if num, ok := cutSuffixFold(t, u.suf); ok {
			t, mul = strings.TrimSpace(num), u.mul
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || f*mul > 1<<62 || t == "" || !unicode.IsDigit(rune(t[0])) {
		return 0, fmt.Errorf("%q is not a size such as \"300MB\" or \"2.5GB\"", s)
	}
	return int64(f * mul), nil
}

func cutSuffixFold(s, suf string) (string, bool) {
	if len(s) >= len(suf) && strings.EqualFold(s[len(s)-len(suf):], suf) {
		return s[:len(s)-len(suf)], true
	}
	return s, false
}
