package lease

import "context"

// Locker takes a user's lease as migrate's Locker: a run of many users,
// in one process or in many (shards, a second pod for one index), works
// on a user only while it holds the user's lease, under the lease's
// context. A user another process holds fails with an error matching
// ErrHeld, and the run leaves that user to its holder.
type Locker struct {
	Options
}

// Lock acquires user's lease; unlock releases it (a lease lost meanwhile
// is left to its new holder).
func (l Locker) Lock(ctx context.Context, user string) (context.Context, func(), error) {
	le, work, err := Acquire(ctx, l.Options, user)
	if err != nil {
		return nil, nil, err
	}
	return work, func() { le.Release() }, nil
}
