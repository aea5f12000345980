package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/pim"
	"github.com/mailhaul/mailhaul/export/zimbra"
	"github.com/mailhaul/mailhaul/export/zimbra/soap"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/importer/dav"
	imapimport "github.com/mailhaul/mailhaul/importer/imap"
	"github.com/mailhaul/mailhaul/internal/cause"
	"github.com/mailhaul/mailhaul/internal/ratelimit"
	"github.com/mailhaul/mailhaul/internal/termtext"
	"github.com/mailhaul/mailhaul/internal/trace"
	"github.com/mailhaul/mailhaul/migrate"
	"github.com/mailhaul/mailhaul/migrate/lease"
	"github.com/mailhaul/mailhaul/migrate/metrics"
	migrateplan "github.com/mailhaul/mailhaul/migrate/plan"
	"github.com/mailhaul/mailhaul/migrate/shard"
	"github.com/mailhaul/mailhaul/transport"
	"github.com/mailhaul/mailhaul/transport/local"
	"github.com/mailhaul/mailhaul/transport/sftp"
)

const migrateRunHelp = `Runs the plan for every user (or those of --only, or this shard's share): export
from the source into the user's archives, move them to the archive place (SFTP),
import mail over IMAP and contacts and calendars over CardDAV/CalDAV, limits.users
users at once, the IMAP connections to each target server capped together at
limits.connections_per_server and the bytes of all users at limits.bandwidth.

--stage full is the pre-migration. --stage delta is the cutover: each user is
exported since the start of its last export that finished (export's --since
rule) and the importers apply the delta's state record (flags, moves; deletions
with --apply-deletions). A second cutover takes a new --pass name.

--part export (at the source's site: export, and push to SFTP) and --part import
(at the target's: import from --archives DIR, or the plan's archive dir) split a
stage over two sites with a drive or SFTP between them.

Every user's state is kept in the plan's archive.state directory: kill the run at
any time and run it again; users done in this pass are skipped, an export that
did not finish starts again, an import continues from its journal. Users that
failed (or finished with items failed) are left alone by a later run of the same
pass unless --retry-failed. An authentication failure is never retried.

--shard-count N with --shard-index I (or JOB_COMPLETION_INDEX, MAILHAUL_SHARD_INDEX)
takes a stable share of the plan's users, balanced by their estimated sizes; a
lease per user on the shared state directory keeps two processes off one user.
A user another process holds (an index started twice) is left to it: once its
other users are through, the run waits for it, up to --wait-held, and counts it
done by that process when it finishes; one whose holder died is taken over.

At the end the per-user report (users.csv, users.json), the failures (failures.csv,
itself a users file to run again) and the summary (summary.txt) are written into
the state directory, and the summary is printed; its last line says "all N users
done" only when they are. Exit codes: 0 every user done, 3 some users failed or
finished with items failed (listed), 4 every user left failed for a cause no
re-run overcomes (authentication, configuration, a refused certificate; fix it,
then --retry-failed), 75 every user done but some still held by another process
at the end of --wait-held (run again later), 64 a plan with problems or a wrong flag, 1 the run could
not start or go on, 130 stopped by SIGINT or SIGTERM (the users under way go
back to queued).

--metrics ADDR serves Prometheus metrics while the run goes: users by status,
items and bytes by stage, failures by class (no user names).`

type migrateRunFlags struct {
	stage, part, pass string
	applyDeletions    bool
	retryFailed       bool
	only              []string
	shard             shardFlags
	logFile           string
	archives          string
	metrics           string
	metricsPublic     bool
	waitHeld          time.Duration
}

// shardFlags are --shard-index and --shard-count, for every command that
// works on one shard's share of the plan's users (run, compare).
type shardFlags struct {
	index    int
	indexSet bool // --shard-index given: it must agree with the environment's
	count    int
}

