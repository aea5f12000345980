// Package shard splits one plan's users over N processes that never talk to
// each other: every process computes the same share from the users alone, so
// no coordinator is needed, and resolves its own index from a flag or from the
// environment a batch engine sets (a Kubernetes Indexed Job's
// JOB_COMPLETION_INDEX).
//
// The share balances the estimated sizes: users are sorted by size, largest
// first, then by key, and each goes to the shard with the least bytes so far
// (fewest users on a tie, then the lowest index). After every step the
// heaviest shard holds at most one user's size more than the lightest.
//
// What moves when the users change: adding or removing a user keeps every user
// sorted before it (larger, or as large with a smaller key) on its shard;
// users sorted after it may move. Changing the count moves users freely. A
// user that moves is safe, not redone: its state and journals live on the
// shared state directory and its lease keeps two processes off it, so the new
// shard skips it when done and continues it when half done.
package shard

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// User is what the share is computed from: a key unique in the plan (the
// plan's canonical user name) and an estimated size in bytes (0 if unknown).
type User struct {
	Key            string
	EstimatedBytes int64
}

// Assign splits users into count shards and returns, per shard, the indexes
// into users it owns, in the order they were assigned (largest first). The
// result depends only on the set of users, not on their order in the slice.
// Keys must be unique and sizes not negative.
func Assign(users []User, count int) ([][]int, error) {
	if count < 1 {
		return nil, fmt.Errorf("shard: count %d: must be at least 1", count)
	}
	order := make([]int, len(users))
	for i, u := range users {
		if u.EstimatedBytes < 0 {
			return nil, fmt.Errorf("shard: user %q: estimated size %d is negative", u.Key, u.EstimatedBytes)
		}
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Or(
			cmp.Compare(users[b].EstimatedBytes, users[a].EstimatedBytes),
			strings.Compare(users[a].Key, users[b].Key))
	})
	for i := 1; i < len(order); i++ {
		if users[order[i]].Key == users[order[i-1]].Key {
			return nil, fmt.Errorf("shard: user %q is listed twice", users[order[i]].Key)
		}
	}
	shards := make([][]int, count)
	bytes := make([]int64, count)
	for _, u := range order {
		least := 0
		for s := 1; s < count; s++ {
			if bytes[s] < bytes[least] || (bytes[s] == bytes[least] && len(shards[s]) < len(shards[least])) {
				least = s
			}
		}
		shards[least] = append(shards[least], u)
		bytes[least] += users[u].EstimatedBytes
	}
	return shards, nil
}

// The environment variables an index is read from, after the flag.
const (
	EnvJobIndex = "JOB_COMPLETION_INDEX" // set by a Kubernetes Indexed Job
	EnvIndex    = "MAILHAUL_SHARD_INDEX" // for any other engine or a shell
)

// ErrNoIndex is returned when count > 1 and no source names the index.
var ErrNoIndex = errors.New("shard: no shard index: pass --shard-index or set " + EnvJobIndex + " or " + EnvIndex)

// Index resolves this process's shard index in [0, count) from the
// --shard-index flag (flagSet tells whether it was given), then
// JOB_COMPLETION_INDEX, then MAILHAUL_SHARD_INDEX (env looks a variable up;
// os.Getenv in production, an empty value counts as unset). Every source
// given must agree: an engine that sets one index while the command line says
// another is a misconfiguration, not a choice. With count 1 and no source the
// index is 0.
func Index(flagValue int, flagSet bool, count int, env func(string) string) (int, error) {
	if count < 1 {
		return 0, fmt.Errorf("shard: shard count %d: must be at least 1", count)
	}
	type source struct {
		name  string
		index int
	}
	var found []source
	if flagSet {
		found = append(found, source{"--shard-index", flagValue})
	}
	for _, name := range []string{EnvJobIndex, EnvIndex} {
		v := strings.TrimSpace(env(name))
		if v == "" {
			continue
		}
		i, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("shard: %s=%q is not a whole number", name, v)
		}
		found = append(found, source{name, i})
	}
	if len(found) == 0 {
		if count == 1 {
			return 0, nil
		}
		return 0, ErrNoIndex
	}
	for _, s := range found[1:] {
		if s.index != found[0].index {
			return 0, fmt.Errorf("shard: %s says %d but %s says %d", found[0].name, found[0].index, s.name, s.index)
		}
	}
	if i := found[0].index; i < 0 || i >= count {
		return 0, fmt.Errorf("shard: %s %d is out of range: the shard count is %d, so the index must be 0 to %d", found[0].name, i, count, count-1)
	}
	return found[0].index, nil
}
