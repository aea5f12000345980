package imap

import (
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	"github.com/mailhaul/mailhaul/internal/imapconn"
)

// Options configure one user's import.
type Options struct {
	Addr     string      // host:port
	TLS      *tls.Config // nil: plain TCP; with StartTLS, the upgrade's config
	StartTLS bool
	// AllowPlaintext lets the password go without TLS to a host that is
	// not loopback.
	AllowPlaintext bool
	User           string // the mailbox owner's login
	Password       string // never logged or reported
	Admin          string // administrator acting for User, if any
	// Auth is plain (default), login, xoauth2 or oauthbearer; the OAuth
	// ones read their token from TokenFile on every (re)connect.
	Auth      string
	TokenFile string
	Provider  string // a profile name (see ProfileNames)
	// FolderMap rewrites source folder paths before anything else; see
	// ParseFolderMap.
	FolderMap []FolderRule
	DryRun    bool
	// StateDir holds the journal; default: the first archive's directory.
	StateDir string
	// Connections overrides the profile's number of connections.
	Connections int
	// ErrorBudget overrides the NO/BAD answers a connection may collect
	// before it is replaced.
	ErrorBudget int
	// MaxBytesPerSecond and MaxMessagesPerSecond pace the upload (0: no
	// limit).
	MaxBytesPerSecond, MaxMessagesPerSecond float64
	// BatchMessages and BatchBytes bound one MULTIAPPEND (defaults 50 and
	// 8 MiB).
	BatchMessages int
	BatchBytes    int64
	// MaxBackoff caps a pause the importer picks itself; a server's own
	// "back off N ms" is honoured whatever its length.
	MaxBackoff time.Duration
	// Timeout bounds connecting and waiting for any single answer.
	Timeout time.Duration
	// Settle is how long a command whose connection died (or whose
	// process was killed) may still land on the server: a server that has
	// received a whole APPEND goes on to store it after the client is
	// gone. Such messages are looked for on the target only once this has
	// passed, so the check sees them. Default 5 s.
	Settle time.Duration
	// Logf receives progress notes (throttling, reconnects); nil: silent.
	Logf func(format string, args ...any)
	// Progress is called after each confirmed batch with the messages and
	// bytes handled so far.
	Progress func(messages int, bytes int64)
}

func (o *Options) check() error {
	if o.Addr == "" {
		return fmt.Errorf("imap: no server address")
	}
	if o.User == "" {
		return fmt.Errorf("imap: no user")
	}
	if o.StartTLS && o.TLS == nil {
		return fmt.Errorf("imap: STARTTLS needs a TLS configuration")
	}
	return nil
}

// account is how every connection of the run reaches and logs in to the
// server.
func (o *Options) account() imapconn.Account {
	a := imapconn.Account{Addr: o.Addr, TLS: o.TLS, AllowPlaintext: o.AllowPlaintext, User: o.User, Admin: o.Admin,
		Auth: o.Auth, Secret: imapconn.Password(o.Password), Timeout: o.Timeout}
	switch {
	case o.TLS != nil && o.StartTLS:
		a.Mode = imapconn.StartTLS
	case o.TLS != nil:
		a.Mode = imapconn.ImplicitTLS
	}
	if m := strings.ToLower(o.Auth); m == imapconn.AuthXOAuth2 || m == imapconn.AuthOAuthBearer {
		a.Secret = imapconn.TokenFile(o.TokenFile)
	}
	return a
}

func (o *Options) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}
