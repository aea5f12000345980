package migrate

import (
	"context"
	"errors"
	"testing"
)

// brokenLocker cannot take any lock, for a reason other than a holder (a
// lease store out of reach).
type brokenLocker struct{}

func (brokenLocker) Lock(context.Context, string) (context.Context, func(), error) {
	return nil, nil, errors.New("lease store unreachable")
}

// TestLockErrorIsNotDone: a user done by the last pass whose lock cannot
// be taken in this pass was not worked on: it must not count as done
// (its record's status is the last pass's), and the run's exit code must
// not be 0.
func TestLockErrorIsNotDone(t *testing.T) {
	dir := t.TempDir()
	st := &State{User: "u1", Stage: Full, Pass: "full", Status: Done, Exported: "full", Imported: "full", Archived: "full"}
	if err := saveState(dir, st); err != nil {
		t.Fatal(err)
	}
	job := Job{Stage: Delta, StateDir: dir, ArchiveDir: t.TempDir(), Users: []User{{Name: "u1"}},
		Steps: Steps{Export: nopExport, Import: nopImport}, Locker: brokenLocker{}}
	res, err := Run(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	u := res.Users[0]
	if u.Status == Done || res.ExitCode() == ExitOK {
		t.Fatalf("user not worked on (lock refused) stands %s, exit %d", u.Status, res.ExitCode())
	}
	if u.Note == "" {
		t.Error("no reason given for the user")
	}
}
