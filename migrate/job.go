package migrate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/internal/trace"
	"github.com/mailhaul/mailhaul/progress"
	"github.com/mailhaul/mailhaul/report"
	"github.com/mailhaul/mailhaul/transport"
)

// Stage is the pass a run makes: the pre-migration (full) or the cutover
// (delta: each user exported since the start of its last export, and the
// delta's state record applied by the importers).
type Stage string

const (
	Full  Stage = "full"
	Delta Stage = "delta"
)

// Part is the part of a stage a run does: all of it on one machine, or
// only the export (and transfer) at the source's site, or only the import
// at the target's, for the two-site flow.
type Part string

const (
	AllParts   Part = ""
	ExportOnly Part = "export"
	ImportOnly Part = "import"
)

// User is one line of the users list.
type User struct {
	// Name is the source address: the key of the user's archive, state
	// and journal names, and the owner every archive must name.
	Name string
	// Login is the target login (the caller's Steps use it).
	Login string
	// EstimatedBytes is the size the users list gives, for shards.
	EstimatedBytes int64
	// Row is the users CSV record the user came from, in Job.Header's
	// order: the failures file writes it back as it was.
	Row []string
}

// Steps are the per-user work, built by the caller (from a plan): the
// engine only composes export.Run, transport.Run and importer.Target.
type Steps struct {
	// Export returns the user's export job (source, kind, path,
	// compression, overlap ...), under the step's context (a source may
	// look the user up first: Zimbra's GetAccount). since is the archive a delta starts from
	// (the user's newest under ArchiveDir; "" for a full export), for
	// sources that take more from it than its start time (a DAV source's
	// sync tokens). The engine sets User, Out (the user's directory under
	// ArchiveDir), Since, Overwrite (a full export restarts) and Progress.
	Export func(ctx context.Context, u User, since string) (export.Job, error)
	// Transfer, when set, moves each new archive from the user's
	// directory under ArchiveDir to the user's directory under
	// Transfer.Dir; the import then reads from there (when Dst is local).
	Transfer *Transfer
	// Import returns the user's imports, one per target, in order. The
	// engine sets each Request's User, Archives (every archive of the
	// user, oldest first), StateDir and Progress; the rest
	// (ApplyDeletions, Select, Logf) is passed through.
	Import func(u User) ([]Import, error)
}

// Transfer is how archives move between the sites.
type Transfer struct {
	Src, Dst transport.Endpoint
	// Dir is the base directory at Dst; each user has a directory below.
	Dir     string
	Options transport.Options
	// DstLocal says Dir is a local path the import can read (a mounted
	// drive, a shared volume).
	DstLocal bool
}

// Import is one target of a user's import.
type Import struct {
	Target  importer.Target
	Request importer.Request
}

// Job is a whole migration run on one machine, resolved in memory: cmd
// builds it from a plan file.
type Job struct {
	Users []User
	// Header names the columns of User.Row (UserColumns when nil).
	Header []string
	Stage  Stage
	Part   Part
	// Pass names this pass in the users' states (default: the stage): a
	// part finished in a pass of the same name is not done again. A
	// second cutover pass takes a new name.
	Pass string
	// StateDir keeps every user's state and journals; ArchiveDir the
	// archives, a directory per user.
	StateDir, ArchiveDir string
	// UsersAtOnce is how many users are worked on at once (default 4).
	UsersAtOnce int
	Steps       Steps
	// Locker keeps two processes from working on one user; nil: a lock
	// for this process alone.
	Locker Locker
	// WaitHeld bounds the wait for users another worker holds (a second
	// process started for the same shard, a run started by hand): once
	// its other users are through, the run tries each held user again
	// every HeldPoll until WaitHeld has passed. A user the holder
	// finished counts as done by that worker, never as this run's work;
	// one it released unfinished, or whose lease expired, this run works
	// on; one still held at the limit stands Held (ExitHeld). Default
	// DefaultWaitHeld; negative: no wait.
	WaitHeld time.Duration
	// HeldPoll is the wait between two looks at the held users (default
	// DefaultHeldPoll, never more than WaitHeld).
	HeldPoll time.Duration
	// Only limits the run to these users (by Name).
	Only []string
	// RetryFailed works on users that failed or finished with warnings
	// in this pass, which a run otherwise leaves as they are.
	RetryFailed bool
	// Retry bounds each step's attempts for retryable failures (default
	// 3 attempts, 5 s doubling to 2 min). Authentication failures and
	// other permanent ones are never tried again.
	Retry    retry.Loop
	Progress progress.Func
	// Logf hears of retries and skipped users; nil: silent.
	Logf func(format string, args ...any)

	// Shard is this process's share of a sharded night (nil: none),
	// recorded in the states of the users it works on.
	Shard *Shard
}

