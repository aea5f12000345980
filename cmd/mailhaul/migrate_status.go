package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailhaul/mailhaul/internal/termtext"
	"github.com/mailhaul/mailhaul/migrate"
	"github.com/mailhaul/mailhaul/migrate/lease"
	migrateplan "github.com/mailhaul/mailhaul/migrate/plan"
)

const migrateStatusHelp = `Shows where every user of the plan stands, from the per-user state files
alone (no server is asked, so it can run while a migration goes on, on any
machine that sees the state directory): queued, exporting, transferring,
importing, done, done-with-warnings, failed-retryable or failed-permanent,
with the last error; who holds a user being worked on (its lease); the users
at each status, the messages and bytes; and the ETA of the pass, from the
rate of the users done in it (bytes per second per user, times the
estimated sizes of the users left, divided by the users at once; for a
delta pass, seconds per user), "unknown" while no user is done. --json
prints one object. The pass is the one most recently worked on unless
--pass names it.

A night run as shards (migrate run --shard-count N on many machines sharing
the state directory) is shown whole: every user of the plan once, with its
shard (computed from the plan as migrate run computes it), each shard's
counts and the leases its workers hold, and the ETA of the slowest shard
(each works through its own users only; the rate is measured over all of
them). The shard count is the one the users' records of the pass name, or
--shard-count.`

func (a *app) migrateStatusCommand() *cobra.Command {
	var pass string
	var shards int
	cmd := &cobra.Command{
		Use:   "status PLAN",
		Short: "Where every user of a plan stands, with totals and the ETA",
		Long:  migrateStatusHelp,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.migrateStatus(args[0], pass, shards)
		},
	}
	cmd.Flags().StringVar(&pass, "pass", "", "the pass to look at (default: the one most recently worked on)")
	cmd.Flags().IntVar(&shards, "shard-count", 0, "the night's shard count (default: as the users' records say)")
	return cmd
}

// statusUser is one user in migrate status --json.
type statusUser struct {
	User       string            `json:"user"`
	Login      string            `json:"login,omitempty"`
	Shard      *int              `json:"shard,omitempty"` // in a sharded night
	Status     migrate.Status    `json:"status"`
	Pass       string            `json:"pass,omitempty"`
	Messages   int               `json:"messages"`
	Bytes      int64             `json:"bytes"`
	Estimated  int64             `json:"estimatedBytes,omitempty"`
	Seconds    float64           `json:"seconds"`
	Updated    time.Time         `json:"updated,omitzero"`
	Holder     string            `json:"holder,omitempty"`
	Error      string            `json:"error,omitempty"`
	ErrorClass string            `json:"errorClass,omitempty"`
	Failures   []migrate.Failure `json:"failures,omitempty"`
	Note       string            `json:"note,omitempty"`
}

// statusResult is migrate status --json.
type statusResult struct {
	Pass       string                 `json:"pass"`
	Users      []statusUser           `json:"users"`
	Count      map[migrate.Status]int `json:"count"`
	Messages   int                    `json:"messages"`
	Bytes      int64                  `json:"bytes"`
	ETA        migrate.ETA            `json:"eta"`
	ETASeconds *float64               `json:"etaSeconds"` // null: unknown
	Held       int                    `json:"held"`
	// Shards is the night's shard count, ByShard each shard's standing
	// (only in a sharded night).
	Shards  int                     `json:"shards"`
	ByShard []migrate.ShardStanding `json:"byShard,omitempty"`
}

func (a *app) migrateStatus(path, pass string, shards int) error {
	p, err := migrateplan.Load(path)
	if err != nil {
		return err
	}
	users := migrateUsers(p)
	assign := true // the plan's users: every one, with its size
	if p.AllUsers {
		assign = false
		// Every account of a Zimbra: listed when a run starts, so the
		// users are those the state directory knows.
		if users, err = migrate.StateUsers(p.Archive.State); err != nil {
			return err
		}
	}
	dir := filepath.Join(p.Archive.State, leaseDir) // where migrate run keeps them
	holder := func(user string) string {
		in, err := lease.Read(dir, user)
		if err != nil || time.Now().After(in.Expires) {
			return ""
		}
		return in.Holder.String()
	}
	ov, serr := migrate.Survey(migrate.StatusOptions{StateDir: p.Archive.State, Pass: pass, UsersAtOnce: p.Limits.Users, Holder: holder,
		Shards: shards, Assign: assign}, users)
	if ov == nil {
		return serr
	}
	if a.json {
		out := statusResult{Pass: ov.Pass, Users: []statusUser{}, Count: ov.Count, Messages: ov.Messages, Bytes: ov.Bytes, ETA: ov.ETA,
			Held: ov.Held, Shards: ov.Shards, ByShard: ov.ByShard}
		if ov.ETA.Known {
			out.ETASeconds = &ov.ETA.Seconds
		}
		for _, s := range ov.Users {
			st := s.State
			out.Users = append(out.Users, statusUser{User: s.User.Name, Login: s.User.Login, Status: s.Status, Pass: st.Pass,
				Messages: st.Counts.Messages, Bytes: st.MovedBytes(), Estimated: s.User.EstimatedBytes, Seconds: st.Seconds,
				Updated: st.Updated, Holder: s.Holder, Error: st.Error, ErrorClass: st.ErrorClass, Failures: st.Failures, Note: s.Note})
			if s.Shard >= 0 {
				out.Users[len(out.Users)-1].Shard = &s.Shard
			}
		}
		writeJSONLine(a.stdout, out)
	} else {
		a.printStatus(path, ov)
	}
	if serr != nil {
		return fmt.Errorf("some states could not be read: %w", serr)
	}
	return nil
}

