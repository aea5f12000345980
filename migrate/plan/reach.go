package plan

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/mailhaul/mailhaul/export/zimbra/soap"
	"github.com/mailhaul/mailhaul/internal/davclient"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/tlsca"
	"github.com/mailhaul/mailhaul/transport/sftp"
)

// ReachOptions say how far Reach goes.
type ReachOptions struct {
	// Logins checks every user's logins (source and targets), not only
	// each server's with the admin's or the first user's.
	Logins bool
	// Concurrency bounds the users checked at once (default: the plan's
	// limits.users); never more than limits.connections_per_server, so
	// the targets see no more connections than a run would open.
	Concurrency int
	// Timeout bounds each check (default 30 s).
	Timeout time.Duration
}

// Reached is the outcome of one check: a server, the archive place, or a
// user's login to one of them.
type Reached struct {
	Role   string // "source zimbra", "archive", "target imap", "target dav", ...
	Where  string // the URL or directory (never a credential)
	User   string // "" for a server-level check
	Detail string // what answered, on success ("12 mailboxes")
	Err    error  // why it failed; nil on success
}

// Reach checks that every source and target answers: it connects, logs in
// and lists, as a run would, like imapsync's --justconnect. Each server is
// checked once with the admin's login (or, with none, the first user's);
// with o.Logins every user is checked too, o.Concurrency at a time. fn
// hears of each check as it ends, one call at a time. Nothing is written
// but a probe file in the archive directory, removed at once. A server
// that does not answer, or refuses its admin, is checked once, not again
// for every user (each try would wait out the timeout, or count towards
// the admin's lockout); no login is ever repeated.
func (p *Plan) Reach(ctx context.Context, o ReachOptions, fn func(Reached)) {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = p.Limits.Users
	}
	o.Concurrency = max(1, min(o.Concurrency, p.Limits.ConnectionsPerServer))
	var mu sync.Mutex
	report := func(r Reached) {
		mu.Lock()
		defer mu.Unlock()
		fn(r)
	}
	bounded := func(check func(ctx context.Context) Reached) Reached {
		cctx, cancel := context.WithTimeout(ctx, o.Timeout)
		defer cancel()
		return check(cctx)
	}

	report(bounded(p.reachArchive))
	rc := &reacher{p: p, timeout: o.Timeout}
	if p.Source.Kind == KindZimbra {
		// One client for every check: one admin login, one pace.
		rc.zc, rc.zerr = p.ZimbraClient()
	}
	users := p.users
	if p.AllUsers {
		var r Reached
		r, users = rc.zimbraUsers(ctx)
		report(r)
	}
	if len(users) == 0 {
		return
	}
	// The servers, with the first user (an admin acting for them, where
	// the plan has one).
	first := users[0]
	rc.skip = map[string]bool{}
	for _, r := range rc.user(ctx, first, false) {
		report(r)
		// A server that does not answer, or refuses its admin, is not
		// tried again for every user: each try would wait out the
		// timeout, or count towards the admin's lockout.
		if r.Err != nil && (p.adminOf(r.Role) || isNetError(r.Err)) {
			rc.skip[r.Role] = true
		}
	}
	if !o.Logins {
		return
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Concurrency)
	for _, u := range users {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			for _, r := range rc.user(gctx, u, true) {
				report(r)
			}
			return nil
		})
	}
	_ = g.Wait()
}

// reacher holds what the checks of one Reach share.
type reacher struct {
	p       *Plan
	timeout time.Duration
	zc      *soap.Client // the Zimbra source's client, made once
	zerr    error
	skip    map[string]bool // roles not checked per user (their server failed); read-only then
}

// adminOf says whether the server of role logs in with an admin.
func (p *Plan) adminOf(role string) bool {
	switch role {
	case "source zimbra":
		return true
	case "source imap", "source dav":
		return p.Source.Admin != ""
	case "target imap":
		return p.IMAP != nil && p.IMAP.Admin != ""
	}
	return false
}

// isNetError says whether err is the network's (no answer), not the
// server's.
func isNetError(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &oe) || errors.As(err, &ne)
}

