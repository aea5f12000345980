// Package journal records where each archive item landed on a target, so
// an import can be re-run, resumed after a crash, or fed a delta archive
// that overlaps the full one without creating anything twice.
//
// The journal is an append-only file of JSON lines, one per event. Before
// an item is sent, the importer records an intent (Begin); when the target
// has confirmed it, the outcome (Done). An intent without an outcome after
// a crash means "maybe sent": the importer must look on the target before
// sending that item again. A torn last line, as a kill can leave, is
// ignored when the journal is read back.
package journal

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/mailhaul/mailhaul/internal/safename"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Key identifies an item: for a message, a hash of its target mailbox,
// its sourceId and its bytes (journals written before issue 9 used the
// mailbox and bytes alone; the IMAP importer still honours those); for a
// contact or calendar object, a hash of its collection and UID.
type Key [32]byte

func (k Key) String() string { return hex.EncodeToString(k[:]) }

// MarshalText and UnmarshalText store a Key as hex.
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

func (k *Key) UnmarshalText(b []byte) error {
	if hex.DecodedLen(len(b)) != len(k) {
		return fmt.Errorf("journal: key %q is not 64 hex digits", b)
	}
	_, err := hex.Decode(k[:], b)
	return err
}

// State is how far an item got.
type State string

const (
	Pending State = "pending" // about to be sent; may or may not have arrived
	Done    State = "done"    // the target confirmed it (or already had it)
	// Gone: mailhaul deleted it from the target because the source had
	// deleted it (a delta's state record, --apply-deletions): an archive
	// that still holds it must not bring it back.
	Gone State = "gone"
)

// Record is one item's latest known state on the target.
type Record struct {
	Key   Key       `json:"key"`
	State State     `json:"state"`
	Where string    `json:"where"`          // mailbox name, or collection URL
	Ref   string    `json:"ref,omitempty"`  // target's reference: "UIDVALIDITY:UID" for IMAP, an href for DAV
	ETag  string    `json:"etag,omitempty"` // DAV ETag when known
	At    time.Time `json:"at"`
	// What a cutover needs of an item placed on the target (a delta's
	// state record, FORMAT.md): its sourceId and folder in the archives,
	// the flags mailhaul last set, its Message-ID and size. Flags are
	// meaningful only with Source (empty: none); records without Source
	// (older journals, items found rather than placed) are left alone.
	Source    string   `json:"source,omitempty"`
	Folder    string   `json:"folder,omitempty"`
	Flags     []string `json:"flags,omitempty"`
	MessageID string   `json:"messageId,omitempty"`
	Size      int64    `json:"size,omitempty"`
}

// Journal is one user's journal for one target. It is safe for concurrent
// use.
type Journal struct {
	mu sync.Mutex
	f  *os.File
	w  *bufio.Writer
	// state is each known item's state (see the stateX constants). Only
	// that is kept in memory, about 60 bytes an item where whole records
	// took 265; the rest stays in the file.
	state map[Key]uint8
	path  string
	// readOnly is set by OpenReadOnly: w is nil, and f too when the
	// journal does not exist.
	readOnly bool
}

const (
	statePending uint8 = iota
	stateDone          // Done, with no Ref
	statePlaced        // Done, with the Ref telling where
	stateGone          // Gone
)

func stateOf(r Record) uint8 {
	switch {
	case r.State == Gone:
		return stateGone
	case r.State != Done:
		return statePending
	case r.Ref == "":
		return stateDone
	}
	return statePlaced
}

// Open opens or creates the journal at path and reads what it holds.
// The directory is made 0700 and the file 0600: a journal names
// mailboxes and message ids. When they cannot be made (a read-only
// archive directory, where DefaultDir puts them), the error says how to
// keep the journal elsewhere.
func Open(path string) (*Journal, error) {
	const hint = "pass --state DIR to keep the journal in a writable directory"
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w; %s", err, hint)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: %w; %s", err, hint)
	}
	j := &Journal{f: f, state: map[Key]uint8{}, path: path}
	good, err := j.load()
	if err != nil {
		f.Close()
		return nil, err
	}
	// Drop a torn tail so that new lines start on a line of their own.
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %s: %w", path, err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %s: %w", path, err)
	}
	j.w = bufio.NewWriter(f)
	return j, nil
}

// OpenReadOnly reads the journal at path, for a dry run, which writes
// nothing: a missing journal is an empty one and is not created, and
// Write fails.
func OpenReadOnly(path string) (*Journal, error) {
	j := &Journal{state: map[Key]uint8{}, path: path, readOnly: true}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j.f = f
	if _, err := j.load(); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

// load reads every complete line and returns the offset after the last.
func (j *Journal) load() (int64, error) {
	return scan(j.f, j.path, func(rec Record) { j.state[rec.Key] = stateOf(rec) })
}

// scan calls fn with each complete line's record, in order, and returns
// the offset after the last complete line.
func scan(f io.Reader, path string, fn func(Record)) (int64, error) {
	r := bufio.NewReaderSize(f, 64<<10)
	var off int64
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return off, nil // a line without its newline is torn: ignore it
		}
		if err != nil {
			return 0, fmt.Errorf("journal: read %s: %w", path, err)
		}
		var rec Record
		if err := json.Unmarshal(bytes.TrimSpace(line), &rec); err != nil {
			return 0, fmt.Errorf("journal: %s line %d: %w", path, n, err)
		}
		fn(rec)
		off += int64(len(line))
	}
}

