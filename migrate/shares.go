package migrate

import "github.com/mailhaul/mailhaul/migrate/shard"

// Shard is one process's share of the users: shard Index of Count.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// Shares splits users over count shards as migrate/shard does, by their
// keys and estimated sizes: the one place run, compare and status compute
// a night's shares, so they always agree. users must be the whole users
// list (a share depends on every user), each share indexes into it.
func Shares(users []User, count int) ([][]int, error) {
	su := make([]shard.User, len(users))
	for i, u := range users {
		su[i] = shard.User{Key: Key(u.Name), EstimatedBytes: u.EstimatedBytes}
	}
	return shard.Assign(su, count)
}
