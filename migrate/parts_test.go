package migrate

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/progress"
)

// TestTwoSites: the export part at the source's site puts the archives on
// the "drive"; the import part at the target's site, with a state
// directory of its own, loads them from there.
func TestTwoSites(t *testing.T) {
	e := newEnv(t, 3)
	res := e.exportPart()
	for _, u := range res.Users {
		if got := e.heads(u.User.Login); len(got) != 0 {
			t.Errorf("%s: the export part imported %d messages", u.User.Name, len(got))
		}
		if u.State.Exported != "full" || u.State.Imported != "" {
			t.Errorf("%s: exported %q, imported %q after the export part", u.User.Name, u.State.Exported, u.State.Imported)
		}
	}
	b := e.job(Full)
	b.Part, b.StateDir, b.ArchiveDir, b.Steps.Export, b.Steps.Transfer = ImportOnly, filepath.Join(t.TempDir(), "site-b"), e.drive, nil, nil
	res, err := Run(context.Background(), b)
	if err != nil || res.ExitCode() != ExitOK {
		t.Fatalf("import part: %v\n%s", err, res.Summary())
	}
	for _, u := range res.Users {
		e.exactlyOnce(u.User)
		if u.State.Counts.Messages != len(e.sourceHeads(u.User.Name)) {
			t.Errorf("%s: %d messages counted at the import site, want %d", u.User.Name, u.State.Counts.Messages, len(e.sourceHeads(u.User.Name)))
		}
	}
}

// flaky fails its first Import with a dropped connection, then imports.
type flaky struct {
	importer.Target
	calls *atomic.Int32 // over the attempts, each of which builds its targets again
}

func (f *flaky) Import(ctx context.Context, req importer.Request) (*importer.Result, error) {
	if f.calls.Add(1) == 1 {
		return nil, retry.MarkTransient(errors.New("connection reset by peer"))
	}
	return f.Target.Import(ctx, req)
}