func (f *shardFlags) add(fl *pflag.FlagSet) {
	fl.IntVar(&f.index, "shard-index", 0, "this process's shard, 0 to --shard-count - 1 (or $"+shard.EnvJobIndex+", $"+shard.EnvIndex+")")
	fl.IntVar(&f.count, "shard-count", 1, "the number of processes sharing the plan's users")
}

// changed notes whether --shard-index was given on cmd's command line.
func (f *shardFlags) changed(cmd *cobra.Command) { f.indexSet = cmd.Flags().Changed("shard-index") }

func (a *app) migrateRunCommand() *cobra.Command {
	var f migrateRunFlags
	cmd := &cobra.Command{
		Use:   "run PLAN --stage full|delta",
		Short: "Run a plan: export, move and import every user, resumable",
		Long:  migrateRunHelp,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.shard.changed(cmd)
			return a.migrateRun(cmd.Context(), args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.stage, "stage", "", "full (the pre-migration) or delta (the cutover) (required)")
	fl.StringVar(&f.part, "part", "", "only the export part (export, transfer) or only the import part, for two sites (default: both)")
	fl.StringVar(&f.pass, "pass", "", "name of this pass in the users' states (default: the stage); a second cutover takes a new name")
	fl.BoolVar(&f.applyDeletions, "apply-deletions", false, "delta: delete on the targets what mailhaul placed and the source deleted (default: list it)")
	fl.BoolVar(&f.retryFailed, "retry-failed", false, "work again on the users that failed or finished with items failed in this pass")
	fl.StringSliceVar(&f.only, "only", nil, "only these users (source addresses; repeatable, or comma-separated)")
	f.shard.add(fl)
	fl.StringVar(&f.logFile, "log-file", "", "append timestamped lines (each user's steps, retries, the summary; with --debug, the trace too) to this file")
	fl.StringVar(&f.archives, "archives", "", "the directory the archives are read from and written to, instead of the plan's (the two-site flow: where the drive is mounted)")
	fl.StringVar(&f.metrics, "metrics", "", "serve Prometheus metrics at http://ADDR/metrics while the run goes (a loopback address, e.g. 127.0.0.1:9464)")
	fl.BoolVar(&f.metricsPublic, "metrics-public", false, "let --metrics listen on an address other than loopback (the metrics need no login)")
	fl.DurationVar(&f.waitHeld, "wait-held", migrate.DefaultWaitHeld, "how long to wait, after the other users, for users another process holds (0: not at all)")
	cmd.MarkFlagRequired("stage")
	return cmd
}

func (a *app) migrateRun(ctx context.Context, path string, f migrateRunFlags) error {
	p, err := migrateplan.Load(path)
	if err != nil {
		return fmt.Errorf("the plan has problems (see mailhaul migrate check):\n%w", err)
	}
	b := &runBuilder{a: a, p: p, f: f, byName: map[string]migrateplan.User{}}
	job, err := b.job(ctx)
	if err != nil {
		return err
	}
	memoryForUsers(job.UsersAtOnce)
	log, err := openRunLog(f.logFile)
	if err != nil {
		return err
	}
	defer log.close()
	if log.f != nil && trace.Enabled() {
		// The log holds each user's steps; with --debug, their
		// conversations between them, which only the owner reads (as
		// --debug-file), whatever an older file's mode was.
		if err := log.f.Chmod(0o600); err != nil {
			return fmt.Errorf("--log-file: %w", err)
		}
		defer trace.Tee(log)()
	}
	if err := b.checkZimbraAdmin(ctx, job.Users); err != nil {
		return err
	}
	disp := a.newMigrateProgress(job, log)
	job.Progress = disp.update
	job.Logf = disp.logf
	if f.metrics != "" {
		ln, err := metrics.Listen(f.metrics, f.metricsPublic)
		if err != nil {
			return cause.MarkUsage(fmt.Errorf("--metrics: %w", err))
		}
		defer ln.Close()
		m := metrics.New(len(job.Users), job.StateDir)
		go m.Serve(ln)
		job.Progress = m.Progress(job.Progress)
		log.printf("metrics at http://%s/metrics", ln.Addr())
	}
	log.printf("migrate run %s: stage %s, part %s, %d users, state %s", path, job.Stage, partName(job.Part), len(job.Users), job.StateDir)
	res, runErr := migrate.Run(ctx, job)
	disp.done()
	if res == nil {
		return runErr
	}
	reports := b.reportsDir(job.StateDir)
	werr := res.WriteFiles(reports)
	summary := res.Summary()
	for _, line := range strings.Split(strings.TrimSpace(summary), "\n") {
		log.printf("%s", line)
	}
	if a.json {
		a.writeRunResults(res, werr)
	} else {
		if werr == nil {
			fmt.Fprintf(a.stdout, "reports in %s\n", termtext.Escape(reports))
		}
		// The summary's last line is the run's last word: "all N users
		// done" only when they are.
		for _, line := range strings.Split(strings.TrimSpace(summary), "\n") {
			fmt.Fprintln(a.stdout, termtext.Escape(line))
		}
	}
	switch {
	case runErr != nil:
		return runErr
	case werr != nil:
		return fmt.Errorf("writing the reports: %w", werr)
	case res.ExitCode() == migrate.ExitPartial:
		return errPartial
	case res.ExitCode() == migrate.ExitPermanent:
		return errPermanent
	case res.ExitCode() == migrate.ExitHeld:
		return errHeld
	}
	return nil
}

// userMemory is one user's share of a migrate run's soft memory limit:
// its import's read-ahead (importer/imap's 32 MiB budget), its export's
// compressor and room for garbage. With the single-user limit for the
// whole run, eight users' read-ahead alone passed it and the collector ran
// without pause (8 users at once: 9.3 CPU seconds against 4.1 for one at
// a time, the same work).
const userMemory = 48 << 20

// memoryForUsers raises the soft memory limit to fit users at once; memory
// grows with the users worked on together, never with their mailboxes.
// GOMEMLIMIT in the environment wins.
func memoryForUsers(users int) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(softMemoryLimit + int64(max(users, 1))*userMemory)
	}
}

