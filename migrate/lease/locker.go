package lease

import (
	"context"
	"errors"
)

// Locker takes a user's lease as migrate's Locker: a run of many users,
// in one process or in many (shards, a second pod for one index), works
// on a user only while it holds the user's lease, under the lease's
// context. A user another process holds fails with an error matching
// ErrHeld that names the holder (HeldBy), and the run leaves that user
// to its holder, then waits for it.
type Locker struct {
	Options
}

// Lock acquires user's lease; unlock releases it (a lease lost meanwhile
// is left to its new holder).
func (l Locker) Lock(ctx context.Context, user string) (context.Context, func(), error) {
	le, work, err := Acquire(ctx, l.Options, user)
	var he *HeldError
	if errors.Is(err, ErrHeld) && !errors.As(err, &he) {
		err = takingOver{err}
	}
	if err != nil {
		return nil, nil, err
	}
	return work, func() { le.Release() }, nil
}

// takingOver is Acquire's refusal while other processes race for an
// expired lease: held, by whichever of them wins.
type takingOver struct{ error }

func (e takingOver) Unwrap() error  { return e.error }
func (e takingOver) HeldBy() string { return "another process taking over an expired lease" }
