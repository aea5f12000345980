package migrate

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mailhaul/mailhaul/internal/cause"
)

// Exit codes of a run, by its result (internal/cause has every code).
const (
	ExitOK      = cause.ExitOK      // every user of the run is done
	ExitPartial = cause.ExitPartial // finished, but some users failed or finished with warnings (each listed)
	// ExitPermanent: finished, and every user not done failed for a cause
	// no re-run overcomes (or finished with warnings, which a re-run
	// leaves alone): Kubernetes fails the index rather than retry it.
	ExitPermanent = cause.ExitPermanent
	// ExitHeld: every user is done but those other workers still held
	// at the end of the wait (Job.WaitHeld): the shard is not finished,
	// yet nothing failed; a later run finishes it.
	ExitHeld = cause.ExitHeld
)

// UserResult is one user's standing at the end of a run.
type UserResult struct {
	User   User
	State  State
	Status Status
	// Skipped: the run did no work on the user (already done in this
	// pass, failed and not retried, or held by another worker: Note).
	Skipped bool
	Note    string
	// By names another worker that held the user during the run: with
	// Status Held, it still held it at the end; otherwise it did the
	// pass's work on the user (its state is that worker's, counted here
	// as done, never as this run's work).
	By string
}

func resultOf(u User, st *State, skipped bool) UserResult {
	return UserResult{User: u, State: *st, Status: st.Status, Skipped: skipped}
}

// Result is a run's outcome, user by user, in the order of the users list.
type Result struct {
	Job     Job
	Users   []UserResult
	Seconds float64
}

func newResult(job Job, users []UserResult, d time.Duration) *Result {
	return &Result{Job: job, Users: users, Seconds: d.Seconds()}
}

// Count returns how many users stand at s.
func (r *Result) Count(s Status) int {
	n := 0
	for _, u := range r.Users {
		if u.Status == s {
			n++
		}
	}
	return n
}

// ExitCode is ExitOK when every user is done (by this run or by another
// worker); ExitPermanent when at least one failed permanently and every
// other user not done did too or has its warnings (a re-run of the pass
// would change nothing); ExitHeld when every user not done is held by
// another worker; else ExitPartial.
func (r *Result) ExitCode() int {
	done, perm, warn, held := r.Count(Done), r.Count(FailedPerm), r.Count(DoneWarnings), r.Count(Held)
	switch {
	case done == len(r.Users):
		return ExitOK
	case perm > 0 && done+perm+warn == len(r.Users):
		return ExitPermanent
	case held > 0 && done+held == len(r.Users):
		return ExitHeld
	}
	return ExitPartial
}

// doneByOthers counts the users done by another worker.
func (r *Result) doneByOthers() int {
	n := 0
	for _, u := range r.Users {
		if u.Status == Done && u.By != "" {
			n++
		}
	}
	return n
}

// Summary is the short human summary; its last line tells the truth:
// "all N users done" only when they are.
func (r *Result) Summary() string {
	var b strings.Builder
	n := len(r.Users)
	fmt.Fprintf(&b, "migrate %s", r.Job.Stage)
	if r.Job.Part != AllParts {
		fmt.Fprintf(&b, " (%s only)", r.Job.Part)
	}
	fmt.Fprintf(&b, ": %d users in %s\n", n, (time.Duration(r.Seconds * float64(time.Second))).Round(time.Second))
	for _, u := range r.Users {
		if u.Status == Done && u.By == "" {
			continue
		}
		line := fmt.Sprintf("  %s: %s", u.User.Name, u.Status)
		switch {
		case u.Status == Held:
			line = fmt.Sprintf("  %s: held by %s, not finished", u.User.Name, u.By)
		case u.By != "":
			line += " by " + u.By
		}
		if u.State.Error != "" {
			line += ": " + u.State.Error
		} else if len(u.State.Failures) > 0 {
			line += fmt.Sprintf(": %d items failed (%s)", len(u.State.Failures), u.State.Failures[0].Code)
		}
		b.WriteString(line + "\n")
	}
	done := r.Count(Done)
	var byOthers string
	if k := r.doneByOthers(); k > 0 {
		byOthers = fmt.Sprintf(", %d of them by another worker", k)
	}
	if done == n {
		fmt.Fprintf(&b, "all %d users done%s\n", n, byOthers)
		return b.String()
	}
	var parts []string
	for _, s := range []Status{DoneWarnings, FailedRetry, FailedPerm, Queued, Exporting, Transferring, Importing, Held} {
		if c := r.Count(s); c > 0 {
			p := fmt.Sprintf("%d %s", c, s)
			if s == Held {
				p += " by another worker"
			}
			parts = append(parts, p)
		}
	}
	fmt.Fprintf(&b, "NOT all users done: %d of %d done%s, %s\n", done, n, byOthers, strings.Join(parts, ", "))
	return b.String()
}