// StageMigrate is the progress stage of the engine's own events: one per
// change of a user's status, the status in Folder (the event has no
// field of its own for it); when a user's part of the run ends, Items
// and ItemsTotal are the users finished of those in the run.
const StageMigrate = "migrate"

// defaultUsersAtOnce is Job.UsersAtOnce's default.
const defaultUsersAtOnce = 4

// DefaultWaitHeld is Job.WaitHeld's default: long enough for the holder
// to finish a large user (a live holder renews its lease all the while;
// a dead one's lease expires within its TTL and this run takes the user
// over), short enough that a run never hangs for a night on one.
const DefaultWaitHeld = time.Hour

// DefaultHeldPoll is Job.HeldPoll's default: a released lease is seen
// within seconds, at the cost of one state read and one lock attempt per
// held user.
const DefaultHeldPoll = 5 * time.Second

// ErrUsers is a users list the engine refuses; the message names the
// users.
var ErrUsers = errors.New("migrate: users")

// Run works on every user of job, UsersAtOnce at a time, and returns the
// result of every user of the run (those it skipped with their standing
// state). The error is set when the run itself could not go on: a bad
// job, a state directory it cannot write, or ctx ended (every user then
// stands queued or failed, never done unless it was).
func Run(ctx context.Context, job Job) (*Result, error) {
	users, err := job.check()
	if err != nil {
		return nil, err
	}
	e := &engine{job: job, start: time.Now()}
	if e.job.Locker == nil {
		e.job.Locker = NewLocalLocker()
	}
	e.results = make([]UserResult, len(users))
	e.total = int64(len(users))
	var g errgroup.Group
	g.SetLimit(e.job.UsersAtOnce)
	for i, u := range users {
		if ctx.Err() != nil {
			st, lerr := LoadState(job.StateDir, u.Name)
			if lerr != nil {
				st = &State{User: u.Name, Status: Queued, Error: lerr.Error()}
			}
			e.results[i] = resultOf(u, st, true)
			continue
		}
		g.Go(func() error {
			e.do(ctx, i, u)
			return nil
		})
	}
	g.Wait()
	e.waitHeld(ctx, users)
	res := newResult(job, e.results, time.Since(e.start))
	if e.stateErr != nil {
		return res, e.stateErr
	}
	return res, ctx.Err()
}

// do works on users[i] and records its result.
func (e *engine) do(ctx context.Context, i int, u User) {
	r, err := e.user(ctx, u)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.results[i] = r
	e.stateErr = errors.Join(e.stateErr, err)
}

// waitHeld looks at the users another worker held, every HeldPoll until
// WaitHeld has passed, each on its own (users done by their holder are
// seen at once, whatever a user taken over meanwhile takes), at most
// UsersAtOnce at a time. A user no longer held is worked on as any other
// (e.user re-reads its state under the lock); one its holder finished,
// or left failed, stands as that holder left it, attributed to it (By).
func (e *engine) waitHeld(ctx context.Context, users []User) {
	var held []int
	for i, r := range e.results {
		if r.Status == Held {
			held = append(held, i)
		}
	}
	if len(held) == 0 || e.job.WaitHeld < 0 {
		return
	}
	limit := time.Now().Add(e.job.WaitHeld)
	e.logf("migrate: %d users held by other workers: waiting for them until %s", len(held), limit.UTC().Format("15:04:05 UTC"))
	slots := make(chan struct{}, e.job.UsersAtOnce)
	var wg sync.WaitGroup
	for _, i := range held {
		wg.Go(func() {
			tick := time.NewTicker(e.job.HeldPoll)
			defer tick.Stop()
			for again := true; again; {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				slots <- struct{}{}
				again = e.lookAgain(ctx, i, users[i], limit)
				<-slots
			}
		})
	}
	wg.Wait()
}