func partName(p migrate.Part) string {
	if p == migrate.AllParts {
		return "all"
	}
	return string(p)
}

// writeRunResults writes one JSON line per user and the result.
func (a *app) writeRunResults(res *migrate.Result, werr error) {
	for _, u := range res.Users {
		writeJSONLine(a.stdout, struct {
			Event string `json:"event"`
			migrate.State
			Skipped bool   `json:"skipped,omitempty"`
			Note    string `json:"note,omitempty"`
			Held    bool   `json:"held,omitempty"`
			By      string `json:"by,omitempty"`
		}{"user", u.State, u.Skipped, u.Note, u.Status == migrate.Held, u.By})
	}
	lines := strings.Split(strings.TrimSpace(res.Summary()), "\n")
	out := map[string]any{"event": "result", "users": len(res.Users), "done": res.Count(migrate.Done),
		"seconds": res.Seconds, "exitCode": res.ExitCode(), "summary": lines[len(lines)-1]}
	if werr != nil {
		out["reportError"] = werr.Error()
	}
	writeJSONLine(a.stdout, out)
}

// runBuilder makes the engine's Job from a plan: every user's export,
// transfer and imports, built by the same code the single-user commands
// use.
type runBuilder struct {
	a       *app
	p       *migrateplan.Plan
	f       migrateRunFlags
	byName  map[string]migrateplan.User
	servers *migrate.Servers
	shard   int          // this process's shard index
	zimbra  *soap.Client // a Zimbra source's, shared by every user
}

