package migrate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"time"
)

// Standing is where one user stands, read from its state file alone.
type Standing struct {
	User  User
	State State
	// Status is the user's status in the pass looked at: the record's, or
	// queued when the record is of another pass (a user done in the full
	// pass is still to do in the cutover).
	Status Status
	// Holder names the worker holding the user's lock now (a lease's
	// host, pid and shard); "" when none holds it.
	Holder string
	// Note says more: a record of another pass, a worker that stopped
	// without finishing (working, but nobody holds the user), a state
	// file that cannot be read.
	Note string
	// Shard is the user's shard in a sharded night, -1 without shards
	// or when its shard is not known (see StatusOptions.Assign).
	Shard int
}

// Overview is where every user of a users list stands, with totals and
// the pass's ETA. It is made from the state files only, never by asking
// a server, so it can be read while a run goes on (the files are
// replaced whole, never torn).
type Overview struct {
	Pass  string
	Users []Standing
	// Count is the number of users at each status.
	Count map[Status]int
	// Messages and Bytes add up every user's counts (messages exported,
	// bytes moved: State.MovedBytes).
	Messages int
	Bytes    int64
	// Held is the number of users a worker holds now.
	Held int
	ETA  ETA
	// Shards is the night's shard count (1: no shards); ByShard has
	// one entry per shard when it is more.
	Shards  int
	ByShard []ShardStanding
}

// ShardStanding is one shard's users in a sharded night.
type ShardStanding struct {
	Index int            `json:"index"`
	Users int            `json:"users"`
	Count map[Status]int `json:"count"`
	Held  int            `json:"held"`
	ETA   ETA            `json:"eta"`
}

// ETA is the time the rest of the pass should take, from the rates of
// the users done in this pass.
type ETA struct {
	// Known is false when no user is done in this pass yet: nothing is
	// measured, and no guess is made.
	Known bool `json:"known"`
	// Basis says how it was measured: "bytes" (a full pass: bytes per
	// second per user, times the users' estimated sizes) or "users" (a
	// delta pass, whose work does not follow the mailbox size: seconds
	// per user, times the users left).
	Basis string `json:"basis"`
	// BytesPerSecond is the measured rate of one user (basis "bytes");
	// SecondsPerUser the mean time of one user (basis "users").
	BytesPerSecond float64 `json:"bytesPerSecond"`
	SecondsPerUser float64 `json:"secondsPerUser"`
	// Left is the number of users not finished in this pass, LeftBytes
	// their estimated size; Unsized of them have no estimate and count
	// as the mean size of the users done.
	Left        int     `json:"left"`
	Unsized     int     `json:"unsized"`
	LeftBytes   int64   `json:"leftBytes"`
	UsersAtOnce int     `json:"usersAtOnce"`
	Seconds     float64 `json:"seconds"`
	// Shards is the number of shard processes (0 without shards), each
	// with UsersAtOnce: Seconds is then the slowest shard's, as each
	// works only on its own users.
	Shards int `json:"shards,omitempty"`
}

// Duration is the ETA as a duration (0 when unknown).
func (e ETA) Duration() time.Duration {
	if !e.Known {
		return 0
	}
	return time.Duration(e.Seconds * float64(time.Second))
}

// StatusOptions say what Survey reads.
type StatusOptions struct {
	StateDir string
	// Pass is the pass looked at; "" takes the pass of the most recently
	// updated record (the night's current one).
	Pass string
	// UsersAtOnce divides the ETA (the plan's limit; 4 when 0).
	UsersAtOnce int
	// Holder, when set, names who holds user's lock ("" for nobody):
	// migrate/lease.Read for a run with leases.
	Holder func(user string) string
	// Shards is the night's number of shard processes (migrate run's
	// --shard-count); 0 takes it from the records: the count named by
	// the most recently updated record of the pass (1 when none does).
	Shards int
	// Assign computes each user's shard from the users as migrate run
	// does (Shares): right only when users is the whole users list with
	// the estimated sizes (the plan's). Without it a user's shard is the
	// one its record of the pass names.
	Assign bool
}