// lookAgain tries users[i], held before, once more; it says whether the
// user is still held and the wait goes on.
func (e *engine) lookAgain(ctx context.Context, i int, u User, limit time.Time) bool {
	e.mu.Lock()
	by := e.results[i].By
	e.mu.Unlock()
	e.do(ctx, i, u)
	e.mu.Lock()
	r := &e.results[i]
	var note string
	switch {
	case r.Status == Held && time.Now().Before(limit):
		e.mu.Unlock()
		return true
	case r.Status == Held:
		r.Note = fmt.Sprintf("still held by %s after a wait of %s (--wait-held)", r.By, e.job.WaitHeld)
		note = r.Note
	case r.Skipped && r.Note == "" && ctx.Err() == nil:
		// Its holder did the pass's work (or left it failed): the
		// user's state is that worker's, not this run's.
		r.By, r.Note = by, fmt.Sprintf("%s by %s", r.Status, by)
		note = r.Note
	}
	e.mu.Unlock()
	if note != "" {
		e.logf("migrate: %s: %s", u.Name, note)
	}
	return false
}

// check validates job, applies its defaults and returns the users of the
// run.
func (job *Job) check() ([]User, error) {
	if job.Stage != Full && job.Stage != Delta {
		return nil, fmt.Errorf("migrate: stage %q: want %q or %q", job.Stage, Full, Delta)
	}
	if job.Part != AllParts && job.Part != ExportOnly && job.Part != ImportOnly {
		return nil, fmt.Errorf("migrate: part %q: want %q or %q", job.Part, ExportOnly, ImportOnly)
	}
	if job.StateDir == "" {
		return nil, errors.New("migrate: no state directory")
	}
	if job.Part != ImportOnly && (job.Steps.Export == nil || job.ArchiveDir == "") {
		return nil, errors.New("migrate: an export needs Steps.Export and an archive directory")
	}
	if job.Part != ExportOnly && job.Steps.Import == nil {
		return nil, errors.New("migrate: an import needs Steps.Import")
	}
	if job.Part == ImportOnly && job.ArchiveDir == "" && (job.Steps.Transfer == nil || !job.Steps.Transfer.DstLocal) {
		return nil, errors.New("migrate: an import needs an archive directory")
	}
	if job.Pass == "" {
		job.Pass = string(job.Stage)
	}
	if job.UsersAtOnce <= 0 {
		job.UsersAtOnce = defaultUsersAtOnce
	}
	if job.Retry.Attempts <= 0 {
		job.Retry.Attempts = 3
	}
	if job.Retry.Backoff.First <= 0 {
		job.Retry.Backoff = retry.Policy{First: 5 * time.Second, Max: 2 * time.Minute}
	}
	if job.Header == nil {
		job.Header = UserColumns
	}
	if job.WaitHeld == 0 {
		job.WaitHeld = DefaultWaitHeld
	}
	if job.HeldPoll <= 0 {
		job.HeldPoll = DefaultHeldPoll
	}
	if job.WaitHeld > 0 {
		job.HeldPoll = min(job.HeldPoll, job.WaitHeld)
	}
	// Names must never meet on disk: a user's archives, state and
	// journals are under its Key, one name for addresses that differ
	// only in case (one user to a mail server and to a case-insensitive
	// file system).
	seen := map[string]string{}
	var problems []string
	for i, u := range job.Users {
		if strings.TrimSpace(u.Name) == "" {
			problems = append(problems, fmt.Sprintf("user %d has no name", i+1))
			continue
		}
		key := Key(u.Name)
		if prev, ok := seen[key]; ok {
			problems = append(problems, fmt.Sprintf("%q and %q are one user (%s): list it once", prev, u.Name, key))
			continue
		}
		seen[key] = u.Name
	}
	users := job.Users
	if len(job.Only) > 0 {
		users = nil
		for _, name := range job.Only {
			i := slices.IndexFunc(job.Users, func(u User) bool { return u.Name == name })
			if i < 0 {
				problems = append(problems, fmt.Sprintf("%q (--only) is not in the users list", name))
				continue
			}
			users = append(users, job.Users[i])
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrUsers, strings.Join(problems, "; "))
	}
	return users, nil
}