// Records reads the journal at path whole: each item's latest record,
// with where it landed. For inspection and tests; an import keeps only
// the states in memory.
func Records(path string) (map[Key]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	recs := map[Key]Record{}
	_, err = scan(f, path, func(rec Record) { recs[rec.Key] = rec })
	return recs, err
}

// Lookup returns the latest state of k.
func (j *Journal) Lookup(k Key) (State, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	st, ok := j.state[k]
	switch st {
	case statePending:
		return Pending, ok
	case stateGone:
		return Gone, ok
	}
	return Done, ok
}

// Placed reports whether k is Done with a Ref, so that Scan finds where
// on the target it is.
func (j *Journal) Placed(k Key) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.state[k] == statePlaced
}

// HasPending reports whether an item may or may not have arrived.
func (j *Journal) HasPending() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, st := range j.state {
		if st == statePending {
			return true
		}
	}
	return false
}

// Len is the number of items the journal knows.
func (j *Journal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.state)
}

// Scan calls fn with every record written so far, in order (an item's
// latest record last), reading them from the file: for a caller that needs
// more than the states, once, without holding every record in memory.
func (j *Journal) Scan(fn func(Record)) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.readOnly && j.f == nil {
		return nil
	}
	if !j.readOnly {
		if err := j.w.Flush(); err != nil {
			return fmt.Errorf("journal: %s: %w", j.path, err)
		}
	}
	f, err := os.Open(j.path)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	_, err = scan(f, j.path, fn)
	return err
}

// Write appends records and makes them durable before returning: an intent
// must be on disk before its item is sent, an outcome before the importer
// reports it.
func (j *Journal) Write(recs ...Record) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.readOnly {
		return fmt.Errorf("journal: %s is open read-only (a dry run writes nothing)", j.path)
	}
	now := time.Now().UTC()
	enc := json.NewEncoder(j.w)
	for _, r := range recs {
		if r.At.IsZero() {
			r.At = now
		}
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("journal: %s: %w", j.path, err)
		}
		j.state[r.Key] = stateOf(r)
	}
	if err := j.w.Flush(); err != nil {
		return fmt.Errorf("journal: %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal: %s: %w", j.path, err)
	}
	return nil
}

// Close closes the journal file.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.readOnly {
		if j.f == nil {
			return nil
		}
		return j.f.Close()
	}
	if err := j.w.Flush(); err != nil {
		j.f.Close()
		return err
	}
	return j.f.Close()
}

// Select reads the journal's file back and returns the latest record of
// each item whose records keep accepts. Memory holds only states; this is
// for the few records whose Where an importer needs again (the DAV
// importer's collections), read once per run.
func (j *Journal) Select(keep func(Record) bool) (map[Key]Record, error) {
	out := map[Key]Record{}
	err := j.Scan(func(rec Record) {
		if keep(rec) {
			out[rec.Key] = rec
		}
	})
	return out, err
}

// SpoolDir is where an importer spools what it cannot keep in memory (a
// state record, bodies waiting for a bulk upload; files unlinked or
// removed at once): beside the journal at path, in the directory the user
// named, not the OS's temporary directory, which may be small, shared or
// not writable. Until that directory exists (a dry run creates nothing),
// the first of DefaultDir's and the first archive's that does.
func SpoolDir(path, stateDir string, archives []string) string {
	dirs := []string{DefaultDir(stateDir, archives)}
	if path != "" {
		dirs = append([]string{filepath.Dir(path)}, dirs...)
	}
	if len(archives) > 0 {
		dirs = append(dirs, filepath.Dir(archives[0]))
	}
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			return dir
		}
	}
	return dirs[0]
}

// DefaultDir is the directory an importer keeps its journal in: stateDir
// when the user gave one, else the first archive's directory, so that
// running the same command again (or with a delta beside the full
// archive) finds the journal without being told. import imap and import
// dav share this rule.
func DefaultDir(stateDir string, archives []string) string {
	if stateDir != "" || len(archives) == 0 {
		return stateDir
	}
	return filepath.Dir(archives[0])
}

// Path is where every importer keeps one user's journal for one target:
// <stateDir>/<user>/<kind>-<target>.journal, kind being "imap", "dav",
// "maildir", ...; target the server's host:port or the restore directory.
// stateDir comes from DefaultDir, so the rule is the same for all.
func Path(stateDir, user, kind, target string) string {
	return filepath.Join(stateDir, safename.Element(user), kind+"-"+safename.Element(target)+".journal")
}