// user checks what user u reaches: the source and each target.
// perUser: the user's own checks (their Maildir rather than the root),
// less the roles whose server check failed.
func (rc *reacher) user(ctx context.Context, u User, perUser bool) []Reached {
	p, timeout := rc.p, rc.timeout
	var out []Reached
	run := func(role string, check func(ctx context.Context) Reached) {
		if perUser && rc.skip[role] {
			return
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		r := check(cctx)
		if perUser {
			r.User = u.Address
		}
		out = append(out, r)
	}
	src := &p.Source.Server
	role := "source " + p.Source.Kind
	switch p.Source.Kind {
	case KindMaildir, KindMbox:
		if perUser {
			run(role, func(context.Context) Reached { return p.reachPath(u) })
		} else {
			run(role, func(context.Context) Reached { return p.reachRoot() })
		}
	case KindZimbra:
		if !perUser || !p.AllUsers { // a listed account exists already
			run(role, func(ctx context.Context) Reached { return rc.zimbra(ctx, u, perUser) })
		}
	case KindIMAP:
		run(role, func(ctx context.Context) Reached { return p.reachIMAP(ctx, role, src, u) })
	case KindDAV:
		run(role, func(ctx context.Context) Reached { return p.reachDAV(ctx, role, src, u) })
	}
	// With an admin too, each user's login proves their mailbox exists.
	if p.IMAP != nil {
		run("target imap", func(ctx context.Context) Reached { return p.reachIMAP(ctx, "target imap", p.IMAP, u) })
	}
	if p.DAV != nil {
		run("target dav", func(ctx context.Context) Reached { return p.reachDAV(ctx, "target dav", p.DAV, u) })
	}
	return out
}

func (p *Plan) reachArchive(ctx context.Context) Reached {
	a := p.Archive
	if a.SFTP != "" {
		r := Reached{Role: "archive sftp", Where: a.SFTP}
		t, err := sftp.ParseURL(a.SFTP)
		if err != nil {
			r.Err = err
			return r
		}
		cfg := sftp.Config{Target: t, KnownHosts: a.KnownHosts, PassphraseGiven: true, NoRemoteCommands: true, Timeout: 30 * time.Second,
			Passphrase: func(string) ([]byte, error) {
				return nil, errors.New("the identity file is encrypted; give an unencrypted key or an agent")
			}}
		if a.IdentityFile != "" {
			cfg.Identities, cfg.NoAgent = []string{a.IdentityFile}, true
		}
		ep, err := sftp.New(cfg)
		if err != nil {
			r.Err = err
			return r
		}
		defer ep.Close()
		c, err := ep.Connect(ctx)
		if err != nil {
			r.Err = err
			return r
		}
		defer c.Close()
		if err := c.MkdirAll(ctx, t.Path); err != nil {
			r.Err = err
			return r
		}
		ls, err := c.List(ctx, t.Path)
		if err != nil {
			r.Err = err
			return r
		}
		r.Detail = fmt.Sprintf("reachable, %d entries", len(ls))
		r.Err = writable(a.State)
		return r
	}
	r := Reached{Role: "archive", Where: a.Dir}
	if r.Err = writable(a.Dir); r.Err == nil {
		r.Err = writable(a.State)
	}
	if r.Err == nil {
		r.Detail = "writable"
	}
	return r
}

// writable checks that a run can write in dir: a probe file written and
// removed when it exists, else that its nearest existing parent lets a
// run create it. The check creates nothing that stays.
func writable(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		parent := dir
		for {
			next := filepath.Dir(parent)
			if next == parent {
				return fmt.Errorf("%s: no existing parent directory", dir)
			}
			parent = next
			if pi, err := os.Stat(parent); err == nil {
				if !pi.IsDir() {
					return fmt.Errorf("%s cannot be created: %s is not a directory", dir, parent)
				}
				if err := unix.Access(parent, unix.W_OK|unix.X_OK); err != nil {
					return fmt.Errorf("%s cannot be created: %s is not writable: %w", dir, parent, err)
				}
				return nil
			}
		}
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	f, err := os.CreateTemp(dir, ".mailhaul-check-*")
	if err != nil {
		return fmt.Errorf("%s is not writable: %w", dir, err)
	}
	name := f.Name()
	err = f.Close()
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	return err
}

func (p *Plan) reachRoot() Reached {
	r := Reached{Role: "source " + p.Source.Kind, Where: p.Source.Root}
	d, err := os.Open(p.Source.Root)
	if err != nil {
		r.Err = err
		return r
	}
	defer d.Close()
	names, err := d.Readdirnames(1000)
	if err != nil && len(names) == 0 {
		r.Err = fmt.Errorf("%s is not a readable directory: %w", p.Source.Root, err)
		return r
	}
	r.Detail = "readable"
	return r
}

// reachPath checks that a user's Maildir or mbox is there and readable;
// the export reads it as it always does, refusing links and devices.
func (p *Plan) reachPath(u User) Reached {
	r := Reached{Role: "source " + p.Source.Kind, Where: u.SourcePath}
	fi, err := os.Lstat(u.SourcePath)
	switch {
	case err != nil:
		r.Err = err
	case fi.Mode()&os.ModeSymlink != 0:
		r.Err = fmt.Errorf("%s is a symbolic link: an export refuses it (name its target in source_path if it is trusted)", u.SourcePath)
	case p.Source.Kind == KindMaildir && !fi.IsDir():
		r.Err = fmt.Errorf("%s is not a directory", u.SourcePath)
	default:
		f, err := os.Open(u.SourcePath)
		if err != nil {
			r.Err = err
			return r
		}
		f.Close()
		if p.Source.Kind == KindMaildir && !isMaildir(u.SourcePath) {
			r.Err = fmt.Errorf("%s holds no cur/ or new/ (nor an INBOX of a LAYOUT=fs root): not a Maildir", u.SourcePath)
			return r
		}
		r.Detail = "readable"
	}
	return r
}

func isMaildir(dir string) bool {
	for _, sub := range []string{"cur", "new", "INBOX"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err == nil && fi.IsDir() {
			return true
		}
	}
	return false
}

// reachIMAP logs u in to sv and lists the mailboxes.
func (p *Plan) reachIMAP(ctx context.Context, role string, sv *Server, u User) Reached {
	r := Reached{Role: role, Where: sv.URL}
	acct, err := p.IMAPAccount(sv, u)
	if err != nil {
		r.Err = err
		return r
	}
	if dl, ok := ctx.Deadline(); ok {
		acct.Timeout = time.Until(dl)
	}
	c, err := imapconn.Dial(ctx, acct)
	if err != nil {
		r.Err = err
		return r
	}
	defer c.Close()
	n := 0
	if _, err := c.Command(`LIST "" "*"`, func(line string) {
		if strings.HasPrefix(strings.ToUpper(line), "* LIST ") {
			n++
		}
	}); err != nil {
		r.Err = err
		return r
	}
	_, _ = c.Command("LOGOUT", nil)
	who := acct.User
	if acct.Admin != "" {
		who = acct.Admin + " for " + acct.User
	}
	r.Detail = fmt.Sprintf("logged in as %s, %d mailboxes", who, n)
	return r
}

// reachDAV discovers u's homes on sv and lists their collections.
func (p *Plan) reachDAV(ctx context.Context, role string, sv *Server, u User) Reached {
	r := Reached{Role: role, Where: sv.URL}
	cfg, e, err := p.DAVConfig(sv, u)
	if err != nil {
		r.Err = err
		return r
	}
	cfg.Retry.Attempts = 2 // a check does not wait out long outages
	c, homes, _, err := davclient.Connect(ctx, cfg, e)
	if err != nil {
		r.Err = err
		return r
	}
	var parts []string
	if homes.AddressBooks != nil {
		abs, err := c.AddressBooks(ctx, homes.AddressBooks)
		if err != nil {
			r.Err = err
			return r
		}
		parts = append(parts, fmt.Sprintf("%d address books", len(abs)))
	}
	if homes.Calendars != nil {
		cals, err := c.Calendars(ctx, homes.Calendars)
		if err != nil {
			r.Err = err
			return r
		}
		parts = append(parts, fmt.Sprintf("%d calendars", len(cals)))
	}
	r.Detail = "logged in as " + cfg.User + ", " + strings.Join(parts, ", ")
	return r
}

// ZimbraClient is the SOAP client of a Zimbra source, logged in as the
// plan's admin (nothing is sent before its first call).
func (p *Plan) ZimbraClient() (*soap.Client, error) {
	sv := p.Source.Server
	cfg := soap.Config{URL: sv.URL, Admin: sv.Admin, Password: sv.Secret.Read, AllowPlaintext: sv.AllowPlaintext}
	if tpl := p.Source.MailURL; tpl != "" {
		cfg.MailURL = func(host string) string { return strings.ReplaceAll(tpl, "{host}", host) }
	}
	cfg.Retry.Attempts = 2
	if sv.TLSCA != "" {
		pool, err := tlsca.Load(sv.TLSCA)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	return soap.New(cfg)
}

// reachZimbra logs the admin in and looks u up (GetAccountRequest).
func (rc *reacher) zimbra(ctx context.Context, u User, perUser bool) Reached {
	p := rc.p
	r := Reached{Role: "source zimbra", Where: p.Source.URL}
	if rc.zerr != nil {
		r.Err = rc.zerr
		return r
	}
	a, err := rc.zc.GetAccount(ctx, u.Address, false)
	if err != nil {
		r.Err = err
		return r
	}
	r.Detail = fmt.Sprintf("admin %s logged in; account %s on %s", p.Source.Admin, a.Name, a.MailHost())
	if perUser {
		r.Detail = fmt.Sprintf("account %s on %s", a.Name, a.MailHost())
	}
	return r
}

// zimbraUsers lists every account of a Zimbra source (users.all).
func (rc *reacher) zimbraUsers(ctx context.Context) (Reached, []User) {
	p := rc.p
	r := Reached{Role: "source zimbra", Where: p.Source.URL}
	if rc.zerr != nil {
		r.Err = rc.zerr
		return r, nil
	}
	c := rc.zc
	cctx, cancel := context.WithTimeout(ctx, 10*rc.timeout) // a directory of many pages
	defer cancel()
	var users []User
	var bad []string
	err := c.Accounts(cctx, soap.Search{}, func(a soap.Account) error {
		u, err := p.Resolve(a.Name)
		if err != nil {
			bad = append(bad, err.Error())
			return nil
		}
		users = append(users, u)
		return nil
	})
	switch {
	case err != nil:
		r.Err = err
	case len(bad) > 0:
		r.Err = fmt.Errorf("%d accounts cannot be migrated by this plan: %s", len(bad), strings.Join(bad[:min(len(bad), 5)], "; "))
	default:
		r.Detail = fmt.Sprintf("admin %s logged in; %d accounts", p.Source.Admin, len(users))
	}
	return r, users
}