// engine is one Run under way.
type engine struct {
	job      Job
	start    time.Time
	mu       sync.Mutex // guards the fields below
	results  []UserResult
	stateErr error
	total    int64
	ended    int64
}

func (e *engine) logf(format string, args ...any) {
	if e.job.Logf != nil {
		e.job.Logf(format, args...)
	}
}

// needs says which parts of the pass st still needs; none: skip.
func (e *engine) needs(st *State) (exp, imp bool) {
	j := e.job
	if st.Pass == j.Pass && !j.RetryFailed && (st.Status == FailedRetry || st.Status == FailedPerm || st.Status == DoneWarnings) {
		return false, false
	}
	exp = j.Part != ImportOnly && st.Exported != j.Pass
	imp = j.Part != ExportOnly && (st.Imported != j.Pass || j.RetryFailed && st.Pass == j.Pass && st.Status == DoneWarnings)
	return exp, imp
}

// user runs u's part of the pass. The error is a state that could not
// be written: the run cannot keep its promise of resumability.
func (e *engine) user(ctx context.Context, u User) (UserResult, error) {
	ctx = trace.WithUser(ctx, u.Name) // --debug: users at once share the trace
	st, err := LoadState(e.job.StateDir, u.Name)
	if err != nil {
		return resultOf(u, &State{User: u.Name, Status: FailedPerm, Error: err.Error()}, false), err
	}
	if ctx.Err() != nil {
		// Stopped before the user's turn came: its state stays as it was.
		return resultOf(u, st, true), nil
	}
	if exp, imp := e.needs(st); !exp && !imp {
		return e.finished(u, st, true), nil
	}
	parent := ctx
	ctx, unlock, err := e.job.Locker.Lock(parent, u.Name)
	if err != nil {
		r := resultOf(u, st, true)
		r.Note = err.Error()
		if by, ok := HeldBy(err); ok {
			// Not this run's failure: the holder works on the user, and
			// the run waits for it once its other users are through.
			r.Status, r.By = Held, by
			return r, nil
		}
		e.logf("migrate: %s: %v", u.Name, err)
		// Not worked on: whatever its record says (the last pass's done
		// among others), it stands failed in this run's result (the
		// record itself is not this run's to write).
		r.Status, r.State.Error, r.State.ErrorClass = FailedRetry, "could not take the user's lock: "+err.Error(), string(ClassRetryable)
		return r, nil
	}
	defer unlock()
	// Another process may have worked on the user before the lock.
	if st, err = LoadState(e.job.StateDir, u.Name); err != nil {
		return resultOf(u, &State{User: u.Name, Status: FailedPerm, Error: err.Error()}, false), err
	}
	exp, imp := e.needs(st)
	if !exp && !imp {
		return e.finished(u, st, true), nil
	}
	w := &work{e: e, u: u, st: st}
	st.Pass, st.Stage, st.Shard, st.Started = e.job.Pass, e.job.Stage, e.job.Shard, time.Now().UTC()
	st.Error, st.ErrorClass, st.Attempts, st.Failures = "", "", 0, nil
	begun := time.Now()
	err = nil
	if exp {
		// Each step marks its own end in the save that records its
		// result, so a kill between two saves never repeats a step.
		if st.Archived != e.job.Pass {
			err = w.step(ctx, Exporting, "export", w.export)
		}
		if err == nil && e.job.Steps.Transfer != nil {
			err = w.step(ctx, Transferring, "transfer", w.transfer)
		}
	}
	if err == nil && imp {
		err = w.step(ctx, Importing, "import", w.imports)
		if err == nil {
			st.Imported = e.job.Pass
		}
	}
	st.Seconds = time.Since(begun).Seconds()
	if ctx.Err() != nil && parent.Err() == nil {
		// The lock was lost (a lease not renewed in time): another worker
		// may have the user now, and its state is that worker's to write.
		r := resultOf(u, st, false)
		r.Status, r.Note = Queued, "the user's lock was lost during the run: "+context.Cause(ctx).Error()
		return r, nil
	}
	cls := Classify(ctx, err)
	switch {
	case err == nil && len(st.Failures) > 0:
		st.Status = DoneWarnings
	case err == nil:
		st.Status = Done
	case cls == ClassInterrupted:
		// Nothing is lost: the next run continues (the export restarts,
		// the import resumes from its journal).
		st.Status, st.Error, st.ErrorClass = Queued, "interrupted: "+err.Error(), string(cls)
	case cls == ClassRetryable:
		st.Status, st.Error, st.ErrorClass = FailedRetry, err.Error(), string(cls)
	default:
		st.Status, st.Error, st.ErrorClass = FailedPerm, err.Error(), string(cls)
	}
	if err != nil && cls != ClassInterrupted {
		st.Failures = append(st.Failures, Failure{Step: w.stepName, Code: string(report.CodeOf(err)), Reason: err.Error()})
	}
	serr := saveState(e.job.StateDir, st)
	return e.finished(u, st, false), serr
}

