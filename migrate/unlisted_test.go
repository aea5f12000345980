package migrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/format"
)

// archivesIn lists the archive files in dir by name.
func archivesIn(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() && format.IsArchiveName(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

// fullThenNewMail runs the full pass, which must succeed, then delivers
// two messages to u after it began; it returns u's messages now.
func (e *env) fullThenNewMail(u User) int {
	e.t.Helper()
	if res, err := Run(context.Background(), e.job(Full)); err != nil || res.ExitCode() != ExitOK {
		e.t.Fatalf("full: %v\n%s", err, res.Summary())
	}
	time.Sleep(1100 * time.Millisecond) // new mail is later than the full export began
	e.addMail(u.Name, "", time.Now())
	e.addMail(u.Name, ".Sent", time.Now())
	return len(e.sourceHeads(u.Name))
}

// killAfterArchive runs job until u's new archive has its final name and
// the state does not list it yet: the state save that would list it
// fails and the run is stopped, and the state file is put back as a
// SIGKILL just before that save leaves it. It returns the archive's path.
func (e *env) killAfterArchive(job Job, u User) string {
	e.t.Helper()
	dir := filepath.Join(e.arch, Key(u.Name))
	before := archivesIn(e.t, dir)
	status := filepath.Join(userDir(e.state, u.Name), statusFileName)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var left []byte
	var archive string
	rename = func(old, new string) error {
		if new == status && left == nil {
			for _, a := range archivesIn(e.t, dir) {
				if !slices.Contains(before, a) {
					archive = filepath.Join(dir, a)
				}
			}
			if archive != "" {
				var err error
				if left, err = os.ReadFile(status); err != nil {
					e.t.Error(err)
				}
				cancel()
				return errors.New("killed")
			}
		}
		return os.Rename(old, new)
	}
	defer func() { rename = os.Rename }()
	Run(ctx, job)
	rename = os.Rename
	if left == nil {
		e.t.Fatal("the run never finished an archive")
	}
	if err := os.WriteFile(status, left, 0o600); err != nil {
		e.t.Fatal(err)
	}
	return archive
}

// rerun runs job again and returns the user's result, how many exports
// the run began and what it logged.
func rerun(t *testing.T, job Job) (UserResult, int32, string) {
	t.Helper()
	var exports atomic.Int32
	next := job.Steps.Export
	job.Steps.Export = func(ctx context.Context, u User, since string) (export.Job, error) {
		exports.Add(1)
		return next(ctx, u, since)
	}
	var mu sync.Mutex
	var log strings.Builder
	job.Logf = func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(&log, format+"\n", args...)
	}
	res, err := Run(context.Background(), job)
	if err != nil || res.ExitCode() != ExitOK {
		t.Fatalf("rerun: %v\n%s\n%s", err, res.Summary(), log.String())
	}
	return res.Users[0], exports.Load(), log.String()
}

// agree fails unless the archives of st are the archives in the user's
// directory, here and on the drive, each whole with its checksum file;
// one of them full and the rest deltas.
func (e *env) agree(u User, st State, deltas int) {
	e.t.Helper()
	var listed []string
	n := 0
	for _, a := range st.Archives {
		listed = append(listed, filepath.Base(a.Path))
		if a.Delta {
			n++
		}
		v, err := format.Verify(context.Background(), a.Path)
		if err != nil || !v.ChecksumFile {
			e.t.Errorf("%s: %v (checksum file: %v)", a.Path, err, v != nil && v.ChecksumFile)
		}
	}
	if len(st.Archives) != deltas+1 || n != deltas {
		e.t.Errorf("the state lists %d archives, %d of them deltas: want 1 full and %d deltas", len(st.Archives), n, deltas)
	}
	slices.Sort(listed)
	for _, dir := range []string{e.arch, e.drive} {
		if got := archivesIn(e.t, filepath.Join(dir, Key(u.Name))); !slices.Equal(got, listed) {
			e.t.Errorf("%s holds %v, the state lists %v", dir, got, listed)
		}
	}
	if st.Finishing != nil {
		e.t.Errorf("the state still says an export is finishing %+v", st.Finishing)
	}
}

// TestKilledAfterArchiveFinishedAdoptsIt: a process killed after an
// export's archive took its final name and before the state listed it
// (with and without its checksum file written) leaves an archive the
// rerun adopts: verified, listed once, counted, transferred and
// imported, and the user is not exported again.
func TestKilledAfterArchiveFinishedAdoptsIt(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stage Stage
		// noSum: killed before the checksum file and the report were
		// written.
		noSum bool
		// noOverlap: the deltas start exactly where the last export
		// began, so an export again from the unlisted archive leaves its
		// mail behind on the source's side.
		noOverlap bool
	}{
		{"full", Full, false, false},
		{"delta", Delta, false, false},
		{"delta-before-checksum", Delta, true, false},
		{"delta-no-overlap", Delta, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1)
			u := e.users[0]
			source := len(e.sourceHeads(u.Name))
			if tc.stage == Delta {
				source = e.fullThenNewMail(u)
			}
			job := e.job(tc.stage)
			if tc.noOverlap {
				next := job.Steps.Export
				job.Steps.Export = func(ctx context.Context, u User, since string) (export.Job, error) {
					xj, err := next(ctx, u, since)
					xj.Overlap = 0
					return xj, err
				}
			}
			archive := e.killAfterArchive(job, u)
			if tc.noSum {
				for _, p := range []string{archive + format.ChecksumSuffix, archive + ".report.json"} {
					if err := os.Remove(p); err != nil {
						t.Fatal(err)
					}
				}
			}
			r, exports, log := rerun(t, job)
			if exports != 0 {
				t.Errorf("the rerun exported the user %d times again, want 0 (the finished archive adopted)\n%s", exports, log)
			}
			deltas, items := 0, source
			if tc.stage == Delta {
				deltas, items = 1, 2
			}
			e.agree(u, r.State, deltas)
			if last := r.State.Archives[len(r.State.Archives)-1]; last.Path != archive || last.Items != items {
				t.Errorf("last archive %s with %d items; want %s adopted, %d items", last.Path, last.Items, archive, items)
			}
			if r.State.Counts.Messages != source {
				t.Errorf("counts %d messages, want %d (the source)", r.State.Counts.Messages, source)
			}
			if _, err := os.Stat(archive + ".report.json"); err != nil {
				t.Errorf("the adopted archive has no report: %v", err)
			}
			if !strings.Contains(log, "adopted "+archive) {
				t.Errorf("the log does not say the archive was adopted:\n%s", log)
			}
			e.exactlyOnce(u)
		})
	}
}

