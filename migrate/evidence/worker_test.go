package evidence

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/maildir"
	"github.com/mailhaul/mailhaul/export/pim"
	"github.com/mailhaul/mailhaul/importer"
	davimport "github.com/mailhaul/mailhaul/importer/dav"
	imapimport "github.com/mailhaul/mailhaul/importer/imap"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/internal/usergen"
	"github.com/mailhaul/mailhaul/migrate"
	"github.com/mailhaul/mailhaul/migrate/lease"
	"github.com/mailhaul/mailhaul/migrate/shard"
)

// config is what a worker process is told, in a JSON file named by
// EVIDENCE_CONFIG; its shard index comes from JOB_COMPLETION_INDEX.
type config struct {
	Users               []usergen.User
	Passwords           map[string]string // login → password, Dovecot's and Radicale's
	IMAPAddr, DAVURL    string
	StateDir, Archives  string
	Stage               migrate.Stage
	UsersAtOnce, Shards int
	LeaseTTL            time.Duration
}

// worked is a worker's last output line: the users it did work on (not
// skipped), those it found done by another worker while it waited for
// them, and its exit code.
type worked struct {
	Index    int
	Users    []string
	ByOthers []string
	Exit     int
}

// workerMain runs one migrate.Run as a worker process would, and prints
// the worked line last.
func workerMain() int {
	b, err := os.ReadFile(os.Getenv("EVIDENCE_CONFIG"))
	if err != nil {
		fmt.Println("config:", err)
		return 1
	}
	var c config
	if err := json.Unmarshal(b, &c); err != nil {
		fmt.Println("config:", err)
		return 1
	}
	job, index, err := c.job()
	if err != nil {
		fmt.Println(err)
		return 1
	}
	res, err := migrate.Run(context.Background(), job)
	if err != nil {
		fmt.Println("run:", err)
		return 1
	}
	fmt.Print(res.Summary())
	w := worked{Index: index, Exit: res.ExitCode()}
	for _, u := range res.Users {
		if !u.Skipped {
			w.Users = append(w.Users, u.User.Name)
		}
		if u.Status == migrate.Done && u.By != "" {
			w.ByOthers = append(w.ByOthers, u.User.Name)
		}
	}
	out, _ := json.Marshal(w)
	fmt.Println(string(out))
	return w.Exit
}

// job builds the worker's share of the run: the users of its shard, each
// exported from its Maildir, contacts and calendar, and imported into
// Dovecot and Radicale, as migrate's own tests build their steps.
func (c *config) job() (migrate.Job, int, error) {
	index, err := shard.Index(0, false, c.Shards, os.Getenv)
	if err != nil {
		return migrate.Job{}, 0, err
	}
	byName := map[string]usergen.User{}
	var su []shard.User
	for _, u := range c.Users {
		byName[u.Name] = u
		su = append(su, shard.User{Key: u.Name, EstimatedBytes: u.Bytes})
	}
	shares, err := shard.Assign(su, max(1, c.Shards))
	if err != nil {
		return migrate.Job{}, 0, err
	}
	var users []migrate.User
	for _, i := range shares[index] {
		u := c.Users[i]
		users = append(users, migrate.User{Name: u.Name, Login: u.Login, EstimatedBytes: u.Bytes, Row: []string{u.Name, u.Login, ""}})
	}
	servers := &migrate.Servers{ConnsPerServer: 16}
	job := migrate.Job{Users: users, Stage: c.Stage, StateDir: c.StateDir, ArchiveDir: c.Archives, UsersAtOnce: c.UsersAtOnce,
		Locker: lease.Locker{Options: lease.Options{Dir: filepath.Join(c.StateDir, "leases"), TTL: c.LeaseTTL, Shard: index}},
		// Users another process of the index holds are waited for (bounded
		// well below the test's time), their releases seen within 200 ms.
		WaitHeld: 2 * time.Minute, HeldPoll: 200 * time.Millisecond,
		Retry: retry.Loop{Attempts: 3, Backoff: retry.Policy{First: 100 * time.Millisecond, Max: time.Second}},
		Steps: migrate.Steps{
			Export: func(_ context.Context, mu migrate.User, _ string) (export.Job, error) {
				u := byName[mu.Name]
				src := export.Composite{&maildir.Source{Root: u.Maildir}}
				if u.Contacts != "" {
					src = append(src, pim.Contacts{Path: u.Contacts, Name: "contacts"}, pim.Calendar{Path: u.Calendar, Name: "calendar"})
				}
				return export.Job{Kind: "maildir", Path: u.Maildir, PathIsDir: true, Source: src, Overlap: time.Minute}, nil
			},
			Import: func(mu migrate.User) ([]migrate.Import, error) {
				pw := c.Passwords[mu.Login]
				acct := imapconn.Account{Addr: c.IMAPAddr, User: mu.Login, Secret: func() (string, error) { return pw, nil }}
				mail := imapimport.New(imapimport.Options{Account: acct, Provider: "dovecot", Settle: time.Second,
					Timeout: time.Minute, Limits: servers.IMAP(c.IMAPAddr)})
				dav := davimport.New(davimport.Options{URL: c.DAVURL, User: mu.Login, Password: pw})
				req := importer.Request{ApplyDeletions: c.Stage == migrate.Delta}
				return []migrate.Import{{Target: mail, Request: req}, {Target: dav, Request: req}}, nil
			},
		}}
	return job, index, nil
}
