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
	ETA      ETA
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
	var doneBytes int64
	var doneSeconds float64
	var done int
	delta := false
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
				s.Note = "no worker holds the user: its run stopped; the next run continues it"
			}
		}
		ov.Count[s.Status]++
		ov.Messages += st.Counts.Messages
		ov.Bytes += st.MovedBytes()
		if st.Pass != ov.Pass {
			continue
		}
		if st.Stage == Delta {
			delta = true
		}
		if (s.Status == Done || s.Status == DoneWarnings) && st.Seconds > 0 {
			done++
			doneBytes += st.MovedBytes()
			doneSeconds += st.Seconds
		}
	}
	ov.ETA = eta(ov, done, doneBytes, doneSeconds, delta, o.UsersAtOnce)
	return ov, errors.Join(errs...)
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

// eta measures the rate of the users done in the pass and applies it to
// the users left, UsersAtOnce at a time. The users left are those not
// finished: a failed user waits for --retry-failed and is not counted.
func eta(ov *Overview, done int, doneBytes int64, doneSeconds float64, delta bool, atOnce int) ETA {
	if atOnce <= 0 {
		atOnce = 4
	}
	e := ETA{UsersAtOnce: atOnce, Basis: "bytes"}
	if delta {
		e.Basis = "users"
	}
	for _, s := range ov.Users {
		if s.Status.Finished() {
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
	if done == 0 || doneSeconds <= 0 {
		return e // nothing measured: unknown, not a guess
	}
	e.Known = true
	e.SecondsPerUser = doneSeconds / float64(done)
	if delta || doneBytes == 0 {
		e.Basis = "users"
		e.Seconds = e.SecondsPerUser * float64(e.Left) / float64(atOnce)
		return e
	}
	e.BytesPerSecond = float64(doneBytes) / doneSeconds
	left := float64(e.LeftBytes) + float64(e.Unsized)*float64(doneBytes)/float64(done)
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