// finished reports u's final standing in this run.
func (e *engine) finished(u User, st *State, skipped bool) UserResult {
	e.mu.Lock()
	e.ended++
	n := e.ended
	e.mu.Unlock()
	e.job.Progress.Report(progress.Event{Stage: StageMigrate, User: u.Name, Folder: string(st.Status), Items: n, ItemsTotal: e.total,
		Bytes: st.Counts.Bytes})
	return resultOf(u, st, skipped)
}

// work is one user's pass under way.
type work struct {
	e        *engine
	u        User
	st       *State
	stepName string
}

// step runs fn through the one retry loop: retryable failures again
// after a backoff, anything else once. The state says which step runs.
func (w *work) step(ctx context.Context, status Status, name string, fn func(ctx context.Context) error) error {
	w.st.Status, w.stepName = status, name
	if err := saveState(w.e.job.StateDir, w.st); err != nil {
		return retry.MarkPermanent(err)
	}
	w.e.job.Progress.Report(progress.Event{Stage: StageMigrate, User: w.u.Name, Folder: string(status)})
	loop := w.e.job.Retry
	loop.OnRetry = func(attempt int, err error, wait time.Duration) {
		w.e.logf("migrate: %s: %s: attempt %d failed (%v); again in %s", w.u.Name, name, attempt, err, wait.Round(time.Millisecond))
		w.st.Error, w.st.ErrorClass = err.Error(), string(ClassRetryable)
		saveState(w.e.job.StateDir, w.st) // the error is only shown: the next attempt writes again
	}
	return retry.Do(ctx, loop, func(ctx context.Context, attempt int) error {
		w.st.Attempts = attempt
		err := fn(ctx)
		switch Classify(ctx, err) {
		case "":
			return nil
		case ClassRetryable:
			if retry.IsRetryable(err) {
				return err
			}
			return retry.MarkTransient(err)
		default:
			return retry.MarkPermanent(err)
		}
	})
}

// progress passes the stages' events on, each naming the user (a
// transfer's name only the archive).
func (w *work) progress() progress.Func {
	fn := w.e.job.Progress
	if fn == nil {
		return nil
	}
	return func(ev progress.Event) {
		ev.User = w.u.Name
		fn(ev)
	}
}

