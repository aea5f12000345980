package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/zimbra"
	"github.com/mailhaul/mailhaul/export/zimbra/soap"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/internal/termtext"
	"github.com/mailhaul/mailhaul/internal/trace"
	"github.com/mailhaul/mailhaul/report"
)

const zimbraLiveHelp = `From a live Zimbra (--url https://HOST:7071, the admin port): the admin logs in
(AuthRequest; the password from --password-file or MAILHAUL_PASSWORD, never an argument),
each user is reached with a delegated token, renewed while the export runs, on its own
mailbox server (zimbraMailHost: https://HOST, or --mail-url); with --rest-auth basic the
exports go to --url itself with the admin's name and password as HTTP Basic (where the
installation allows it; https or loopback only) and no token is delegated. Users come from --user
(repeatable; a name given twice is exported once), --users-file (what "zmprov -l gaa
[-v]" printed) or --all-users (every account and calendar resource that is not a system
resource, listed whole before the exports begin; a listing short of the directory's
count is said on the last line). Per user, one archive: the account's record
(names, aliases, quota, status, forwarding, time zone, Sieve filters, out-of-office; the
password hash only with --with-password-hash, and only from a --users-file of
"zmprov -l gaa -v", since Zimbra blocks it over SOAP) in its manifest, every folder
(empty ones too, from GetFolderRequest), and the items of the REST exports of the
mailbox root, /Trash and /Junk (a plain export leaves those two out). Without a cutoff
each folder's count is checked against what the exports held, and a shortfall is an
error naming the folder. --after / --since ask Zimbra only for items received since
(query=after:MS, with is:local for the root; epoch ms a second early, as Zimbra's after:
excludes the second given; every item type by its date, where start= would take
appointments by their first instance and tasks whole); with several users --since
takes a directory of their earlier archives. A delta ends with the state record (every
message, contact, appointment and task, from a paged SOAP SearchRequest, checked against the
folder counts; a folder listed short is an error naming it); zmmailbox alone gives none, and
says so. Requests are paced
under Zimbra's DoS filter (--requests-per-second); 5xx, 429 and dropped connections are
repeated; an export stream that breaks restarts that user's export from the beginning
(the temporary archive is discarded, never renamed into place); an account that cannot
be logged into or read is reported and not repeated. --concurrency users at once.
On the Zimbra host, --zmmailbox PATH reads "zmmailbox -z -m USER -t 0 getRestURL ..."
instead of HTTPS (with --url as well, SOAP still gives the record, folders and counts).`

// zimbraLiveFlags are export zimbra's flags for a live server.
type zimbraLiveFlags struct {
	url, admin, passwordFile, mailURL, tlsCA string
	users                                    []string
	usersFile                                string
	allUsers, withHash, viaAdminPort         bool
	concurrency                              int
	rps                                      float64
	headerTimeout, idleTimeout               time.Duration
	zmmailbox                                string
	restAuth                                 string
}

func (lf *zimbraLiveFlags) add(cmd *cobra.Command, f *exportFlags) {
	fl := cmd.Flags()
	// --user is repeatable here: one archive per user of a live server.
	u := fl.Lookup("user")
	u.Value = &addressList{list: &lf.users, first: &f.user}
	u.Usage = "the mailbox owner; for a live Zimbra repeatable, one archive each"
	fl.StringVar(&lf.url, "url", "", "live Zimbra: the admin service, https://HOST[:7071]")
	fl.StringVar(&lf.admin, "admin", "", "live Zimbra: the admin account")
	fl.StringVar(&lf.passwordFile, "password-file", "", "live Zimbra: a file holding the admin password (default: $"+passwordEnv+")")
	fl.StringVar(&lf.usersFile, "users-file", "", `live Zimbra: the users, as "zmprov -l gaa [-v]" printed them`)
	fl.BoolVar(&lf.allUsers, "all-users", false, "live Zimbra: every account (SearchDirectoryRequest), system resources left out")
	fl.IntVar(&lf.concurrency, "concurrency", 4, "live Zimbra: users exported at once")
	fl.StringVar(&lf.mailURL, "mail-url", "", "live Zimbra: the mailbox servers' base URL; {host} stands for zimbraMailHost (default https://{host})")
	fl.StringVar(&lf.tlsCA, "tls-ca", "", "live Zimbra: PEM certificates to trust instead of the system's")
	fl.BoolVar(&lf.withHash, "with-password-hash", false, `live Zimbra: keep the password hash that a --users-file of "zmprov -l gaa -v" holds in each account record`)
	fl.BoolVar(&lf.viaAdminPort, "via-admin-port", false, "live Zimbra: send every request to --url with the admin token (only 7071 is reachable)")
	fl.Float64Var(&lf.rps, "requests-per-second", soap.DefaultRequestsPerSecond, "live Zimbra: the pace of all requests (Zimbra's DoS filter allows 30 per client; negative: unpaced)")
	fl.DurationVar(&lf.headerTimeout, "header-timeout", 10*time.Minute, "live Zimbra: how long to wait for an answer (or zmmailbox's output) to begin (an export's search may take minutes)")
	fl.DurationVar(&lf.idleTimeout, "idle-timeout", 5*time.Minute, "live Zimbra: give up an answer (or zmmailbox's output) that sent nothing for this long: a SOAP answer is asked again, an export stream exports the user again")
	fl.StringVar(&lf.restAuth, "rest-auth", "token", `live Zimbra: how the exports log in: "token" (a delegated token per user) or "basic" (the admin's name and password as HTTP Basic on --url, the admin port, where the installation allows it; https or loopback only)`)
	fl.StringVar(&lf.zmmailbox, "zmmailbox", "", "on the Zimbra host: read this zmmailbox program's getRestURL output instead of HTTPS")
}

