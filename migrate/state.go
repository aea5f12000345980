package migrate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Status is where one user stands.
type Status string

const (
	Queued       Status = "queued"
	Exporting    Status = "exporting"
	Transferring Status = "transferring"
	Importing    Status = "importing"
	Done         Status = "done"
	DoneWarnings Status = "done-with-warnings" // finished, but some items failed (listed)
	FailedRetry  Status = "failed-retryable"   // a later run may finish it (connection, throttling)
	FailedPerm   Status = "failed-permanent"   // authentication, configuration, a damaged archive: fix first
	// Held is a run's result only, never a state: another worker still
	// held the user when the run ended (Job.WaitHeld).
	Held           Status = "held"
	statusFileName        = "status.json"
)

// Finished reports whether s ends a user's pass (done or failed).
func (s Status) Finished() bool {
	return s == Done || s == DoneWarnings || s == FailedRetry || s == FailedPerm
}

// State is one user's record in the state directory, rewritten whole
// (temporary file, fsync, rename) at every change of status, so a crash
// leaves either the old record or the new one.
type State struct {
	User   string `json:"user"`
	Stage  Stage  `json:"stage"` // the stage of the last run that worked on the user
	Pass   string `json:"pass"`  // and its pass (Job.Pass)
	Status Status `json:"status"`
	// Exported and Imported name the pass (Job.Pass) each part last
	// finished: a run of the same pass skips the part.
	Exported string `json:"exported,omitempty"`
	Imported string `json:"imported,omitempty"`
	// Archived names the pass whose export recorded its archive, written
	// in the same save as the archive: a rerun after a crash before the
	// transfer finished transfers it, never exports the user again.
	Archived string `json:"archived,omitempty"`
	// Finishing is the archive an export was about to complete, saved
	// before the archive takes its final name and cleared by the save
	// that lists it: a rerun after a crash in between adopts that
	// archive, whole and verified, rather than exporting again.
	Finishing *Finishing `json:"finishing,omitempty"`
	// Error is the last error, ErrorClass its class ("authentication",
	// "retryable", "permanent", "interrupted").
	Error      string `json:"error,omitempty"`
	ErrorClass string `json:"errorClass,omitempty"`
	Attempts   int    `json:"attempts,omitempty"` // tries of the last step
	// Archives are the archives this machine exported, in order (the
	// full one, then the deltas).
	Archives []ArchiveRecord `json:"archives,omitempty"`
	Counts   Counts          `json:"counts"`
	// Failures are the items the last import (or export) did not move,
	// with their reason codes.
	Failures []Failure `json:"failures,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	Updated  time.Time `json:"updated"`
	Seconds  float64   `json:"seconds"` // time spent on the last pass

	// Shard is the shard of the run that last worked on the user (nil: a
	// run without shards): migrate status learns a night's shard count
	// from the records.
	Shard *Shard `json:"shard,omitempty"`
}

// ArchiveRecord is one export's archive.
type ArchiveRecord struct {
	Path        string    `json:"path"`
	Delta       bool      `json:"delta,omitempty"`
	Started     time.Time `json:"started"`
	Seconds     float64   `json:"seconds"`
	Items       int       `json:"items"`
	Bytes       int64     `json:"bytes"`
	Transferred string    `json:"transferred,omitempty"` // where the transfer put it
}

// Finishing names the archive of one export run before it exists.
type Finishing struct {
	Pass string `json:"pass"`
	Path string `json:"path"`
	// Started is the archive's manifest start time: it tells this run's
	// archive from an older one of the same name (a full export replaces
	// its predecessor).
	Started time.Time `json:"started"`
}

// Counts are what the last import put on (or found on) the targets.
type Counts struct {
	Messages int   `json:"messages"`
	Contacts int   `json:"contacts"`
	Events   int   `json:"events"`
	Present  int   `json:"present"`
	Failed   int   `json:"failed"`
	Bytes    int64 `json:"bytes"`
}

// Failure is one item or step that did not succeed, with a stable code
// (report.Code) and the prose.
type Failure struct {
	Step   string `json:"step"` // "export", "transfer", "import imap", ...
	Item   string `json:"item,omitempty"`
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// userDir is the user's directory under dir (Key): its state, and its
// import journals below it (journal.Path within).
func userDir(dir, user string) string { return filepath.Join(dir, Key(user)) }

// LoadState reads user's record from stateDir; a user never seen is
// queued.
func LoadState(stateDir, user string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(userDir(stateDir, user), statusFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return &State{User: user, Status: Queued}, nil
	}
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("state of %s: %w", user, err)
	}
	if s.User != user {
		return nil, fmt.Errorf("state of %s: the file says it is %q's", user, s.User)
	}
	return &s, nil
}

// saveState writes s atomically: a temporary file in the same directory,
// synced, renamed over the old record, and the directory synced.
func saveState(stateDir string, s *State) error {
	dir := userDir(stateDir, s.User)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	s.Updated = time.Now().UTC()
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(dir, statusFileName, append(b, '\n'))
}

// rename is os.Rename; a test makes it fail as a crash before the
// rename would.
var rename = os.Rename

// writeAtomic replaces dir/name with b, never leaving a torn file.
func writeAtomic(dir, name string, b []byte) error {
	f, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("state: write %s: %w", filepath.Join(dir, name), err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