// archiveDir is where u's archives are written.
func (w *work) archiveDir() string {
	return filepath.Join(w.e.job.ArchiveDir, Key(w.u.Name))
}

// importDir is where u's archives are read for the import.
func (w *work) importDir() string { return w.e.job.importDir(w.u.Name) }

// importDir is where user's archives are read for the import (and the
// comparison).
func (job *Job) importDir(user string) string {
	if t := job.Steps.Transfer; t != nil && t.DstLocal {
		return filepath.Join(t.Dir, Key(user))
	}
	return filepath.Join(job.ArchiveDir, Key(user))
}

func (w *work) export(ctx context.Context) error {
	adopted, err := w.adopt(ctx)
	if err != nil || adopted {
		return err
	}
	w.removeUnfinished()
	since := ""
	if w.e.job.Stage == Delta {
		// The --since rule: from the start of the user's last export that
		// finished (every archive in the directory did).
		arch, err := listArchives(w.archiveDir(), w.u.Name)
		if err != nil {
			return err
		}
		if len(arch) > 0 {
			since = arch[len(arch)-1]
		}
	}
	xj, err := w.e.job.Steps.Export(ctx, w.u, since)
	if err != nil {
		return err // classified as any step's (a source looked up may be unreachable)
	}
	xj.User, xj.Out, xj.Progress = w.u.Name, w.archiveDir(), w.progress()
	xj.Since, xj.After, xj.Overwrite = since, "", since == ""
	xj.Finishing = func(path string, started time.Time) error {
		if err := ctx.Err(); err != nil {
			return err // a lost lock: the state is no longer this worker's to write
		}
		w.st.Finishing = &Finishing{Pass: w.e.job.Pass, Path: path, Started: started}
		return saveState(w.e.job.StateDir, w.st)
	}
	rep, err := export.Run(ctx, xj)
	if err != nil {
		return err
	}
	w.list(rep)
	return w.exported()
}

// list adds an export's archive to the user's record (a full one starts
// the record again), its counts and the items it could not take.
func (w *work) list(rep *report.Export) {
	if rep.After.IsZero() {
		// A full export starts the user's record again.
		w.st.Archives, w.st.Counts = nil, Counts{}
	}
	w.st.Archives = append(w.st.Archives, ArchiveRecord{Path: rep.Archive, Delta: !rep.After.IsZero(), Started: rep.Started,
		Seconds: rep.Seconds, Items: rep.Counts.Messages + rep.Counts.Contacts + rep.Counts.Events + rep.Counts.Tasks, Bytes: rep.Counts.Bytes})
	w.st.Counts.Messages += rep.Counts.Messages
	w.st.Counts.Contacts += rep.Counts.Contacts
	w.st.Counts.Events += rep.Counts.Events + rep.Counts.Tasks
	for _, p := range rep.Errors {
		w.st.Failures = append(w.st.Failures, Failure{Step: "export", Item: p.Folder + "/" + p.Item, Code: string(p.Code), Reason: p.Reason})
	}
	w.st.Finishing = nil
}

// exported marks the pass's export done in the save that holds its
// archive's record.
func (w *work) exported() error {
	w.st.Archived = w.e.job.Pass
	if w.e.job.Steps.Transfer == nil {
		w.st.Exported = w.e.job.Pass
	}
	if err := saveState(w.e.job.StateDir, w.st); err != nil {
		return err
	}
	if stepSaved != nil {
		stepSaved(w.u.Name, "export")
	}
	return nil
}

// removeUnfinished removes the archives a killed run left half written
// under their temporary names: each as large as the export had come,
// and never finished by anyone (the export starts again), while the
// user's lock keeps any other export out of the directory.
func (w *work) removeUnfinished() {
	ents, _ := os.ReadDir(w.archiveDir()) // none to read: nothing to remove
	for _, ent := range ents {
		if ent.Type().IsRegular() && format.IsTempName(ent.Name()) {
			p := filepath.Join(w.archiveDir(), ent.Name())
			if err := os.Remove(p); err != nil {
				w.e.logf("migrate: %s: a killed run's unfinished archive %s: %v", w.u.Name, p, err)
				continue
			}
			w.e.logf("migrate: %s: removed %s, an archive a killed run left unfinished", w.u.Name, p)
		}
	}
}