func (b *runBuilder) job(ctx context.Context) (migrate.Job, error) {
	p, f := b.p, b.f
	job := migrate.Job{Stage: migrate.Stage(f.stage), Part: migrate.Part(f.part), Pass: f.pass, StateDir: p.Archive.State,
		UsersAtOnce: p.Limits.Users, RetryFailed: f.retryFailed, WaitHeld: f.waitHeld}
	switch {
	case f.waitHeld < 0:
		return job, cause.MarkUsage(fmt.Errorf("--wait-held %s: give 0 (no wait) or more", f.waitHeld))
	case f.waitHeld == 0:
		job.WaitHeld = -1 // the engine's "no wait"
	}
	switch job.Stage {
	case migrate.Full, migrate.Delta:
	default:
		return job, fmt.Errorf("--stage %q: give full or delta", f.stage)
	}
	switch job.Part {
	case migrate.AllParts, migrate.ExportOnly, migrate.ImportOnly:
	default:
		return job, fmt.Errorf("--part %q: give export or import (or leave it out for both)", f.part)
	}
	var err error
	if f.applyDeletions && job.Stage != migrate.Delta {
		return job, errors.New("--apply-deletions applies a delta's state record: use it with --stage delta")
	}
	if p.Source.Kind == migrateplan.KindZimbra {
		if b.zimbra, err = p.ZimbraClient(); err != nil {
			return job, err
		}
	}
	users, err := b.users(ctx)
	if err != nil {
		return job, err
	}
	job.Users, job.Header = users, p.Header
	if f.shard.count > 1 {
		job.Shard = &migrate.Shard{Index: b.shard, Count: f.shard.count}
	}
	job.Locker = lease.Locker{Options: lease.Options{Dir: filepath.Join(p.Archive.State, leaseDir), Shard: b.shard}}
	var pacer *ratelimit.Pacer
	if p.Limits.BytesPerSecond > 0 {
		pacer = ratelimit.NewPacer(float64(p.Limits.BytesPerSecond), 0)
	}
	b.servers = &migrate.Servers{ConnsPerServer: p.Limits.ConnectionsPerServer, Pacer: pacer}
	job.ArchiveDir = p.Archive.Dir
	if f.archives != "" {
		job.ArchiveDir = f.archives
	}
	if p.Archive.SFTP != "" && f.archives == "" {
		// Archives are written here first, then pushed to the SFTP place.
		job.ArchiveDir = filepath.Join(p.Archive.State, outboxDir)
		if job.Part != migrate.ImportOnly {
			t, err := b.sftpTransfer(pacer)
			if err != nil {
				return job, err
			}
			job.Steps.Transfer = t
		} else {
			return job, errors.New("--part import with an sftp archive place: give --archives DIR, where the archives are at this site")
		}
	}
	// The state directory may sit in the archive directory (the plan's
	// default, dir/state), beside the users' archive directories: no
	// user's may be it.
	if filepath.Clean(filepath.Dir(job.StateDir)) == filepath.Clean(job.ArchiveDir) {
		for _, u := range job.Users {
			if strings.EqualFold(migrate.Key(u.Name), filepath.Base(job.StateDir)) {
				return job, fmt.Errorf("user %q: its archives would go into the state directory %s: give archive.state another name", u.Name, job.StateDir)
			}
		}
	}
	job.Steps.Export = b.export
	job.Steps.Import = b.imports
	return job, nil
}

// leaseDir, outboxDir and reportsDir live in the state directory beside
// the users' directories, named as no user's can be (a user's key never
// starts with a dot).
const (
	leaseDir   = ".leases"
	outboxDir  = ".outbox"
	reportsDir = ".reports"
)

// reportsDir is where the reports of this process go: each shard's
// apart, as the processes share the state directory.
func (b *runBuilder) reportsDir(stateDir string) string {
	reports := filepath.Join(stateDir, reportsDir)
	if b.f.shard.count > 1 {
		reports = filepath.Join(reports, fmt.Sprintf("shard-%d-of-%d", b.shard, b.f.shard.count))
	}
	return reports
}

