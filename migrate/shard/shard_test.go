package shard

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// testUsers makes n users with sizes from empty to a few hundred MB, some
// equal (ties are decided by key), from a fixed seed.
func testUsers(n int) []User {
	r := rand.New(rand.NewPCG(14, uint64(n)))
	users := make([]User, n)
	for i := range users {
		var size int64
		switch i % 5 {
		case 0: // empty mailbox
		case 1:
			size = 1 << 20 // many equal sizes
		default:
			size = r.Int64N(300 << 20)
		}
		users[i] = User{Key: fmt.Sprintf("user%03d@example.org", i), EstimatedBytes: size}
	}
	return users
}

// keysOf names each shard's users by key, so two assignments of the same
// users in different orders can be compared.
func keysOf(users []User, shards [][]int) [][]string {
	out := make([][]string, len(shards))
	for s, idx := range shards {
		for _, i := range idx {
			out[s] = append(out[s], users[i].Key)
		}
		slices.Sort(out[s])
	}
	return out
}

func TestAssignDisjointComplete(t *testing.T) {
	for _, n := range []int{0, 1, 7, 200} {
		users := testUsers(n)
		for count := 1; count <= 16; count++ {
			shards, err := Assign(users, count)
			if err != nil {
				t.Fatalf("users %d count %d: %v", n, count, err)
			}
			if len(shards) != count {
				t.Fatalf("users %d count %d: got %d shards", n, count, len(shards))
			}
			seen := make([]int, n)
			for s, idx := range shards {
				for _, i := range idx {
					if i < 0 || i >= n {
						t.Fatalf("users %d count %d: shard %d has index %d", n, count, s, i)
					}
					seen[i]++
				}
			}
			for i, c := range seen {
				if c != 1 {
					t.Errorf("users %d count %d: user %s in %d shards, want 1", n, count, users[i].Key, c)
				}
			}
		}
	}
}

func TestAssignIgnoresInputOrder(t *testing.T) {
	users := testUsers(200)
	r := rand.New(rand.NewPCG(1, 2))
	for count := 1; count <= 16; count++ {
		base, err := Assign(users, count)
		if err != nil {
			t.Fatal(err)
		}
		want := keysOf(users, base)
		for round := 0; round < 5; round++ {
			shuffled := slices.Clone(users)
			r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			got, err := Assign(shuffled, count)
			if err != nil {
				t.Fatal(err)
			}
			if g := keysOf(shuffled, got); !slices.EqualFunc(g, want, slices.Equal) {
				t.Fatalf("count %d: a shuffled list gave another share:\n got %v\nwant %v", count, g, want)
			}
		}
	}
}

// The greedy step keeps the spread between the heaviest and the lightest
// shard within the largest single user, and the user counts within one when
// the sizes tie (here: all unknown).
func TestAssignBalance(t *testing.T) {
	users := testUsers(200)
	var largest int64
	for _, u := range users {
		largest = max(largest, u.EstimatedBytes)
	}
	for count := 1; count <= 16; count++ {
		shards, _ := Assign(users, count)
		lo, hi := int64(1<<62), int64(0)
		for _, idx := range shards {
			var sum int64
			for _, i := range idx {
				sum += users[i].EstimatedBytes
			}
			lo, hi = min(lo, sum), max(hi, sum)
		}
		if hi-lo > largest {
			t.Errorf("count %d: shards hold %d to %d bytes: spread %d exceeds the largest user %d", count, lo, hi, hi-lo, largest)
		}
	}
	unknown := make([]User, 101)
	for i := range unknown {
		unknown[i] = User{Key: fmt.Sprint("u", i)}
	}
	for count := 1; count <= 16; count++ {
		shards, _ := Assign(unknown, count)
		lo, hi := len(unknown), 0
		for _, idx := range shards {
			lo, hi = min(lo, len(idx)), max(hi, len(idx))
		}
		if hi-lo > 1 {
			t.Errorf("count %d, sizes unknown: shards hold %d to %d users, want a spread of at most 1", count, lo, hi)
		}
	}
}

