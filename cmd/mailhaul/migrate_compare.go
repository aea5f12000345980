package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mailhaul/mailhaul/internal/termtext"
	"github.com/mailhaul/mailhaul/migrate"
	migrateplan "github.com/mailhaul/mailhaul/migrate/plan"
)

const migrateCompareHelp = `Compares every user of the plan (or those of --only, or this shard's share)
with the plan's targets, as compare imap and compare dav do for one user: the
user's archives where the import reads them (the plan's archive dir, or
--archives DIR at the import site), the full one and its deltas in order, and
the journals in the state directory. It changes nothing.

One line per user: equal; differs, with the counts of missing messages or
objects, duplicate copies, flag and content differences and the target's extra
items (the user's own, never a difference); not migrated yet (no archive of
the user: not equal); could not compare, with the reason. Then the users that
differ. The same lines go to compare.csv in the state directory's .reports,
replaced whole when the comparison ends (a run stopped or killed before
leaves the previous report as it was, never a part of a new one).

With --shard-count N (and --shard-index I, JOB_COMPLETION_INDEX or
MAILHAUL_SHARD_INDEX, as migrate run takes them) only this shard's users are
compared, and the report goes to .reports/shard-I-of-N/compare.csv beside
that shard's run reports, so the shards' reports never overwrite each other
nor the whole night's. Without a shard count every user of the plan is
compared, whichever shard ran it, into .reports/compare.csv.

Exit codes: 0 every user equal, 3 some users differ or are not migrated yet,
the cause's code (connection, TLS, authentication; 1 when unknown) when some
comparisons could not be made.`

type migrateCompareFlags struct {
	only     []string
	shard    shardFlags
	archives string
}

func (a *app) migrateCompareCommand() *cobra.Command {
	var f migrateCompareFlags
	cmd := &cobra.Command{
		Use:   "compare PLAN",
		Short: "Compare every user's targets with its archives",
		Long:  migrateCompareHelp,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.shard.changed(cmd)
			return a.migrateCompare(cmd.Context(), args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&f.only, "only", nil, "only these users (source addresses; repeatable, or comma-separated)")
	f.shard.add(fl)
	fl.StringVar(&f.archives, "archives", "", "the directory the archives are read from, instead of the plan's (the import site of the two-site flow)")
	return cmd
}

func (a *app) migrateCompare(ctx context.Context, path string, f migrateCompareFlags) error {
	p, err := migrateplan.Load(path)
	if err != nil {
		return fmt.Errorf("the plan has problems (see mailhaul migrate check):\n%w", err)
	}
	// The users, the archive place and the targets exactly as the import
	// part of migrate run finds and builds them.
	rf := migrateRunFlags{stage: string(migrate.Full), part: string(migrate.ImportOnly), only: f.only,
		shard: f.shard, archives: f.archives}
	b := &runBuilder{a: a, p: p, f: rf, byName: map[string]migrateplan.User{}}
	job, err := b.job(ctx)
	if err != nil {
		return err
	}
	// A line per user as its comparison ends; the report only when all
	// have, replaced whole.
	cs, cerr := migrate.Compare(ctx, job, func(c *migrate.Comparison) {
		if a.json {
			a.writeCompareUser(c)
		} else {
			fmt.Fprintln(a.stdout, termtext.Escape(compareLine(c)))
		}
	})
	reports := b.reportsDir(job.StateDir)
	if cerr != nil {
		// Stopped: the users not compared would read as failures, and
		// the last complete report is worth more than a part of this one.
		fmt.Fprintf(a.stderr, "stopped before every user was compared: %s left as it was\n",
			termtext.Escape(filepath.Join(reports, migrate.CompareCSV)))
		return cerr
	}
	werr := migrate.WriteCompareFile(reports, cs)
	var differ []string
	var failed error
	for i := range cs {
		c := &cs[i]
		if c.Err != nil && failed == nil {
			failed = fmt.Errorf("user %s: %w", c.User.Name, c.Err)
		}
		if !c.Equal() {
			differ = append(differ, c.User.Name)
		}
	}
	of := "" // a shard's last line says it is not the whole night's
	if job.Shard != nil {
		of = fmt.Sprintf(" of shard %d of %d", job.Shard.Index, job.Shard.Count)
	}
	last := fmt.Sprintf("all %d users%s equal", len(cs), of)
	if len(differ) > 0 {
		last = fmt.Sprintf("NOT all users%s equal: %d of %d differ, could not be compared or are not migrated yet: %s",
			of, len(differ), len(cs), strings.Join(differ, ", "))
	}
	if a.json {
		out := map[string]any{"event": "result", "users": len(cs), "equal": len(cs) - len(differ), "differ": differ, "summary": last}
		if job.Shard != nil {
			out["shard"] = job.Shard
		}
		if werr != nil {
			out["reportError"] = werr.Error()
		}
		writeJSONLine(a.stdout, out)
	} else {
		if werr == nil {
			fmt.Fprintf(a.stdout, "report in %s\n", termtext.Escape(filepath.Join(reports, migrate.CompareCSV)))
		}
		fmt.Fprintln(a.stdout, termtext.Escape(last))
	}
	switch {
	case failed != nil:
		return failed // its cause's exit code
	case werr != nil:
		return fmt.Errorf("writing the report: %w", werr)
	case len(differ) > 0:
		return errPartial
	}
	return nil
}

// compareLine is one user's line.
func compareLine(c *migrate.Comparison) string {
	switch v := c.Verdict(); v {
	case "could not compare":
		return fmt.Sprintf("%s: could not compare: %v", c.User.Name, c.Err)
	case "not migrated yet":
		return fmt.Sprintf("%s: not migrated yet (no archive of the user): not equal", c.User.Name)
	default:
		t := c.Totals()
		if v == "equal" {
			return fmt.Sprintf("%s: equal (%d archives; %d extra on the targets, the user's own)", c.User.Name, len(c.Archives), t.Extra)
		}
		return fmt.Sprintf("%s: differs: %d missing, %d duplicates, %d flags, %d content, %d extra",
			c.User.Name, t.Missing, t.Duplicates, t.FlagDiffs, t.Content, t.Extra)
	}
}

// writeCompareUser writes one user's JSON line: the verdict, the totals
// and each target's comparison.
func (a *app) writeCompareUser(c *migrate.Comparison) {
	t := c.Totals()
	out := map[string]any{"event": "user", "user": c.User.Name, "result": c.Verdict(), "archives": len(c.Archives),
		"missing": t.Missing, "duplicates": t.Duplicates, "flagDifferences": t.FlagDiffs,
		"contentDifferences": t.Content, "extra": t.Extra, "targets": c.Results}
	if c.Err != nil {
		out["error"] = c.Err.Error()
	}
	writeJSONLine(a.stdout, out)
}
