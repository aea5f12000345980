package exporttest

import (
	"testing"
	"time"
)

// Bounded returns fn's result, failing the test with hung if fn has not
// returned within d: a source that opens a FIFO for reading blocks until a
// writer comes, which is the defect these tests exist to catch.
func Bounded[T any](t testing.TB, d time.Duration, hung string, fn func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- fn() }()
	select {
	case v := <-done:
		return v
	case <-time.After(d):
		t.Fatal(hung)
		panic("unreachable")
	}
}