// users are the plan's users this process works on: this shard's share,
// then --only.
func (b *runBuilder) users(ctx context.Context) ([]migrate.User, error) {
	all := b.p.Users()
	if b.p.AllUsers {
		var err error
		if all, err = b.zimbraUsers(ctx); err != nil {
			return nil, err
		}
	}
	eu := make([]migrate.User, len(all))
	for i, u := range all {
		eu[i] = engineUser(u)
		b.byName[u.Address] = u
	}
	idx, err := shard.Index(b.f.shard.index, b.f.shard.indexSet, b.f.shard.count, os.Getenv)
	if err != nil {
		return nil, err
	}
	b.shard = idx
	shares, err := migrate.Shares(eu, b.f.shard.count)
	if err != nil {
		return nil, err
	}
	mine := slices.Clone(shares[idx])
	slices.Sort(mine) // the plan's order
	var only map[string]bool
	if len(b.f.only) > 0 {
		only = map[string]bool{}
		var unknown []string
		for _, name := range b.f.only {
			if _, ok := b.byName[name]; !ok {
				unknown = append(unknown, name)
			}
			only[name] = true
		}
		if len(unknown) > 0 {
			return nil, fmt.Errorf("--only: not users of the plan: %s", strings.Join(unknown, ", "))
		}
	}
	var out []migrate.User
	for _, i := range mine {
		u := all[i]
		if only != nil && !only[u.Address] {
			continue
		}
		out = append(out, eu[i])
	}
	return out, nil
}

