// Package plan reads a migration plan: one TOML file that names the
// source, the place of the archives, the targets, the users (a CSV file,
// or every account of a Zimbra) and the limits of a whole migration.
//
// Load decodes the file strictly (an unknown or misspelt key is an error
// at its line) and checks everything that can be checked without a
// network: required keys, URLs and the plaintext rule, per-user path
// patterns, duplicate users and target logins, secret files, the users
// CSV. It returns every problem at once, each with its file and line, so
// that a plan is fixed in one pass rather than one error a run. (A TOML
// syntax error, or a value of the wrong type, is reported alone, at its
// line: what follows it cannot be read reliably.)
//
// Secrets are references only: password_file (whose path may hold the
// user placeholders, one file per user), password_env, token_file. A key
// that would hold a secret itself (password = "...") is refused by name.
//
// The plan is the mapping from source users to target logins: no two
// users share a target login, so one user's archive can never be imported
// into another's mailbox, and every user has a key (User.Key) that is a
// safe file name, distinct for distinct users, for its archives and state.
package plan

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Source kinds.
const (
	KindZimbra  = "zimbra"
	KindMaildir = "maildir"
	KindMbox    = "mbox"
	KindIMAP    = "imap"
	KindDAV     = "dav"
)

// Placeholders a per-user pattern (a source path, a password or token
// file) may hold.
const (
	PhUser      = "{user}"      // the source address, whole
	PhLocalpart = "{localpart}" // before the last '@'
	PhDomain    = "{domain}"    // after the last '@'
	PhLogin     = "{login}"     // the target login
)

// Problem is one thing wrong with a plan, at a file and line (0 when the
// problem has no line, such as a required table that is missing).
type Problem struct {
	File string
	Line int
	Msg  string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Msg)
}

// Problems is every problem Load found; it is the error Load returns.
type Problems []Problem

func (ps Problems) Error() string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Secret names where a secret is: a file, or an environment variable.
// It never holds the secret.
type Secret struct {
	File string // a path, already resolved for the user
	Env  string
}

// Set says whether the secret is named at all.
func (s Secret) Set() bool { return s.File != "" || s.Env != "" }

// Where names the reference for messages, without the secret.
func (s Secret) Where() string {
	if s.File != "" {
		return "password file " + s.File
	}
	return "environment variable " + s.Env
}

// Server is a network endpoint of the plan: a source or target server.
type Server struct {
	URL            string
	Admin          string // an administrator or master user acting for each user
	Auth           string // IMAP: plain, login, xoauth2, oauthbearer
	StartTLS       bool
	AllowPlaintext bool
	TLSCA          string // PEM file of CAs to trust instead of the system's
	Provider       string // IMAP provider profile (connection caps, throttling)
	// Secret is the admin's secret, or the per-user secret pattern
	// (User's SourceSecret/IMAPSecret/DAVSecret hold it resolved).
	Secret Secret
	// TokenFile is the OAuth token file pattern (per user).
	TokenFile string
	// PerUser says the secret (or token) is each user's own, not an
	// admin's.
	PerUser bool
	Line    int // where the server's table starts in the plan
}

// Source is where the mailboxes come from.
type Source struct {
	Kind string
	Server
	// Root and Pattern (maildir, mbox): each user's mailbox is
	// Root/Pattern with the placeholders filled in.
	Root, Pattern string
	// Contacts and Calendars (maildir, mbox; optional) are glob patterns
	// below Root, with the placeholders, of each user's .vcf and .ics
	// files: each file becomes an address book or calendar named after
	// it, as export's --contacts and --calendar make them.
	Contacts, Calendars string
	// MailURL (zimbra) is the base URL of the mailbox servers' REST
	// exports, "{host}" standing for an account's zimbraMailHost;
	// empty: https://HOST (Zimbra's proxy).
	MailURL string
}

// Archive is where the per-user archives rest between the stages.
type Archive struct {
	Dir          string // local or shared directory
	SFTP         string // sftp://user@host[:port]/path, instead of Dir
	IdentityFile string
	KnownHosts   string
	State        string // the per-user state directory (default Dir/state)
	Compress     string // gzip or zstd
	Level        int
}

// Limits bound the whole run.
type Limits struct {
	Users                int   // users at once
	ConnectionsPerServer int   // per target server, shared by every user
	BytesPerSecond       int64 // 0: unbounded
}

// Plan is a loaded, checked plan.
type Plan struct {
	Path    string
	Source  Source
	Archive Archive
	IMAP    *Server // the mail target; nil when the plan has none
	DAV     *Server // the CardDAV/CalDAV target; nil when none
	Limits  Limits
	// AllUsers: the users are every account of the Zimbra source, listed
	// when the run starts; Users is then empty.
	AllUsers  bool
	UsersFile string
	// Header is the users file's header row, as written: each User's Row
	// is in its order (a failures file writes both back, a users list to
	// run again).
	Header []string
	users  []User
}

// User is one user of the plan, resolved.
type User struct {
	Address string // the source address
	Login   string // the target login
	// Key names the user's archives and state: a safe file name (one
	// path element), distinct for every two users of the plan.
	Key string
	// SourcePath is the user's Maildir or mbox (maildir, mbox sources):
	// Root joined with SourceRel, never outside Root.
	SourcePath, SourceRel string
	// ContactFiles and CalendarFiles are Source.Contacts and
	// Source.Calendars filled in for the user and joined to Root: glob
	// patterns, matching no file for a user who has none.
	ContactFiles, CalendarFiles string
	// The secrets of this user, resolved (empty when an admin's serves).
	SourceSecret, IMAPSecret, DAVSecret Secret
	// SourceToken, IMAPToken, DAVToken: OAuth token files, resolved.
	SourceToken, IMAPToken, DAVToken string
	EstimatedSize                    int64 // bytes; 0 when not given
	Line                             int   // the line of the users CSV
	// Row is the user's record in the users CSV (Plan.Header's order);
	// nil for a user the plan does not list (users.all).
	Row []string
}

// Users is every user of the plan, in the CSV's order.
func (p *Plan) Users() []User { return append([]User(nil), p.users...) }

// Defaults.
const (
	DefaultUsers                = 4
	DefaultConnectionsPerServer = 16
)

// Load reads and checks the plan at path. On any problem it returns a nil
// plan and Problems, every one found.
func Load(path string) (*Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Problems{{File: path, Msg: err.Error()}}
	}
	f, lines, probs := decode(path, data)
	if len(probs) > 0 && len(lines) == 0 {
		return nil, Problems(probs) // nothing decoded to check further
	}
	c := &checker{path: path, dir: filepath.Dir(path), lines: lines, probs: probs}
	p := c.plan(&f)
	if len(c.probs) > 0 {
		return nil, Problems(c.probs)
	}
	return p, nil
}