// adopt lists the archive a killed run finished but did not record
// (State.Finishing), and reports whether that finished this pass's
// export.
//
// Why a record before the rename rather than adopting whatever unlisted
// archive lies in the user's directory: the directory also holds
// archives no pass lists on purpose (an earlier pass's deltas after a
// new full export), and a full export's name is its predecessor's, so
// only the name and start time recorded beforehand say which file is
// this export's. The archive is read whole first (format.Verify: file
// checksum when its .sha256 was written, every item's, the summary),
// and its manifest must name the user and that start time. A damaged
// file at the name is moved aside (never listed, transferred or
// imported) and the export runs again; a whole one that is not this
// export's is left to the export, as before.
func (w *work) adopt(ctx context.Context) (bool, error) {
	f := w.st.Finishing
	if f == nil {
		return false, nil
	}
	if _, err := os.Lstat(f.Path); errors.Is(err, fs.ErrNotExist) {
		// Killed before the rename: the export starts again.
		w.st.Finishing = nil
		return false, nil
	}
	v, err := format.Verify(ctx, f.Path)
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		aside := f.Path + ".incomplete"
		if rerr := os.Rename(f.Path, aside); rerr != nil {
			return false, retry.MarkPermanent(fmt.Errorf("archive %s is damaged (%v) and cannot be moved aside: %w", f.Path, err, rerr))
		}
		os.Remove(f.Path + format.ChecksumSuffix)
		w.e.logf("migrate: %s: the archive a killed run was finishing is damaged, moved aside to %s and exported again: %v", w.u.Name, aside, err)
		w.st.Finishing = nil
		return false, nil
	}
	if m := v.Manifest; m.User != w.u.Name || !m.Started.Equal(f.Started) {
		w.e.logf("migrate: %s: %s is not the archive a killed run was finishing (%s's, begun %s); the export runs again",
			w.u.Name, f.Path, m.User, m.Started.Format(time.RFC3339Nano))
		w.st.Finishing = nil
		return false, nil
	}
	if !v.ChecksumFile {
		// Killed between the rename and the checksum file: write it from
		// the bytes just verified, as the export would have.
		if err := format.WriteChecksumFile(f.Path, v.SHA256); err != nil {
			return false, err
		}
	}
	rep := report.NewExport(v.Manifest, f.Path, v.Summary, 0)
	rep.File = f.Path + ".report.json"
	if _, err := os.Stat(rep.File); errors.Is(err, fs.ErrNotExist) {
		if err := report.WriteFile(rep.File, rep); err != nil {
			return false, err
		}
	}
	w.list(rep)
	w.e.logf("migrate: %s: adopted %s, finished by a run killed before recording it", w.u.Name, f.Path)
	if f.Pass != w.e.job.Pass {
		// An earlier pass's archive: listed, and this pass exports from
		// it.
		return false, saveState(w.e.job.StateDir, w.st)
	}
	return true, w.exported()
}

// stepSaved, if set (by a test), is called after a step's state is
// saved: the point where a SIGKILL leaves that record behind.
var stepSaved func(user, step string)

