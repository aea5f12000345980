package lease_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/mailhaul/mailhaul/migrate/lease"
)

func ExampleAcquire() {
	dir, _ := os.MkdirTemp("", "leases")
	defer os.RemoveAll(dir)

	l, ctx, err := lease.Acquire(context.Background(), lease.Options{Dir: dir, Shard: 0}, "ann@example.org")
	if errors.Is(err, lease.ErrHeld) {
		return // another process works on ann: come back to her later
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Release()
	// Read ann's state now: done means release and move on; otherwise work
	// under ctx, which ends if the lease is lost.

	_, _, err = lease.Acquire(context.Background(), lease.Options{Dir: dir, Shard: 1}, "ann@example.org")
	fmt.Println(errors.Is(err, lease.ErrHeld), ctx.Err())
	// Output: true <nil>
}