// migrateUsers are the plan's users as the engine knows them.
func migrateUsers(p *migrateplan.Plan) []migrate.User {
	var users []migrate.User
	for _, u := range p.Users() {
		users = append(users, engineUser(u))
	}
	return users
}

// engineUser is a plan's user as the engine knows it: by source address,
// with the target login, the estimated size and its row of the users list
// (which the failures file writes back).
func engineUser(u migrateplan.User) migrate.User {
	return migrate.User{Name: u.Address, Login: u.Login, EstimatedBytes: u.EstimatedSize, Row: u.Row}
}

// printStatus writes a line per user, then the totals and the ETA; user
// names and errors are escaped (they come from files and servers).
func (a *app) printStatus(path string, ov *migrate.Overview) {
	esc := termtext.Escape
	fmt.Fprintf(a.stdout, "plan %s, pass %s: %d users\n", esc(path), esc(ov.Pass), len(ov.Users))
	tw := tabwriter.NewWriter(a.stdout, 2, 8, 2, ' ', 0)
	sharded := len(ov.ByShard) > 0
	if sharded {
		fmt.Fprint(tw, "SHARD\t")
	}
	fmt.Fprintln(tw, "USER\tSTATUS\tMESSAGES\tBYTES\tTIME\tDETAIL")
	for _, s := range ov.Users {
		st := s.State
		var detail []string
		if s.Holder != "" {
			detail = append(detail, "held by "+s.Holder)
		}
		if st.Error != "" {
			detail = append(detail, st.ErrorClass+": "+st.Error)
		} else if n := len(st.Failures); n > 0 {
			detail = append(detail, fmt.Sprintf("%d items failed (%s)", n, st.Failures[0].Code))
		}
		if s.Note != "" {
			detail = append(detail, s.Note)
		}
		if sharded {
			sh := "?"
			if s.Shard >= 0 {
				sh = strconv.Itoa(s.Shard)
			}
			fmt.Fprintf(tw, "%s\t", sh)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", esc(s.User.Name), s.Status, st.Counts.Messages, humanBytes(st.MovedBytes()),
			time.Duration(st.Seconds*float64(time.Second)).Round(time.Millisecond), esc(strings.Join(detail, "; ")))
	}
	tw.Flush()
	for _, sh := range ov.ByShard {
		fmt.Fprintf(a.stdout, "shard %d of %d: %d users: %s; %d held; %s\n", sh.Index, ov.Shards, sh.Users,
			statusCounts(sh.Count), sh.Held, etaLine(sh.ETA))
	}
	fmt.Fprintf(a.stdout, "users: %s; %d messages, %s; %d held by a worker now\n", statusCounts(ov.Count), ov.Messages,
		humanBytes(ov.Bytes), ov.Held)
	line := etaLine(ov.ETA)
	if ov.ETA.Shards > 0 && ov.ETA.Left > 0 && ov.ETA.Known {
		line += fmt.Sprintf(", the slowest of %d shards", ov.ETA.Shards)
	}
	fmt.Fprintln(a.stdout, line)
}

// statusCounts says how many users are at each status.
func statusCounts(count map[migrate.Status]int) string {
	var parts []string
	for _, s := range migrate.StatusOrder {
		if n := count[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	return strings.Join(parts, ", ")
}

// etaLine says the ETA and what it rests on.
func etaLine(e migrate.ETA) string {
	switch {
	case e.Left == 0:
		return "ETA: nothing left in this pass"
	case !e.Known:
		return fmt.Sprintf("ETA: unknown (%d users left, none done in this pass yet to measure a rate)", e.Left)
	case e.Basis == "users":
		return fmt.Sprintf("ETA: %s (%d users left at %s each, %d at once)", e.Duration().Round(time.Second), e.Left,
			(time.Duration(e.SecondsPerUser * float64(time.Second))).Round(time.Second), e.UsersAtOnce)
	}
	line := fmt.Sprintf("ETA: %s (%d users left, %s estimated, at %s/s per user, %d at once", e.Duration().Round(time.Second),
		e.Left, humanBytes(e.LeftBytes), humanBytes(int64(e.BytesPerSecond)), e.UsersAtOnce)
	if e.Unsized > 0 {
		line += fmt.Sprintf("; %d without a size taken as the mean of those done", e.Unsized)
	}
	return line + ")"
}