// zimbraUsers lists every account of the plan's Zimbra (users.all), each
// resolved by the plan's patterns. A listing that did not finish ends the
// run before it starts: a night that silently left users out would be
// worse.
func (b *runBuilder) zimbraUsers(ctx context.Context) ([]migrateplan.User, error) {
	var all []migrateplan.User
	var bad []string
	err := b.zimbra.Accounts(ctx, soap.Search{}, func(a soap.Account) error {
		u, err := b.p.Resolve(a.Name)
		if err != nil {
			bad = append(bad, err.Error())
			return nil
		}
		all = append(all, u)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the Zimbra accounts (users.all): %w", err)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("users.all: %s", strings.Join(bad, "; "))
	}
	return all, nil
}

// export is the user's export job from the plan's source.
func (b *runBuilder) export(ctx context.Context, mu migrate.User, since string) (export.Job, error) {
	p, u := b.p, b.byName[mu.Name]
	job := export.Job{User: mu.Name, Compress: p.Archive.Compress, Level: p.Archive.Level, Overlap: time.Hour,
		Tool: "mailhaul " + version}
	switch kind := p.Source.Kind; kind {
	case migrateplan.KindMaildir, migrateplan.KindMbox:
		k, err := findSource(kind)
		if err != nil {
			return job, err
		}
		src, err := k.new(sourceSettings{Path: u.SourcePath, Layout: "auto"})
		if err != nil {
			return job, err
		}
		sources := export.Composite{src}
		for _, g := range []struct {
			pattern string
			add     func(path string) export.Source
		}{{u.ContactFiles, func(p string) export.Source { return pim.Contacts{Path: p} }},
			{u.CalendarFiles, func(p string) export.Source { return pim.Calendar{Path: p} }}} {
			if g.pattern == "" {
				continue
			}
			files, err := filepath.Glob(g.pattern)
			if err != nil {
				return job, err
			}
			for _, file := range files {
				sources = append(sources, g.add(file))
			}
		}
		job.Kind, job.Path, job.PathIsDir, job.Source = kind, u.SourcePath, k.dir, sources
	case migrateplan.KindIMAP:
		acct, err := p.IMAPAccount(&p.Source.Server, u)
		if err != nil {
			return job, err
		}
		src, where, err := imapSource(acct, imapSourceSettings{provider: p.Source.Provider}, b.a.retryLog)
		if err != nil {
			return job, err
		}
		job.Kind, job.Path, job.PathIsURL, job.Source = "imap", where, true, src
	case migrateplan.KindDAV:
		cfg, ends, err := p.DAVConfig(&p.Source.Server, u)
		if err != nil {
			return job, err
		}
		cfg.Logf = b.a.retryLog
		src, err := davSource(cfg, ends, 0, since)
		if err != nil {
			return job, err
		}
		job.Kind, job.Path, job.PathIsURL, job.Source = "dav", p.Source.URL, true, src
	case migrateplan.KindZimbra:
		// The REST exports of the live server, as export zimbra --url
		// reads them; GetAccount first, for the manifest.
		job = zimbra.PrepareLive(ctx, zimbra.LiveJob{Job: job, Client: b.zimbra})
		job.Path = p.Source.URL
	default:
		return job, fmt.Errorf("migrate run: a %s source is not supported", kind)
	}
	return job, nil
}

// checkZimbraAdmin logs the plan's Zimbra admin in once before any user
// starts: a refused login ends the run there, rather than being tried
// again for every user (each try counts towards the admin's lockout).
func (b *runBuilder) checkZimbraAdmin(ctx context.Context, users []migrate.User) error {
	if b.zimbra == nil || len(users) == 0 {
		return nil
	}
	_, err := b.zimbra.GetAccount(ctx, users[0].Name, false)
	b.zimbra.Done(users[0].Name)
	if soap.LoginRefused(err) {
		return fmt.Errorf("the Zimbra admin %s was refused at %s: nothing was started (%w)", b.p.Source.Admin, b.p.Source.URL, err)
	}
	return nil
}

// imports are the user's imports: mail over IMAP, then contacts and
// calendars over DAV.
func (b *runBuilder) imports(mu migrate.User) ([]migrate.Import, error) {
	p, u := b.p, b.byName[mu.Name]
	req := importer.Request{ApplyDeletions: b.f.applyDeletions}
	var out []migrate.Import
	if p.IMAP != nil {
		acct, err := p.IMAPAccount(p.IMAP, u)
		if err != nil {
			return nil, err
		}
		provider := p.IMAP.Provider
		if provider == "" {
			provider = "generic"
		}
		opt := imapimport.Options{Account: acct, Provider: provider, Limits: b.servers.IMAP(acct.Addr)}
		tg, err := newTarget("imap", p.IMAP.URL, opt)
		if err != nil {
			return nil, err
		}
		out = append(out, migrate.Import{Target: tg, Request: req})
	}
	if p.DAV != nil {
		cfg, ends, err := p.DAVConfig(p.DAV, u)
		if err != nil {
			return nil, err
		}
		opt := dav.Options{URL: ends.URL, CardDAV: ends.CardDAV, CalDAV: ends.CalDAV, User: cfg.User, Password: cfg.Password,
			Token: cfg.Token, AllowPlaintext: cfg.AllowPlaintext, RootCAs: cfg.RootCAs}
		tg, err := newTarget("dav", p.DAV.URL, opt)
		if err != nil {
			return nil, err
		}
		out = append(out, migrate.Import{Target: tg, Request: req})
	}
	return out, nil
}

// newTarget builds a target of the registry, as import and restore do.
func newTarget(kind, where string, opt any) (importer.Target, error) {
	k, err := findTarget(kind)
	if err != nil {
		return nil, err
	}
	return k.new(targetSettings{Where: where, Options: opt})
}

// sftpTransfer pushes each new archive to the plan's SFTP place, its host
// key checked against the plan's known_hosts.
func (b *runBuilder) sftpTransfer(pacer *ratelimit.Pacer) (*migrate.Transfer, error) {
	a := b.p.Archive
	target, err := sftp.ParseURL(a.SFTP)
	if err != nil {
		return nil, err
	}
	cfg := sftp.Config{Target: target, KnownHosts: a.KnownHosts}
	if a.IdentityFile != "" {
		// The plan's key, and no agent's: a night's run logs in the
		// same way wherever it is started.
		cfg.Identities, cfg.NoAgent = []string{a.IdentityFile}, true
	}
	ep, err := sftp.New(cfg)
	if err != nil {
		return nil, err
	}
	return &migrate.Transfer{Src: local.Endpoint{}, Dst: ep, Dir: target.Path,
		Options: transport.Options{Limit: pacer}}, nil
}