// TestDroppedConnectionRetried: a step that fails with a retryable error
// is tried again after a backoff and the user is done; one that keeps
// failing ends failed-retryable after the job's attempts, with its error.
func TestDroppedConnectionRetried(t *testing.T) {
	e := newEnv(t, 2)
	job := e.job(Full)
	inner := job.Steps.Import
	var always, once atomic.Int32
	job.Steps.Import = func(u User) ([]Import, error) {
		imps, err := inner(u)
		if err != nil {
			return nil, err
		}
		if u.Login == "user02" {
			imps[0].Target = &failing{Target: imps[0].Target, calls: &always}
			return imps, nil
		}
		imps[0].Target = &flaky{Target: imps[0].Target, calls: &once}
		return imps, nil
	}
	res, err := Run(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	u1, u2 := res.Users[0], res.Users[1]
	if u1.Status != Done || u1.State.Attempts != 2 {
		t.Errorf("user01: %s after %d attempts (%s), want done after 2", u1.Status, u1.State.Attempts, u1.State.Error)
	}
	e.exactlyOnce(u1.User)
	if u2.Status != FailedRetry || always.Load() != 3 || !strings.Contains(u2.State.Error, "timeout") || u2.State.ErrorClass != string(ClassRetryable) {
		t.Errorf("user02: %s after %d calls (%s: %s), want failed-retryable after 3", u2.Status, always.Load(), u2.State.ErrorClass, u2.State.Error)
	}
}

type failing struct {
	importer.Target
	calls *atomic.Int32
}

func (f *failing) Import(context.Context, importer.Request) (*importer.Result, error) {
	f.calls.Add(1)
	return nil, retry.MarkThrottled(fmt.Errorf("timeout: the server is busy"), 0)
}

// heldLocker says another worker holds one user, and counts the tries.
type heldLocker struct {
	*LocalLocker
	user  string
	tries *atomic.Int32
}

func (h heldLocker) Lock(ctx context.Context, user string) (context.Context, func(), error) {
	if user == h.user {
		h.tries.Add(1)
		return nil, nil, fmt.Errorf("%s: %w", user, ErrHeld)
	}
	return h.LocalLocker.Lock(ctx, user)
}

// TestHeldUserLeftAlone: a user whose lock another worker holds is not
// worked on (nothing exported or imported, its state untouched). The
// run waits for it, every HeldPoll up to WaitHeld and no longer, after
// its other users; at the limit it stands held by that worker, which is
// neither done nor failed: ExitHeld, and the summary's last line says so.
func TestHeldUserLeftAlone(t *testing.T) {
	e := newEnv(t, 2)
	job := e.job(Full)
	tries := &atomic.Int32{}
	job.Locker = heldLocker{NewLocalLocker(), "user01@example.org", tries}
	job.WaitHeld, job.HeldPoll = 600*time.Millisecond, 100*time.Millisecond
	var waited atomic.Bool
	job.Logf = func(format string, args ...any) {
		if strings.Contains(fmt.Sprintf(format, args...), "waiting for them") {
			waited.Store(true)
		}
	}
	start := time.Now()
	res, err := Run(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	held := res.Users[0]
	if !held.Skipped || held.Status != Held || held.By != "another worker" || !strings.Contains(held.Note, "still held") ||
		len(e.heads("user01")) != 0 {
		t.Errorf("held user: %+v", held)
	}
	if st, err := LoadState(e.state, "user01@example.org"); err != nil || st.Status != Queued || st.Pass != "" {
		t.Errorf("held user's state: %+v, %v; want it untouched", st, err)
	}
	if res.Users[1].Status != Done || res.ExitCode() != ExitHeld {
		t.Errorf("other user %s, exit %d; want done, exit %d", res.Users[1].Status, res.ExitCode(), ExitHeld)
	}
	// Bounded: the wait ended at its limit, after one try per poll
	// (the first in the run itself), not in a busy loop.
	if !waited.Load() || took < job.WaitHeld || took > job.WaitHeld+30*time.Second {
		t.Errorf("the run took %s (waited: %v), want the wait of %s and a little", took, waited.Load(), job.WaitHeld)
	}
	if n := tries.Load(); n < 3 || n > 8 {
		t.Errorf("the held user's lock was tried %d times in a wait of %s every %s", n, job.WaitHeld, job.HeldPoll)
	}
	sum := strings.TrimSpace(res.Summary())
	if !strings.Contains(sum, "user01@example.org: held by another worker, not finished") ||
		!strings.HasSuffix(sum, "NOT all users done: 1 of 2 done, 1 held by another worker") {
		t.Errorf("summary:\n%s", sum)
	}

	// No wait at all when asked (WaitHeld < 0): held at once.
	job.WaitHeld = -1
	tries.Store(0)
	res, err = Run(context.Background(), job)
	if err != nil || res.Users[0].Status != Held || res.ExitCode() != ExitHeld || tries.Load() != 1 {
		t.Errorf("no wait: %v, %s, exit %d, %d tries", err, res.Users[0].Status, res.ExitCode(), tries.Load())
	}
}

// losingLocker loses user's lock as soon as its import begins.
type losingLocker struct {
	*LocalLocker
	user string
	lose context.CancelCauseFunc
}

func (l *losingLocker) Lock(ctx context.Context, user string) (context.Context, func(), error) {
	wctx, unlock, err := l.LocalLocker.Lock(ctx, user)
	if err != nil || user != l.user {
		return wctx, unlock, err
	}
	wctx, l.lose = context.WithCancelCause(wctx)
	return wctx, unlock, nil
}

// TestLostLockLeavesStateAlone: a user whose lock is lost mid-run (a
// lease another worker took over) is not written as queued or failed:
// its state is the new holder's; the run says the lock was lost.
func TestLostLockLeavesStateAlone(t *testing.T) {
	e := newEnv(t, 2)
	job := e.job(Full)
	ll := &losingLocker{LocalLocker: NewLocalLocker(), user: "user01@example.org"}
	job.Locker = ll
	job.Progress = func(ev progress.Event) {
		if ev.User == ll.user && ev.Stage == StageMigrate && ev.Folder == string(Importing) {
			ll.lose(errors.New("lease: lost"))
		}
	}
	res, err := Run(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	lost := res.Users[0]
	if lost.Status == Done || !strings.Contains(lost.Note, "lock was lost") {
		t.Errorf("user01: %s, note %q; want the lost lock said", lost.Status, lost.Note)
	}
	st, err := LoadState(e.state, ll.user)
	if err != nil || st.Status != Importing {
		t.Errorf("user01's state after its lock was lost: %v, %v; want it left as the step wrote it (importing)", st.Status, err)
	}
	if res.Users[1].Status != Done {
		t.Errorf("user02: %s", res.Users[1].Status)
	}
}
