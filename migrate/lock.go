package migrate

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Locker keeps two workers, in this process or on other machines, from
// working on one user at once (migrate/lease implements it with a lease
// file per user on the shared state directory).
type Locker interface {
	// Lock takes user's lock, or fails (with an error wrapping ErrHeld,
	// or one with a HeldBy method naming the holder, as migrate/lease's
	// is, when another holder has it).
	// The user's work runs under the returned context, which a lock that
	// is lost (a lease not renewed in time) ends; unlock gives the lock
	// back.
	Lock(ctx context.Context, user string) (work context.Context, unlock func(), err error)
}

// ErrHeld is a user whose lock another worker holds: the run leaves the
// user to it, and waits for it (Job.WaitHeld).
var ErrHeld = errors.New("another worker holds the user")

// HeldBy says whether err is a Locker's refusal because another worker
// holds the user, and names that worker: what the error's HeldBy method
// says (a lease's holder), else "another worker".
func HeldBy(err error) (string, bool) {
	var h interface{ HeldBy() string }
	switch {
	case errors.As(err, &h):
		return h.HeldBy(), true
	case errors.Is(err, ErrHeld):
		return "another worker", true
	}
	return "", false
}

// LocalLocker is a Locker for one process.
type LocalLocker struct {
	mu   sync.Mutex
	held map[string]bool
}

// NewLocalLocker returns an empty LocalLocker.
func NewLocalLocker() *LocalLocker { return &LocalLocker{held: map[string]bool{}} }

func (l *LocalLocker) Lock(ctx context.Context, user string) (context.Context, func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[user] {
		return nil, nil, fmt.Errorf("%s: %w", user, ErrHeld)
	}
	l.held[user] = true
	return ctx, func() {
		l.mu.Lock()
		delete(l.held, user)
		l.mu.Unlock()
	}, nil
}