func (w *work) transfer(ctx context.Context) error {
	t := w.e.job.Steps.Transfer
	var srcs []string
	for _, a := range w.st.Archives {
		if a.Transferred == "" {
			srcs = append(srcs, a.Path)
		}
	}
	if len(srcs) == 0 {
		w.st.Exported = w.e.job.Pass
		return saveState(w.e.job.StateDir, w.st)
	}
	sc, err := t.Src.Connect(ctx)
	if err != nil {
		return err
	}
	defer sc.Close()
	dc, err := t.Dst.Connect(ctx)
	if err != nil {
		return err
	}
	defer dc.Close()
	dir := dc.Join(t.Dir, Key(w.u.Name))
	jobs, err := transport.Plan(ctx, sc, srcs, dc, dir)
	if err != nil {
		return err
	}
	opt := t.Options
	opt.Progress = w.progress()
	rep, err := transport.Run(ctx, t.Src, t.Dst, jobs, opt)
	if err != nil {
		return err
	}
	var failed error
	for i, r := range rep.Results {
		if r.Status == report.TransferFailed {
			ferr := fmt.Errorf("transfer %s: %s", r.Name, r.Error)
			if r.Code == report.CodeConnLost {
				ferr = retry.MarkTransient(ferr)
			}
			failed = errors.Join(failed, ferr)
			continue
		}
		for k := range w.st.Archives {
			if w.st.Archives[k].Path == jobs[i].Src {
				w.st.Archives[k].Transferred = r.Dst
			}
		}
	}
	if failed == nil {
		w.st.Exported = w.e.job.Pass
	}
	if serr := saveState(w.e.job.StateDir, w.st); failed == nil {
		failed = serr
	}
	return failed
}

func (w *work) imports(ctx context.Context) error {
	archives, err := listArchives(w.importDir(), w.u.Name)
	if err != nil {
		return err
	}
	if len(archives) == 0 {
		return fmt.Errorf("import %s: no archive of the user in %s", w.u.Name, w.importDir())
	}
	steps, err := w.e.job.Steps.Import(w.u)
	if err != nil {
		return retry.MarkPermanent(err)
	}
	w.st.Counts.Present, w.st.Counts.Failed, w.st.Counts.Bytes = 0, 0, 0
	w.st.Failures = slices.DeleteFunc(w.st.Failures, func(f Failure) bool { return strings.HasPrefix(f.Step, "import") })
	for _, s := range steps {
		req := s.Request
		// The journals go in the user's own directory, beside its state.
		req.User, req.Archives, req.StateDir, req.Progress = w.u.Name, archives, userDir(w.e.job.StateDir, w.u.Name), w.progress()
		w.stepName = "import " + s.Target.Kind()
		res, err := s.Target.Import(ctx, req)
		if res != nil && res.Report != nil {
			w.count(s.Target.Kind(), res.Report)
		}
		if err != nil {
			return fmt.Errorf("import %s: %w", s.Target.Kind(), err)
		}
	}
	return nil
}

// count adds an import report to the user's counts and failures.
func (w *work) count(kind string, r *report.Report) {
	c := &w.st.Counts
	c.Present += r.Present
	c.Failed += r.Failed + r.NotAttempted
	c.Bytes += r.Bytes
	if w.st.Exported == "" && len(w.st.Archives) == 0 && kind == "imap" {
		// Nothing exported here (the import site): the importer's
		// counts are all there is.
		c.Messages = r.Imported + r.Present
	}
	for _, f := range append(slices.Clone(r.Failures), r.Unsent...) {
		w.st.Failures = append(w.st.Failures, Failure{Step: "import " + kind, Item: f.Item, Code: string(f.Code), Reason: f.Reason})
	}
}

// listArchives returns user's archives in dir, oldest export first (by
// the manifest's start time); each must be the user's own, so that one
// user's mail never reaches another's mailbox.
func listArchives(dir, user string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	type arch struct {
		path    string
		started time.Time
	}
	var out []arch
	for _, e := range ents {
		if !e.Type().IsRegular() || !format.IsArchiveName(e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		a, err := format.Open(p, nil)
		if err != nil {
			return nil, retry.MarkPermanent(fmt.Errorf("archive %s: %w", p, err))
		}
		m := a.Manifest()
		a.Close()
		if m.User != user {
			return nil, retry.MarkPermanent(fmt.Errorf("archive %s is %s's, not %s's", p, m.User, user))
		}
		out = append(out, arch{p, m.Started})
	}
	slices.SortStableFunc(out, func(a, b arch) int { return a.started.Compare(b.started) })
	paths := make([]string, len(out))
	for i, a := range out {
		paths[i] = a.path
	}
	return paths, nil
}