// reportColumns are the per-user CSV's columns.
var reportColumns = []string{"user", "status", "messages", "contacts", "events", "present", "failed", "bytes",
	"seconds", "archives", "error_class", "error", "failure_codes", "by"}

// WriteCSV writes one line per user.
func (r *Result) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(reportColumns)
	for _, u := range r.Users {
		s := u.State
		codes := map[string]int{}
		var keys []string
		for _, f := range s.Failures {
			if codes[f.Code] == 0 {
				keys = append(keys, f.Code)
			}
			codes[f.Code]++
		}
		var cs []string
		for _, k := range keys {
			cs = append(cs, fmt.Sprintf("%s:%d", k, codes[k]))
		}
		cw.Write([]string{u.User.Name, string(u.Status), strconv.Itoa(s.Counts.Messages), strconv.Itoa(s.Counts.Contacts),
			strconv.Itoa(s.Counts.Events), strconv.Itoa(s.Counts.Present), strconv.Itoa(s.Counts.Failed),
			strconv.FormatInt(s.Counts.Bytes, 10), strconv.FormatFloat(s.Seconds, 'f', 1, 64), strconv.Itoa(len(s.Archives)),
			s.ErrorClass, s.Error, strings.Join(cs, " "), u.By})
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes every user's state as one JSON document.
func (r *Result) WriteJSON(w io.Writer) error {
	type user struct {
		State
		Skipped bool   `json:"skipped,omitempty"`
		Note    string `json:"note,omitempty"`
		Held    bool   `json:"held,omitempty"` // another worker (By) still held it
		By      string `json:"by,omitempty"`
	}
	out := struct {
		Stage   Stage   `json:"stage"`
		Part    Part    `json:"part,omitempty"`
		Seconds float64 `json:"seconds"`
		Users   []user  `json:"users"`
		Summary string  `json:"summary"`
	}{Stage: r.Job.Stage, Part: r.Job.Part, Seconds: r.Seconds, Users: []user{}}
	for _, u := range r.Users {
		out.Users = append(out.Users, user{u.State, u.Skipped, u.Note, u.Status == Held, u.By})
	}
	lines := strings.Split(strings.TrimSpace(r.Summary()), "\n")
	out.Summary = lines[len(lines)-1]
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteFailures writes the users that are not done as a users CSV (the
// job's header, each user's own row), to run again.
func (r *Result) WriteFailures(w io.Writer) error {
	cw := csv.NewWriter(w)
	header := r.Job.Header
	if header == nil {
		header = UserColumns
	}
	cw.Write(header)
	for _, u := range r.Users {
		if u.Status == Done {
			continue
		}
		row := u.User.Row
		if row == nil {
			row = make([]string, len(header))
			for i, c := range header {
				switch c {
				case ColSource:
					row[i] = u.User.Name
				case ColTarget:
					row[i] = u.User.Login
				case ColSize:
					if u.User.EstimatedBytes > 0 {
						row[i] = strconv.FormatInt(u.User.EstimatedBytes, 10)
					}
				}
			}
		}
		cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

// Report file names WriteFiles writes in its directory.
const (
	ReportCSV   = "users.csv"
	ReportJSON  = "users.json"
	FailuresCSV = "failures.csv"
	SummaryText = "summary.txt"
)

// WriteFiles writes the per-user CSV and JSON, the failures file, the
// summary and its HTML page into dir, each through a temporary name.
func (r *Result) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for name, write := range map[string]func(io.Writer) error{
		ReportCSV: r.WriteCSV, ReportJSON: r.WriteJSON, FailuresCSV: r.WriteFailures,
		SummaryText: func(w io.Writer) error { _, err := io.WriteString(w, r.Summary()); return err }, ReportHTML: r.WriteHTML,
	} {
		var b strings.Builder
		if err := write(&b); err != nil {
			return err
		}
		if err := writeAtomic(dir, name, []byte(b.String())); err != nil {
			return fmt.Errorf("report %s: %w", filepath.Join(dir, name), err)
		}
	}
	return nil
}
