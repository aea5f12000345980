// Package report is the per-user import report that every importer fills
// and the command line prints: what was imported, what the target already
// had, what was skipped on purpose, and what failed with its reason.
package report

import (
	"fmt"
	"sync"
	"time"
)

// Report is one user's import into one target. Its methods are safe for
// concurrent use; read the fields only after Finish.
type Report struct {
	mu sync.Mutex

	Event    string    `json:"event"` // "import", for JSON-lines readers
	User     string    `json:"user"`
	Target   string    `json:"target"` // "imap://host:port", a DAV URL; never with credentials
	Kind     string    `json:"kind"`   // "imap", "dav"
	Archives []string  `json:"archives"`
	DryRun   bool      `json:"dryRun,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Seconds  float64   `json:"seconds"`

	Imported int   `json:"imported"` // sent and confirmed by the target
	Present  int   `json:"present"`  // already on the target (journal or check)
	Skipped  int   `json:"skipped"`  // left out on purpose (see Skips)
	Failed   int   `json:"failed"`   // not on the target (see Failures)
	Bytes    int64 `json:"bytes"`    // bytes sent

	Skips    map[string]int `json:"skips,omitempty"` // reason → count
	Failures []Failure      `json:"failures"`
	Notes    []string       `json:"notes,omitempty"` // folder mappings, conversions, throttling
	// Statement says in one sentence whether every item of the archives
	// is now on the target, or which are not.
	Statement string `json:"statement"`
}

// Failure is an item that is not on the target.
type Failure struct {
	Archive string `json:"archive,omitempty"`
	Folder  string `json:"folder,omitempty"`
	Item    string `json:"item"` // the item's source id
	Reason  string `json:"reason"`
}

// New starts a report.
func New(user, kind, target string, archives []string) *Report {
	return &Report{Event: "import", User: user, Kind: kind, Target: target,
		Archives: archives, Started: time.Now().UTC(), Failures: []Failure{}}
}

// AddImported counts an item sent and confirmed.
func (r *Report) AddImported(bytes int64) {
	r.mu.Lock()
	r.Imported++
	r.Bytes += bytes
	r.mu.Unlock()
}

// AddPresent counts an item the target already had.
func (r *Report) AddPresent() {
	r.mu.Lock()
	r.Present++
	r.mu.Unlock()
}

// AddSkipped counts an item left out on purpose.
func (r *Report) AddSkipped(reason string) {
	r.mu.Lock()
	if r.Skips == nil {
		r.Skips = map[string]int{}
	}
	r.Skips[reason]++
	r.Skipped++
	r.mu.Unlock()
}

// AddFailure records an item that is not on the target.
func (r *Report) AddFailure(f Failure) {
	r.mu.Lock()
	r.Failures = append(r.Failures, f)
	r.Failed++
	r.mu.Unlock()
}

// Note records a fact worth telling the administrator once.
func (r *Report) Note(format string, args ...any) {
	r.mu.Lock()
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// Finish stamps the end time and writes the closing statement.
func (r *Report) Finish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Finished = time.Now().UTC()
	r.Seconds = r.Finished.Sub(r.Started).Seconds()
	total := r.Imported + r.Present + r.Skipped + r.Failed
	switch {
	case r.DryRun:
		r.Statement = fmt.Sprintf("dry run: %d items would be imported, %d are already on the target; nothing was sent", r.Imported, r.Present)
	case r.Failed == 0:
		r.Statement = fmt.Sprintf("all %d items of the archives are on the target (%d imported now, %d already there, %d skipped on purpose)",
			total, r.Imported, r.Present, r.Skipped)
	default:
		r.Statement = fmt.Sprintf("%d of %d items are NOT on the target; each is listed under failures with its reason", r.Failed, total)
	}
}

// Partial reports whether some items failed.
func (r *Report) Partial() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.Failed > 0
}

// Line is the one-line terminal summary.
func (r *Report) Line() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprintf("%s: %d imported, %d already present, %d skipped, %d failed, %d bytes in %.1fs",
		r.User, r.Imported, r.Present, r.Skipped, r.Failed, r.Bytes, r.Seconds)
}