// StatusOrder is the order of the statuses in totals.
var StatusOrder = []Status{Queued, Exporting, Transferring, Importing, Done, DoneWarnings, FailedRetry, FailedPerm, Held}

// Survey reads the state of every user in users and says where each
// stands. A state file that cannot be read is named in the user's Note
// (the user counts as queued) and in the error, and the rest are read.
func Survey(o StatusOptions, users []User) (*Overview, error) {
	if o.StateDir == "" {
		return nil, errors.New("migrate: no state directory")
	}
	ov := &Overview{Pass: o.Pass, Count: map[Status]int{}}
	var errs []error
	var latest time.Time
	for _, u := range users {
		st, err := LoadState(o.StateDir, u.Name)
		s := Standing{User: u}
		if err != nil {
			errs = append(errs, err)
			st = &State{User: u.Name, Status: Queued}
			s.Note = "state not read: " + err.Error()
		}
		s.State = *st
		if o.Pass == "" && st.Updated.After(latest) {
			latest, ov.Pass = st.Updated, st.Pass
		}
		ov.Users = append(ov.Users, s)
	}
	if ov.Pass == "" {
		ov.Pass = string(Full)
	}
	errs = append(errs, ov.shards(o))
	var all rate
	for i := range ov.Users {
		s := &ov.Users[i]
		st := &s.State
		s.Status = st.Status
		if st.Pass != "" && st.Pass != ov.Pass {
			s.Status = Queued
			s.Note = fmt.Sprintf("%s in pass %q", st.Status, st.Pass)
		}
		if o.Holder != nil {
			s.Holder = o.Holder(s.User.Name)
			if s.Holder == "" && s.Status != Queued && !s.Status.Finished() {
				s.addNote("no worker holds the user: its run stopped; the next run continues it")
			}
		}
		ov.Count[s.Status]++
		ov.Messages += st.Counts.Messages
		ov.Bytes += st.MovedBytes()
		if s.Holder != "" {
			ov.Held++
		}
		var sh *ShardStanding
		if s.Shard >= 0 && s.Shard < len(ov.ByShard) {
			sh = &ov.ByShard[s.Shard]
			sh.Users++
			sh.Count[s.Status]++
			if s.Holder != "" {
				sh.Held++
			}
		}
		if st.Pass != ov.Pass {
			continue
		}
		all.add(st, s.Status)
	}
	atOnce := o.UsersAtOnce
	if atOnce <= 0 {
		atOnce = 4
	}
	ov.ETA = all.eta(ov.Users, -1, atOnce)
	if len(ov.ByShard) > 0 {
		// Each shard works through its own users only: the night ends
		// with its slowest shard. The rate is measured over every shard
		// (more users done, a steadier figure). Users of no known shard
		// (no record yet, without Assign) count as spread evenly.
		slowest := all.eta(ov.Users, -1, atOnce*len(ov.ByShard)).Seconds
		for i := range ov.ByShard {
			e := all.eta(ov.Users, i, atOnce)
			ov.ByShard[i].ETA = e
			slowest = max(slowest, e.Seconds)
		}
		if ov.ETA.Known {
			ov.ETA.Seconds = slowest
		}
		ov.ETA.Shards = len(ov.ByShard)
	}
	return ov, errors.Join(errs...)
}

func (s *Standing) addNote(n string) {
	if s.Note != "" {
		n = s.Note + "; " + n
	}
	s.Note = n
}

