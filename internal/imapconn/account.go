package imapconn

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/mailhaul/mailhaul/internal/loopback"
	"github.com/mailhaul/mailhaul/internal/tlsca"
)

// Mode is how a connection is protected.
type Mode int

const (
	// Plain is TCP without TLS: only to loopback, or with AllowPlaintext.
	Plain Mode = iota
	// ImplicitTLS starts TLS at once (imaps://, port 993).
	ImplicitTLS
	// StartTLS upgrades a plain connection (imap:// with STARTTLS).
	StartTLS
)

// Auth mechanisms. LoginCommand is IMAP's LOGIN command; the others are
// SASL mechanisms sent with AUTHENTICATE.
const (
	AuthPlain       = "plain"
	AuthLogin       = "login"
	AuthXOAuth2     = "xoauth2"
	AuthOAuthBearer = "oauthbearer"
)

// Account says how to reach and log in to one mailbox. It holds no secret
// itself: Secret is called on every connection, so an OAuth token
// refreshed by another program is used on the next reconnect.
type Account struct {
	Addr string // host:port
	Mode Mode
	// TLS is the configuration for ImplicitTLS and StartTLS (required for
	// them; ServerName set to the host).
	TLS *tls.Config
	// AllowPlaintext lets a password go without TLS to a host that is not
	// loopback; without it Dial refuses.
	AllowPlaintext bool
	User           string // the mailbox owner's login
	// Admin, when set, is the administrator who authenticates acting for
	// User (SASL authorization identity; Dovecot's master user).
	Admin string
	// Auth is AuthPlain (default), AuthLogin, AuthXOAuth2 or
	// AuthOAuthBearer.
	Auth string
	// Secret returns the password, or the OAuth token, when a connection
	// logs in. Never logged.
	Secret func() (string, error)
	// Timeout bounds connecting and logging in (default one minute); the
	// connection's whole life is bounded by Dial's context.
	Timeout time.Duration
}

// Check says what is wrong with an account before anything is dialled.
func (a *Account) Check() error {
	if a.Addr == "" {
		return errors.New("imap: no server address")
	}
	if a.User == "" {
		return errors.New("imap: no user")
	}
	if a.Mode != Plain && a.TLS == nil {
		return errors.New("imap: TLS or STARTTLS needs a TLS configuration")
	}
	switch strings.ToLower(a.Auth) {
	case "", AuthPlain, AuthLogin, AuthXOAuth2, AuthOAuthBearer:
	default:
		return fmt.Errorf("imap: unknown --auth %q (plain, login, xoauth2, oauthbearer)", a.Auth)
	}
	return a.checkPlaintext()
}

// checkPlaintext is the one plaintext rule: a password never goes in
// clear to a host that is not loopback unless AllowPlaintext says so.
func (a *Account) checkPlaintext() error {
	if a.Mode != Plain || a.AllowPlaintext {
		return nil
	}
	host, _, err := net.SplitHostPort(a.Addr)
	if err != nil {
		host = a.Addr
	}
	if loopback.IsHost(host) {
		return nil
	}
	return fmt.Errorf("imap://%s without --starttls would send the password in clear text; use imaps://, --starttls, or --allow-plaintext on a network you trust", a.Addr)
}

// Password returns a Secret that always gives pw (read once, by the
// caller, from a file or the environment).
func Password(pw string) func() (string, error) {
	return func() (string, error) { return pw, nil }
}

// TokenFile returns a Secret that reads an OAuth access token from path
// on every call, so a token refreshed by another program is picked up.
func TokenFile(path string) func() (string, error) {
	return func() (string, error) {
		if path == "" {
			return "", errors.New("imap: OAuth needs --token-file")
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("imap: read token: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("imap: token file %s is empty", path)
		}
		return tok, nil
	}
}

// URLOptions are the command-line choices that go with a URL.
type URLOptions struct {
	StartTLS       bool // with imap://, upgrade with STARTTLS
	AllowPlaintext bool // allow imap:// without TLS to a non-loopback host
	// CAFile, when set, holds the PEM certificates trusted instead of the
	// system's for a TLS connection (--tls-ca).
	CAFile string
}

// ParseURL reads imaps://host[:port] (implicit TLS, default port 993) or
// imap://host[:port] (143; plain, or STARTTLS with o.StartTLS) into an
// account's address, mode and TLS configuration (verifying the host's
// certificate, against o.CAFile's certificates when given). A plain connection to a host
// that is not loopback is refused unless o.AllowPlaintext: the password
// would travel in clear.
func ParseURL(raw string, o URLOptions) (Account, error) {
	if raw == "" {
		return Account{}, errors.New("--url is missing: give the target, imaps://host[:port] or imap://host[:port]")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "imap" && u.Scheme != "imaps") {
		return Account{}, fmt.Errorf("--url must be imaps://host[:port] or imap://host[:port], got %q", raw)
	}
	if u.User != nil {
		return Account{}, errors.New("put no credentials in --url; use --user and --password-file")
	}
	a := Account{Addr: HostPort(u.Host, u.Scheme == "imaps"), AllowPlaintext: o.AllowPlaintext}
	switch {
	case u.Scheme == "imaps":
		a.Mode = ImplicitTLS
	case o.StartTLS:
		a.Mode = StartTLS
	}
	if a.Mode != Plain {
		a.TLS = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
		if o.CAFile != "" {
			if a.TLS.RootCAs, err = tlsca.Load(o.CAFile); err != nil {
				return Account{}, fmt.Errorf("--tls-ca: %w", err)
			}
		}
	}
	if err := a.checkPlaintext(); err != nil {
		return Account{}, err
	}
	return a, nil
}

// HostPort adds IMAP's default port to a host without one: 993 with
// implicit TLS, else 143.
func HostPort(host string, implicitTLS bool) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]") // an IPv6 literal
	if implicitTLS {
		return net.JoinHostPort(host, "993")
	}
	return net.JoinHostPort(host, "143")
}
