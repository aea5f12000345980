package migrate

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/mailhaul/mailhaul/compare"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/trace"
)

// Comparer is a target that can compare itself with a user's archives:
// importer/imap's and importer/dav's Target.
type Comparer interface {
	Compare(ctx context.Context, req importer.Request) (*compare.Result, error)
}

// Comparison is one user's comparison with every target of the plan.
type Comparison struct {
	User     User
	Archives []string
	// Results are the targets' comparisons, in the order of Steps.Import.
	Results []*compare.Result
	// Err is why the comparison could not be made (for one target or
	// all); the Results made before it stay.
	Err error
}

// NotMigrated reports that the user has no archive at the import site
// yet: nothing to compare with, and not equal.
func (c *Comparison) NotMigrated() bool { return c.Err == nil && len(c.Archives) == 0 }

// Equal reports that every target holds what the archives say.
func (c *Comparison) Equal() bool {
	if c.Err != nil || c.NotMigrated() {
		return false
	}
	for _, r := range c.Results {
		if r.Differs() {
			return false
		}
	}
	return true
}

// Totals are the differences summed over the targets.
func (c *Comparison) Totals() (t compare.Result) {
	for _, r := range c.Results {
		t.Missing += r.Missing
		t.Duplicates += r.Duplicates
		t.FlagDiffs += r.FlagDiffs
		t.Content += r.Content
		t.Extra += r.Extra
	}
	return t
}

// Verdict is "equal", "differs", "not migrated yet" or "could not compare".
func (c *Comparison) Verdict() string {
	switch {
	case c.Err != nil:
		return "could not compare"
	case c.NotMigrated():
		return "not migrated yet"
	case c.Equal():
		return "equal"
	}
	return "differs"
}

// Compare compares every user of job (UsersAtOnce at a time) with the
// targets Steps.Import builds, from the user's archives where the import
// reads them (the same directory, the same order, each checked to be the
// user's) and its journals in the state directory. It changes nothing,
// and it needs no lease: it only reads. The error is set only when ctx
// ended.
func Compare(ctx context.Context, job Job) ([]Comparison, error) {
	if job.Steps.Import == nil {
		return nil, errors.New("migrate compare: no targets")
	}
	if job.UsersAtOnce <= 0 {
		job.UsersAtOnce = defaultUsersAtOnce
	}
	out := make([]Comparison, len(job.Users))
	var g errgroup.Group
	g.SetLimit(job.UsersAtOnce)
	for i, u := range job.Users {
		out[i].User = u
		if ctx.Err() != nil {
			out[i].Err = ctx.Err()
			continue
		}
		g.Go(func() error {
			out[i].Archives, out[i].Results, out[i].Err = job.compareUser(ctx, u)
			return nil
		})
	}
	g.Wait()
	return out, ctx.Err()
}

func (job *Job) compareUser(ctx context.Context, u User) ([]string, []*compare.Result, error) {
	ctx = trace.WithUser(ctx, u.Name) // --debug: users at once share the trace
	archives, err := listArchives(job.importDir(u.Name), u.Name)
	if err != nil || len(archives) == 0 {
		return nil, nil, err
	}
	steps, err := job.Steps.Import(u)
	if err != nil {
		return archives, nil, err
	}
	var results []*compare.Result
	for _, s := range steps {
		c, ok := s.Target.(Comparer)
		if !ok {
			return archives, results, fmt.Errorf("compare %s: this target cannot compare", s.Target.Kind())
		}
		req := importer.Request{User: u.Name, Archives: archives, StateDir: userDir(job.StateDir, u.Name), Select: s.Request.Select}
		r, err := c.Compare(ctx, req)
		if err != nil {
			return archives, results, fmt.Errorf("compare %s: %w", s.Target.Kind(), err)
		}
		results = append(results, r)
	}
	return archives, results, nil
}

// CompareColumns are the columns of the comparison's CSV.
var CompareColumns = []string{"user", "result", "missing", "duplicates", "flags", "content", "extra", "archives", "reason"}

// CompareCSV is the comparison's CSV file in the reports directory.
const CompareCSV = "compare.csv"

// WriteCompareCSV writes one line per user.
func WriteCompareCSV(w io.Writer, cs []Comparison) error {
	cw := csv.NewWriter(w)
	cw.Write(CompareColumns)
	for i := range cs {
		c := &cs[i]
		t := c.Totals()
		reason := ""
		if c.Err != nil {
			reason = c.Err.Error()
		}
		cw.Write([]string{c.User.Name, c.Verdict(), strconv.Itoa(t.Missing), strconv.Itoa(t.Duplicates),
			strconv.Itoa(t.FlagDiffs), strconv.Itoa(t.Content), strconv.Itoa(t.Extra), strconv.Itoa(len(c.Archives)), reason})
	}
	cw.Flush()
	return cw.Error()
}

// WriteCompareFile writes the CSV into dir atomically.
func WriteCompareFile(dir string, cs []Comparison) error {
	var b strings.Builder
	if err := WriteCompareCSV(&b, cs); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return writeAtomic(dir, CompareCSV, []byte(b.String()))
}