// What the package doc promises when a user is added: every user sorted
// before the new one (larger, or as large with a smaller key) stays put.
func TestAssignAddingAUser(t *testing.T) {
	users := testUsers(200)
	added := User{Key: "new@example.org", EstimatedBytes: 150 << 20}
	for count := 2; count <= 16; count++ {
		before, _ := Assign(users, count)
		after, err := Assign(append(slices.Clone(users), added), count)
		if err != nil {
			t.Fatal(err)
		}
		where := func(shards [][]int) map[int]int {
			m := map[int]int{}
			for s, idx := range shards {
				for _, i := range idx {
					m[i] = s
				}
			}
			return m
		}
		was, is := where(before), where(after)
		moved := 0
		for i, u := range users {
			larger := u.EstimatedBytes > added.EstimatedBytes || (u.EstimatedBytes == added.EstimatedBytes && u.Key < added.Key)
			if was[i] != is[i] {
				moved++
				if larger {
					t.Errorf("count %d: %s (%d bytes) sorts before the added user but moved from shard %d to %d", count, u.Key, u.EstimatedBytes, was[i], is[i])
				}
			}
		}
		t.Logf("count %d: adding one user moved %d of %d", count, moved, len(users))
	}
}

func TestAssignRejects(t *testing.T) {
	for _, c := range []struct {
		users []User
		count int
		want  string
	}{
		{nil, 0, "count 0"},
		{[]User{{Key: "a", EstimatedBytes: -1}}, 2, `"a": estimated size -1`},
		{[]User{{Key: "a"}, {Key: "b"}, {Key: "a"}}, 2, `"a" is listed twice`},
	} {
		_, err := Assign(c.users, c.count)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Assign(%v, %d) = %v, want an error containing %q", c.users, c.count, err, c.want)
		}
	}
}

func TestIndex(t *testing.T) {
	for _, c := range []struct {
		name    string
		flag    int
		flagSet bool
		count   int
		env     map[string]string
		want    int
		wantErr string
	}{
		{name: "flag", flag: 3, flagSet: true, count: 4, want: 3},
		{name: "job index", count: 4, env: map[string]string{EnvJobIndex: "2"}, want: 2},
		{name: "mailhaul index", count: 4, env: map[string]string{EnvIndex: " 1\n"}, want: 1},
		{name: "all agree", flag: 2, flagSet: true, count: 4, env: map[string]string{EnvJobIndex: "2", EnvIndex: "2"}, want: 2},
		{name: "flag zero is given", flag: 0, flagSet: true, count: 4, want: 0},
		{name: "empty is unset", count: 4, env: map[string]string{EnvJobIndex: "", EnvIndex: "3"}, want: 3},
		{name: "one shard needs no index", count: 1, want: 0},
		{name: "none", count: 4, wantErr: "no shard index"},
		{name: "flag out of range", flag: 4, flagSet: true, count: 4, wantErr: "--shard-index 4 is out of range: the shard count is 4, so the index must be 0 to 3"},
		{name: "negative", count: 4, env: map[string]string{EnvIndex: "-1"}, wantErr: "MAILHAUL_SHARD_INDEX -1 is out of range"},
		{name: "env out of range", count: 2, env: map[string]string{EnvJobIndex: "2"}, wantErr: "JOB_COMPLETION_INDEX 2 is out of range"},
		{name: "not a number", count: 4, env: map[string]string{EnvJobIndex: "two"}, wantErr: `JOB_COMPLETION_INDEX="two" is not a whole number`},
		{name: "flag and engine disagree", flag: 1, flagSet: true, count: 4, env: map[string]string{EnvJobIndex: "2"}, wantErr: "--shard-index says 1 but JOB_COMPLETION_INDEX says 2"},
		{name: "envs disagree", count: 4, env: map[string]string{EnvJobIndex: "0", EnvIndex: "3"}, wantErr: "JOB_COMPLETION_INDEX says 0 but MAILHAUL_SHARD_INDEX says 3"},
		{name: "bad count", count: 0, wantErr: "shard count 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Index(c.flag, c.flagSet, c.count, func(k string) string { return c.env[k] })
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Index = %d, %v; want an error containing %q", got, err, c.wantErr)
				}
				if c.name == "none" && !errors.Is(err, ErrNoIndex) {
					t.Errorf("error %v is not ErrNoIndex", err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("Index = %d, %v; want %d", got, err, c.want)
			}
		})
	}
}

func ExampleAssign() {
	users := []User{
		{Key: "ann@example.org", EstimatedBytes: 900 << 20},
		{Key: "bob@example.org", EstimatedBytes: 400 << 20},
		{Key: "cat@example.org", EstimatedBytes: 300 << 20},
		{Key: "dan@example.org", EstimatedBytes: 300 << 20},
		{Key: "eve@example.org"},
	}
	shards, _ := Assign(users, 2)
	for s, idx := range shards {
		fmt.Print("shard ", s, ":")
		for _, i := range idx {
			fmt.Print(" ", strings.TrimSuffix(users[i].Key, "@example.org"))
		}
		fmt.Println()
	}
	// Output:
	// shard 0: ann eve
	// shard 1: bob cat dan
}