// shards finds the night's shard count and each user's shard.
func (ov *Overview) shards(o StatusOptions) error {
	count := o.Shards
	if count <= 0 {
		var latest time.Time
		for _, s := range ov.Users {
			if sh := s.State.Shard; sh != nil && s.State.Pass == ov.Pass && !s.State.Updated.Before(latest) {
				latest, count = s.State.Updated, sh.Count
			}
		}
	}
	ov.Shards = max(count, 1)
	for i := range ov.Users {
		ov.Users[i].Shard = -1
	}
	if ov.Shards == 1 {
		return nil
	}
	ov.ByShard = make([]ShardStanding, ov.Shards)
	for i := range ov.ByShard {
		ov.ByShard[i] = ShardStanding{Index: i, Count: map[Status]int{}}
	}
	var err error
	if o.Assign {
		users := make([]User, len(ov.Users))
		for i, s := range ov.Users {
			users[i] = s.User
		}
		var shares [][]int
		if shares, err = Shares(users, ov.Shards); err == nil {
			for sh, idx := range shares {
				for _, i := range idx {
					ov.Users[i].Shard = sh
				}
			}
		}
	}
	for i := range ov.Users {
		s := &ov.Users[i]
		rec := s.State.Shard
		if rec == nil || s.State.Pass != ov.Pass || rec.Count != ov.Shards {
			continue
		}
		switch {
		case s.Shard < 0:
			s.Shard = rec.Index
		case s.Shard != rec.Index:
			// The users list changed since (shares move): the record's
			// shard did the work, this one would do the next.
			s.addNote(fmt.Sprintf("worked on by shard %d", rec.Index))
		}
	}
	if err != nil {
		return fmt.Errorf("migrate status: the shares: %w", err)
	}
	return nil
}

// rate is what the users done in the pass measured.
type rate struct {
	done    int
	bytes   int64
	seconds float64
	delta   bool
}

func (r *rate) add(st *State, status Status) {
	if st.Stage == Delta {
		r.delta = true
	}
	if (status == Done || status == DoneWarnings) && st.Seconds > 0 {
		r.done++
		r.bytes += st.MovedBytes()
		r.seconds += st.Seconds
	}
}

// MovedBytes is what the user's last pass moved: the import's bytes, or
// the export's for a run of the export part alone.
func (st *State) MovedBytes() int64 {
	if st.Counts.Bytes > 0 {
		return st.Counts.Bytes
	}
	var n int64
	for _, a := range st.Archives {
		if !a.Started.Before(st.Started) {
			n += a.Bytes
		}
	}
	return n
}

// eta applies the rate of the users done in the pass to the users
// left (of shard, or all when shard < 0), atOnce at a time. The users
// left are those not finished: a failed user waits for --retry-failed
// and is not counted.
func (r rate) eta(users []Standing, shard int, atOnce int) ETA {
	e := ETA{UsersAtOnce: atOnce, Basis: "bytes"}
	if r.delta {
		e.Basis = "users"
	}
	for _, s := range users {
		if s.Status.Finished() || shard >= 0 && s.Shard != shard {
			continue
		}
		e.Left++
		if s.User.EstimatedBytes > 0 {
			e.LeftBytes += s.User.EstimatedBytes
		} else {
			e.Unsized++
		}
	}
	if e.Left == 0 {
		e.Known = true
		return e
	}
	if r.done == 0 || r.seconds <= 0 {
		return e // nothing measured: unknown, not a guess
	}
	e.Known = true
	e.SecondsPerUser = r.seconds / float64(r.done)
	if r.delta || r.bytes == 0 {
		e.Basis = "users"
		e.Seconds = e.SecondsPerUser * float64(e.Left) / float64(atOnce)
		return e
	}
	e.BytesPerSecond = float64(r.bytes) / r.seconds
	left := float64(e.LeftBytes) + float64(e.Unsized)*float64(r.bytes)/float64(r.done)
	e.Seconds = math.Ceil(left / e.BytesPerSecond / float64(atOnce))
	return e
}

// StateUsers lists the users that have a state in stateDir, for a users
// list that is only known when a run starts (every account of a Zimbra):
// each record names its user.
func StateUsers(stateDir string) ([]User, error) {
	ents, err := os.ReadDir(stateDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var users []User
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(stateDir, e.Name(), statusFileName))
		if err != nil {
			continue // not a user's directory (leases), or no record yet
		}
		var st State
		if json.Unmarshal(b, &st) != nil || st.User == "" || userDir(stateDir, st.User) != filepath.Join(stateDir, e.Name()) {
			continue
		}
		users = append(users, User{Name: st.User})
	}
	return users, nil
}