// liveOnly names a live-only flag that was given, "" if none.
func (lf *zimbraLiveFlags) liveOnly(cmd *cobra.Command) string {
	for _, n := range []string{"admin", "password-file", "users-file", "all-users", "concurrency", "mail-url", "tls-ca",
		"with-password-hash", "via-admin-port", "requests-per-second", "header-timeout", "idle-timeout", "rest-auth"} {
		if cmd.Flags().Changed(n) {
			return n
		}
	}
	return ""
}

// addressList is a repeatable --user; the first one is also exportFlags.user.
type addressList struct {
	list  *[]string
	first *string
}

func (l *addressList) Set(v string) error {
	*l.list = append(*l.list, v)
	*l.first = (*l.list)[0]
	return nil
}
func (l *addressList) String() string { return strings.Join(*l.list, ",") }
func (l *addressList) Type() string   { return "address" }

// zimbraUser is one user's outcome.
type zimbraUser struct {
	name string
	rep  *report.Export
	err  error
}

// exportZimbraLive exports each user of a live Zimbra into its archive.
func (a *app) exportZimbraLive(cmd *cobra.Command, f *exportFlags, lf *zimbraLiveFlags) error {
	ctx := cmd.Context()
	for _, n := range []string{"contacts", "calendar"} {
		if cmd.Flags().Changed(n) {
			return fmt.Errorf("export zimbra: --%s adds files to a --from-tgz export; a live export reads the server's own", n)
		}
	}
	sources := 0
	for _, on := range []bool{len(lf.users) > 0, lf.usersFile != "", lf.allUsers} {
		if on {
			sources++
		}
	}
	switch {
	case sources != 1:
		return errors.New("export zimbra: give the users with one of --user ADDRESS..., --users-file F or --all-users")
	case f.out == "":
		return errors.New("export zimbra: --out is required")
	case lf.url == "" && lf.allUsers:
		return errors.New("export zimbra: --all-users lists the accounts over SOAP: give --url")
	case lf.url == "" && lf.liveOnlySOAP(cmd) != "":
		return fmt.Errorf("export zimbra: --%s needs --url (a SOAP connection)", lf.liveOnlySOAP(cmd))
	case lf.withHash && lf.usersFile == "":
		return errors.New(`export zimbra: --with-password-hash takes the hashes from a --users-file of "zmprov -l gaa -v" (Zimbra blocks them over SOAP)`)
	case f.report != "" && (len(lf.users) != 1):
		return errors.New("export zimbra: --report names one file: with several users each report goes beside its archive")
	case lf.concurrency < 1:
		return errors.New("export zimbra: --concurrency must be at least 1")
	}
	var client *soap.Client
	where := lf.zmmailbox
	if lf.url != "" {
		var err error
		if client, err = lf.client(); err != nil {
			return err
		}
		where = lf.url
	}
	// A refused admin login stops the run: every other user would be
	// refused too, and each try counts against the admin's lockout.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var (
		mu      sync.Mutex
		results []zimbraUser
		skipped []string // received after the admin login was refused
		wg      sync.WaitGroup
	)
	users := make(chan soap.Account)
	listErr := make(chan error, 1)
	go func() {
		defer close(users)
		listErr <- lf.listUsers(ctx, client, func(msg string) {
			mu.Lock()
			fmt.Fprintln(a.stderr, termtext.Escape(msg))
			mu.Unlock()
		}, func(acc soap.Account) error {
			select {
			case users <- acc:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	single := len(lf.users) == 1
	for range lf.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for acc := range users {
				if adminRefused(context.Cause(ctx)) {
					mu.Lock()
					skipped = append(skipped, acc.Name)
					mu.Unlock()
					continue
				}
				job, err := lf.job(f, acc.Name, where)
				var rep *report.Export
				var prog *display
				if err == nil {
					if single {
						prog = a.newProgress("export "+acc.Name, nil)
						job.Progress = prog.update
					}
					user := acc.Name
					again := retry.Loop{OnRetry: func(_ int, err error, wait time.Duration) {
						mu.Lock()
						fmt.Fprintf(a.stderr, "%s: %s; exporting the user again in %s\n", termtext.Escape(user),
							termtext.Escape(err.Error()), wait.Round(time.Second))
						mu.Unlock()
					}}
					// --debug: --concurrency users share the trace.
					rep, err = zimbra.RunLive(trace.WithUser(ctx, user), zimbra.LiveJob{Job: job, Client: client, Zmmailbox: lf.zmmailbox,
						PasswordHash: lf.withHash, Listed: acc, Retry: again, IdleTimeout: lf.idleTimeout, HeaderTimeout: lf.headerTimeout})
				}
				if prog != nil {
					prog.done()
				}
				if adminRefused(err) {
					stop(err)
				}
				mu.Lock()
				a.printZimbraUser(acc.Name, rep, err)
				results = append(results, zimbraUser{acc.Name, rep, err})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	lerr := <-listErr
	switch {
	case errors.Is(lerr, soap.ErrListGap):
		lerr = fmt.Errorf("listing the users: %w", lerr) // every listed user was exported
	case lerr != nil:
		lerr = fmt.Errorf("listing the users stopped after %d: %w", len(results), lerr)
	}
	if cause := context.Cause(ctx); adminRefused(cause) {
		notTried := append(skipped, lf.untried(results, skipped)...)
		slices.Sort(notTried)
		lerr = fmt.Errorf("stopped: the admin login was refused (%w)", cause)
		switch {
		case len(notTried) > 0 && lf.usersFile == "" && !lf.allUsers:
			lerr = fmt.Errorf("%w; not tried: %s", lerr, strings.Join(notTried, ", "))
		case len(notTried) > 0:
			lerr = fmt.Errorf("%w; not tried: %s and the users listed after them", lerr, strings.Join(notTried, ", "))
		default:
			lerr = fmt.Errorf("%w; the users listed after these were not tried", lerr)
		}
	}
	return a.zimbraLiveEnd(results, lerr)
}

// untried are the --user names neither exported nor skipped.
func (lf *zimbraLiveFlags) untried(results []zimbraUser, skipped []string) []string {
	if lf.usersFile != "" || lf.allUsers {
		return nil // the listing stopped; its rest is unknown
	}
	seen := map[string]bool{}
	for _, r := range results {
		seen[strings.ToLower(r.name)] = true
	}
	for _, n := range skipped {
		seen[strings.ToLower(n)] = true
	}
	var out []string
	for _, u := range lf.users {
		if !seen[strings.ToLower(u)] {
			seen[strings.ToLower(u)] = true
			out = append(out, u)
		}
	}
	return out
}

// adminRefused reports a refused admin login (AuthRequest's fault, or
// HTTP Basic refused).
func adminRefused(err error) bool {
	return soap.LoginRefused(err)
}

// liveOnlySOAP names a flag given that only a SOAP connection serves.
func (lf *zimbraLiveFlags) liveOnlySOAP(cmd *cobra.Command) string {
	for _, n := range []string{"admin", "password-file", "mail-url", "tls-ca", "via-admin-port", "requests-per-second",
		"rest-auth"} {
		if cmd.Flags().Changed(n) {
			return n
		}
	}
	return ""
}

// client is the SOAP client of --url.
func (lf *zimbraLiveFlags) client() (*soap.Client, error) {
	if lf.admin == "" {
		return nil, errors.New("export zimbra: --admin is required with --url")
	}
	if lf.restAuth != "token" && lf.restAuth != "basic" {
		return nil, fmt.Errorf(`export zimbra: --rest-auth %q: give "token" or "basic"`, lf.restAuth)
	}
	cfg := soap.Config{URL: lf.url, Admin: lf.admin, ViaAdminPort: lf.viaAdminPort, BasicAuth: lf.restAuth == "basic", RequestsPerSecond: lf.rps,
		Conns: lf.concurrency, HeaderTimeout: lf.headerTimeout, IdleTimeout: lf.idleTimeout,
		Password: func() (string, error) {
			pw, err := password(lf.passwordFile)
			if err == nil && pw == "" {
				err = fmt.Errorf("export zimbra: no admin password: give --password-file or set %s", passwordEnv)
			}
			return pw, err
		}}
	if _, err := cfg.Password(); err != nil {
		return nil, err // said before any user starts
	}
	if lf.tlsCA != "" {
		pool, err := loadCAs(lf.tlsCA)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if lf.mailURL != "" {
		tpl := lf.mailURL
		cfg.MailURL = func(host string) string { return strings.ReplaceAll(tpl, "{host}", host) }
	}
	c, err := soap.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("export zimbra: %w", err)
	}
	return c, nil
}

// listUsers calls fn for each user to export, each once: a name given
// again (in any case) is said on stderr and not exported twice, which
// would run two exports of one mailbox at once, the second failing.
func (lf *zimbraLiveFlags) listUsers(ctx context.Context, c *soap.Client, say func(string), fn func(soap.Account) error) error {
	seen := map[string]bool{}
	each := fn
	fn = func(a soap.Account) error {
		k := strings.ToLower(a.Name)
		if seen[k] {
			say("export zimbra: " + a.Name + " is listed more than once; exported once")
			return nil
		}
		seen[k] = true
		return each(a)
	}
	switch {
	case lf.usersFile != "":
		in, err := os.Open(lf.usersFile)
		if err != nil {
			return fmt.Errorf("--users-file: %w", err)
		}
		defer in.Close()
		return soap.ReadGAA(in, lf.withHash, fn)
	case lf.allUsers:
		return c.Accounts(ctx, soap.Search{}, fn)
	}
	for _, u := range lf.users {
		if err := fn(soap.Account{Name: u}); err != nil {
			return err
		}
	}
	return nil
}

// job is one user's export job; --since as a directory names each
// user's full archive in it.
func (lf *zimbraLiveFlags) job(f *exportFlags, user, where string) (export.Job, error) {
	since := f.since
	if fi, err := os.Stat(since); since != "" && err == nil && fi.IsDir() {
		comp, err := format.ParseCompression(f.compress)
		if err != nil {
			return export.Job{}, err
		}
		since = filepath.Join(since, format.ArchiveName(user, time.Time{}, comp))
	} else if since != "" && len(lf.users) != 1 {
		return export.Job{}, errors.New("--since: with several users give the directory of their earlier archives")
	}
	return export.Job{User: user, Path: where, Out: f.out, After: f.after, Since: since, Overlap: f.overlap,
		Compress: f.compress, Level: f.level, Overwrite: f.overwrite, ReportPath: f.report,
		Tool: "mailhaul " + version, Explain: explainExport}, nil
}

// printZimbraUser says how one user's export ended, as it ends.
func (a *app) printZimbraUser(user string, rep *report.Export, err error) {
	switch {
	case a.json && rep != nil:
		writeJSONLine(a.stdout, rep)
	case a.json:
		writeJSONLine(a.stdout, map[string]string{"user": user, "status": "failed", "error": err.Error()})
	case err != nil:
		fmt.Fprintf(a.stderr, "%s: export failed: %s\n", termtext.Escape(user), termtext.Escape(err.Error()))
	default:
		a.printExportReport(rep)
	}
}

// zimbraLiveEnd is the run's last line: every user complete, or which
// were partial and which failed (exit 3; 1 when no user got an archive).
func (a *app) zimbraLiveEnd(results []zimbraUser, listErr error) error {
	var partial, failed []string
	for _, r := range results {
		switch {
		case r.err != nil:
			failed = append(failed, r.name)
		case r.rep.Status != "ok":
			partial = append(partial, fmt.Sprintf("%s (%d items)", r.name, r.rep.Failed))
		}
	}
	slices.Sort(partial)
	slices.Sort(failed)
	done := len(results) - len(failed)
	if len(partial) == 0 && len(failed) == 0 && listErr == nil {
		if !a.json {
			fmt.Fprintf(a.stdout, "export zimbra: %s exported, all complete\n", plural(len(results), "user"))
		}
		return nil
	}
	if len(failed) == 1 && len(results) == 1 && listErr == nil {
		return results[0].err // one user: its own error, exit 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, "export zimbra: %d of %s exported", done, plural(len(results), "user"))
	if len(partial) > 0 {
		fmt.Fprintf(&b, "; partial: %s", strings.Join(partial, ", "))
	}
	if len(failed) > 0 {
		fmt.Fprintf(&b, "; failed: %s", strings.Join(failed, ", "))
	}
	if listErr != nil {
		fmt.Fprintf(&b, "; %s", listErr)
	}
	if done == 0 {
		return errors.New(b.String())
	}
	fmt.Fprintln(a.stderr, termtext.Escape(b.String()))
	return errPartial
}

// plural is "1 user", "2 users".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
