//go:build !unix

package lease

// processGone cannot tell here: a holder's lease always runs its TTL.
func processGone(int) bool { return false }