// TestKilledWithDamagedArchiveExportsAgain: an archive at the final
// name that is not whole (truncated after the kill) is never adopted:
// it is moved aside with a log line, the delta is exported again from
// the same start, and only the new archive is listed, transferred and
// imported.
func TestKilledWithDamagedArchiveExportsAgain(t *testing.T) {
	e := newEnv(t, 1)
	u := e.users[0]
	source := e.fullThenNewMail(u)
	archive := e.killAfterArchive(e.job(Delta), u)
	fi, err := os.Stat(archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(archive, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	r, exports, log := rerun(t, e.job(Delta))
	if exports != 1 {
		t.Errorf("the rerun exported the user %d times, want once", exports)
	}
	e.agree(u, r.State, 1)
	if last := r.State.Archives[1]; last.Path != archive || last.Items != 2 {
		t.Errorf("delta %s with %d items; want %s again with 2 (from the same start)", last.Path, last.Items, archive)
	}
	if r.State.Counts.Messages != source {
		t.Errorf("counts %d messages, want %d (the source)", r.State.Counts.Messages, source)
	}
	if fi, err := os.Stat(archive + ".incomplete"); err != nil || fi.Size() == 0 {
		t.Errorf("the damaged archive was not kept aside: %v", err)
	}
	if !strings.Contains(log, "damaged") || !strings.Contains(log, archive) {
		t.Errorf("no log line names the damaged archive:\n%s", log)
	}
	e.exactlyOnce(u)
}

// TestKilledFullThenDeltaAdoptsTheFull: a full export killed before its
// archive was listed, followed by the delta pass instead of the full
// one again: the delta adopts the full archive (listed, transferred and
// imported) and exports only what came after it.
func TestKilledFullThenDeltaAdoptsTheFull(t *testing.T) {
	e := newEnv(t, 1)
	u := e.users[0]
	full := e.killAfterArchive(e.job(Full), u)
	time.Sleep(1100 * time.Millisecond)
	e.addMail(u.Name, "", time.Now())
	source := len(e.sourceHeads(u.Name))
	r, exports, log := rerun(t, e.job(Delta))
	if exports != 1 {
		t.Errorf("the delta pass exported the user %d times, want once", exports)
	}
	e.agree(u, r.State, 1)
	if a := r.State.Archives; a[0].Path != full || a[1].Items != 1 {
		t.Errorf("archives %+v; want %s adopted, then a delta of 1 item", a, full)
	}
	if r.State.Counts.Messages != source {
		t.Errorf("counts %d messages, want %d (the source)\n%s", r.State.Counts.Messages, source, log)
	}
	e.exactlyOnce(u)
}

// TestKilledWhileWritingRemovesTheUnfinished: the temporary file of an
// archive a killed run was writing is removed when the user's export
// starts again (with a log line); other files are left alone.
func TestKilledWhileWritingRemovesTheUnfinished(t *testing.T) {
	e := newEnv(t, 1)
	u := e.users[0]
	dir := filepath.Join(e.arch, Key(u.Name))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "."+u.Name+".tgz.tmp-12345")
	keep := filepath.Join(dir, ".keep")
	for _, p := range []string{stale, keep} {
		if err := os.WriteFile(p, []byte("half an archive"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, _, log := rerun(t, e.job(Full))
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the unfinished archive is still there (%v)", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("another file was removed: %v", err)
	}
	if !strings.Contains(log, "removed "+stale) {
		t.Errorf("no log line names the unfinished archive:\n%s", log)
	}
	e.exactlyOnce(u)
}
