package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailhaul/mailhaul/internal/termtext"
	migrateplan "github.com/mailhaul/mailhaul/migrate/plan"
)

const migrateCheckHelp = `Checks a plan in two steps. First the plan itself: every problem at once, each
with its file and line (unknown or misspelt keys, missing keys, bad URLs, plaintext
to a host other than loopback without allow_plaintext, a per-user path without a
placeholder or one a user name would escape, duplicate users, a target login used
by two users, unreadable secret files, bad CSV rows); exit 1 with the list. Then
that everything answers, as a run would reach it: the archive directory is
writable (or the SFTP server reachable, its host key verified), the source (a
Maildir/mbox root readable, Zimbra's admin login and an account lookup, an IMAP
login and LIST, DAV discovery and listing) and each target (IMAP LOGIN and LIST,
DAV discovery and listing), once per server with the admin's login or the first
user's; with --logins, every user's. Each failure names the server, the user and
the reason; a refused login is not tried again. Exit 3 when anything failed to
answer, 0 when all did.`

type migrateCheckFlags struct {
	logins      bool
	concurrency int
	timeout     time.Duration
}

func (a *app) migrateCheckCommand() *cobra.Command {
	var f migrateCheckFlags
	cmd := &cobra.Command{
		Use:   "check PLAN",
		Short: "Check a plan: every problem with its line, then that every server answers",
		Long:  migrateCheckHelp,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.migrateCheck(cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.logins, "logins", false, "log every user in to the source and targets, not only the first")
	fl.IntVar(&f.concurrency, "concurrency", 0, "users checked at once with --logins (default: the plan's limits.users, at most limits.connections_per_server)")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "bound on each check")
	return cmd
}

// checkLine is one line of migrate check --json.
type checkLine struct {
	Event   string `json:"event"` // "problem", "check", "result"
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Problem string `json:"problem,omitempty"`
	Role    string `json:"role,omitempty"`
	Where   string `json:"where,omitempty"`
	User    string `json:"user,omitempty"`
	OK      *bool  `json:"ok,omitempty"`
	Detail  string `json:"detail,omitempty"`
	Error   string `json:"error,omitempty"`
	Passed  *int   `json:"passed,omitempty"`
	Failed  *int   `json:"failed,omitempty"`
}

func (a *app) migrateCheck(cmd *cobra.Command, path string, f migrateCheckFlags) error {
	if f.concurrency < 0 {
		return errors.New("--concurrency must be at least 1")
	}
	p, err := migrateplan.Load(path)
	var probs migrateplan.Problems
	if errors.As(err, &probs) {
		for _, pr := range probs {
			if a.json {
				writeJSONLine(a.stdout, checkLine{Event: "problem", File: pr.File, Line: pr.Line, Problem: pr.Msg})
			} else {
				fmt.Fprintln(a.stdout, termtext.Escape(pr.String()))
			}
		}
		return fmt.Errorf("the plan %s has %d problem(s); nothing was checked on the servers", path, len(probs))
	}
	if err != nil {
		return err
	}
	if !a.json {
		n := fmt.Sprintf("%d users", len(p.Users()))
		if p.AllUsers {
			n = "every account of the Zimbra source"
		}
		fmt.Fprintf(a.stdout, "plan %s: no problems; %s\n", termtext.Escape(path), n)
	}
	passed := 0
	var failed []string
	p.Reach(cmd.Context(), migrateplan.ReachOptions{Logins: f.logins, Concurrency: f.concurrency, Timeout: f.timeout}, func(r migrateplan.Reached) {
		ok := r.Err == nil
		who := r.Role + " " + r.Where
		if r.User != "" {
			who += " user " + r.User
		}
		if ok {
			passed++
		} else {
			failed = append(failed, who)
		}
		if a.json {
			l := checkLine{Event: "check", Role: r.Role, Where: r.Where, User: r.User, OK: &ok, Detail: r.Detail}
			if !ok {
				l.Error = r.Err.Error()
			}
			writeJSONLine(a.stdout, l)
			return
		}
		if ok {
			fmt.Fprintf(a.stdout, "ok      %s: %s\n", termtext.Escape(who), termtext.Escape(r.Detail))
		} else {
			fmt.Fprintf(a.stdout, "FAILED  %s: %s\n", termtext.Escape(who), termtext.Escape(r.Err.Error()))
		}
	})
	nf := len(failed)
	if a.json {
		writeJSONLine(a.stdout, checkLine{Event: "result", Passed: &passed, Failed: &nf})
	}
	if cmd.Context().Err() != nil {
		return cmd.Context().Err()
	}
	if nf == 0 {
		if !a.json {
			fmt.Fprintf(a.stdout, "check: all %d answered\n", passed)
		}
		return nil
	}
	if !a.json {
		slices.Sort(failed)
		fmt.Fprintf(a.stdout, "check: %d answered, %d failed: %s\n", passed, nf, termtext.Escape(strings.Join(failed, "; ")))
	}
	return errPartial
}
