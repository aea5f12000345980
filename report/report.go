// Package report is the one home of the per-user reports every stage
// writes and the command line prints: Export (what an export wrote and
// could not read), the transfer report, and Report, which every import
// target fills (what was imported, what the target already had, what was
// skipped on purpose, and what failed). Every failure and skip carries its
// prose reason and a stable Code (codes.go) for scripts and rollups;
// WriteFile is the one way a report reaches its file.
package report

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/mailhaul/mailhaul/format"
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

	// Status is "ok" (every item is on the target, or a dry run ended),
	// "partial" (some failed), "failed" (the run stopped early: see Stage
	// and Error) or "cancelled" (stopped by a signal or the caller).
	Status string `json:"status"`
	// Stage says where a run that stopped early was: "arguments",
	// "archives" (checking them before starting), "connect" (journal,
	// connection, login, discovery) or "import".
	Stage string `json:"stage,omitempty"`
	Error string `json:"error,omitempty"` // why the run stopped early
	// NextStep says what to do after a run that stopped early: run it
	// again only where that can finish it (see NextStep).
	NextStep string `json:"nextStep,omitempty"`

	Imported     int   `json:"imported"`              // sent and confirmed by the target
	WouldImport  int   `json:"wouldImport,omitempty"` // dry run: would be sent
	Present      int   `json:"present"`               // already on the target (journal or check)
	Skipped      int   `json:"skipped"`               // left out on purpose (see Skips)
	Failed       int   `json:"failed"`                // tried, and not on the target (see Failures)
	NotAttempted int   `json:"notAttempted"`          // read, but never sent: the run stopped first (see Unsent)
	Bytes        int64 `json:"bytes"`                 // bytes sent

	Skips     map[string]int `json:"skips,omitempty"`     // reason → count
	SkipCodes map[Code]int   `json:"skipCodes,omitempty"` // the same skips by code
	Failures  []Failure      `json:"failures"`
	Unsent    []Failure      `json:"unsent,omitempty"` // the items counted in NotAttempted
	Notes     []string       `json:"notes,omitempty"`  // folder mappings, conversions, throttling
	// FailedFolders counts folders the target refused to create, listed
	// under Failures with no Item: an empty one has no item to fail.
	FailedFolders int `json:"failedFolders,omitempty"`
	// Changes is what a delta's state record made of the items already on
	// the target (a cutover converging on the source); nil when no state
	// record was applied.
	Changes *Changes `json:"changes,omitempty"`
	// AllRead says every item of the archives was read, though the run
	// may have stopped before sending them all (see MarkAllRead).
	AllRead bool `json:"allRead,omitempty"`
	// Statement says in one sentence whether every item of the archives
	// is now on the target, or which are not.
	Statement string `json:"statement"`
}

// Changes counts what applying a delta's state record did to items an
// earlier import placed (FORMAT.md, "The state record"): the items the
// delta itself carries are counted as imported (added).
type Changes struct {
	Updated int `json:"updated"` // flags, keywords or content brought to the source's
	Moved   int `json:"moved"`   // moved to the source's folder
	Deleted int `json:"deleted"` // deleted, as at the source (--apply-deletions)
	// Conflicts are items the state would change that the target no
	// longer holds as mailhaul left them, or that mailhaul did not place:
	// left alone, each with its reason.
	Conflicts []Failure `json:"conflicts"`
	// WouldDelete are items deleted at the source and left on the target
	// because deletions were not asked for (--apply-deletions).
	WouldDelete []Failure `json:"wouldDelete"`
	// ItemsUpdated and ItemsInConflict are the items the archives carry
	// (a DAV delta's edited objects) that were updated, or left alone as
	// conflicts, instead of being imported or found present: they count
	// among the items of the archives. An update or conflict of an item
	// already counted (present) is not among them.
	ItemsUpdated    int `json:"itemsUpdated,omitempty"`
	ItemsInConflict int `json:"itemsInConflict,omitempty"`
}

// Failure is an item that is not on the target.
type Failure struct {
	Archive string `json:"archive,omitempty"`
	Folder  string `json:"folder,omitempty"`
	Item    string `json:"item"` // the item's source id; "" for a folder itself (see FailedFolders)
	Reason  string `json:"reason"`
	// Code is the reason's kind; left empty, the Add methods classify
	// the prose (Classify).
	Code Code `json:"code"`
}

// coded is f with its code, classified from the prose when not set.
func (f Failure) coded(def Code) Failure {
	if f.Code == "" {
		f.Code = def
		if def == "" {
			f.Code = Classify(f.Reason)
		}
	}
	return f
}

// New starts a report.
func New(user, kind, target string, archives []string) *Report {
	return &Report{Event: "import", User: user, Kind: kind, Target: target,
		Archives: archives, Started: time.Now().UTC(), Failures: []Failure{}}
}

// AddImported counts an item sent and confirmed; in a dry run, one that
// would be sent.
func (r *Report) AddImported(bytes int64) {
	r.mu.Lock()
	if r.DryRun {
		r.WouldImport++
	} else {
		r.Imported++
		r.Bytes += bytes
	}
	r.mu.Unlock()
}

// changes returns r.Changes, made on first use; the caller holds r.mu.
func (r *Report) changes() *Changes {
	if r.Changes == nil {
		r.Changes = &Changes{Conflicts: []Failure{}, WouldDelete: []Failure{}}
	}
	return r.Changes
}

// StateApplied records that a state record was applied, so that the
// statement speaks of it even when it changed nothing.
func (r *Report) StateApplied() {
	r.mu.Lock()
	r.changes()
	r.mu.Unlock()
}

// AddUpdated counts an item whose flags or content were brought to the
// source's.
func (r *Report) AddUpdated() {
	r.mu.Lock()
	r.changes().Updated++
	r.mu.Unlock()
}

// AddUpdatedItem counts an item the archives carry whose new version
// replaced the one an earlier import placed; it counts as an item of the
// archives, not as imported or present.
func (r *Report) AddUpdatedItem() {
	r.mu.Lock()
	c := r.changes()
	c.Updated++
	c.ItemsUpdated++
	r.mu.Unlock()
}

// AddMoved counts an item moved to the source's folder.
func (r *Report) AddMoved() {
	r.mu.Lock()
	r.changes().Moved++
	r.mu.Unlock()
}

// AddDeleted counts an item deleted on the target as at the source.
func (r *Report) AddDeleted() {
	r.mu.Lock()
	r.changes().Deleted++
	r.mu.Unlock()
}

// AddConflict records an item left alone because the target changed it
// since mailhaul placed it.
func (r *Report) AddConflict(f Failure) {
	r.mu.Lock()
	c := r.changes()
	c.Conflicts = append(c.Conflicts, f.coded(CodeConflict))
	r.mu.Unlock()
}

// AddConflictItem records an item the archives carry that was left
// alone because the target changed it since mailhaul placed it; it
// counts as an item of the archives, not as imported or present.
func (r *Report) AddConflictItem(f Failure) {
	r.mu.Lock()
	c := r.changes()
	c.Conflicts = append(c.Conflicts, f.coded(CodeConflict))
	c.ItemsInConflict++
	r.mu.Unlock()
}

// AddWouldDelete records an item deleted at the source that is left on
// the target because deletions were not asked for.
func (r *Report) AddWouldDelete(f Failure) {
	r.mu.Lock()
	c := r.changes()
	c.WouldDelete = append(c.WouldDelete, f.coded(CodeWouldDelete))
	r.mu.Unlock()
}

// changeWords is the statement's account of the state record applied, ""
// when none was; listed says the statement already named the conflicts'
// list. The caller holds r.mu.
func (r *Report) changeWords(listed bool) string {
	c := r.Changes
	if c == nil {
		return ""
	}
	w := fmt.Sprintf("; converging on the source's state: %d added, %d updated, %d moved, %d deleted, %d left alone as conflicts",
		r.Imported, c.Updated, c.Moved, c.Deleted, len(c.Conflicts))
	if r.DryRun {
		w = fmt.Sprintf("; converging on the source's state would make %d added, %d updated, %d moved, %d deleted, %d left alone as conflicts",
			r.WouldImport, c.Updated, c.Moved, c.Deleted, len(c.Conflicts))
	}
	if len(c.Conflicts) > 0 && !listed {
		w += " (listed under conflicts: the target differs from the source there)"
	}
	if n := len(c.WouldDelete); n > 0 {
		w += fmt.Sprintf("; %d deleted at the source are still on the target, listed under wouldDelete (--apply-deletions deletes them)", n)
	}
	return w
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
		r.Skips, r.SkipCodes = map[string]int{}, map[Code]int{}
	}
	r.Skips[reason]++
	r.SkipCodes[Classify(reason)]++
	r.Skipped++
	r.mu.Unlock()
}

// AddFailure records an item that is not on the target.
func (r *Report) AddFailure(f Failure) {
	r.mu.Lock()
	r.Failures = append(r.Failures, f.coded(""))
	r.Failed++
	r.mu.Unlock()
}

// AddFolderFailure records a folder that is not on the target (its items,
// if any, fail one by one as well).
func (r *Report) AddFolderFailure(f Failure) {
	r.mu.Lock()
	f.Item = ""
	r.Failures = append(r.Failures, f.coded(""))
	r.FailedFolders++
	r.mu.Unlock()
}

// AddNotAttempted records an item that was read but never sent because
// the run stopped first: it is not a failure of the item, and the next
// run sends it.
func (r *Report) AddNotAttempted(f Failure) {
	r.mu.Lock()
	r.Unsent = append(r.Unsent, f.coded(CodeNotSent))
	r.NotAttempted++
	r.mu.Unlock()
}

// Stop records that the run stopped early, at stage, because of err;
// cancelled says it was stopped on purpose (a signal, the caller's
// context). Call it before Finish.
func (r *Report) Stop(stage string, err error, cancelled bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Stage, r.Error = stage, err.Error()
	r.NextStep = NextStep(stage, err, cancelled)
	r.Status = "failed"
	if cancelled {
		r.Status = "cancelled"
	}
}

// StageFinish is the stage of a run that read and wrote every item and
// then failed to finish (a local restore writing what it gathered).
const StageFinish = "finish"

// MarkAllRead records that the importer read the archives to their end:
// a run stopped after that has accounted for every item.
func (r *Report) MarkAllRead() {
	r.mu.Lock()
	r.AllRead = true
	r.mu.Unlock()
}

// again is the advice where a re-run can finish the job: the journal and
// the target check keep it from sending anything twice.
const again = "run the import again to finish"

// NextStep is the one place that words what to do after a run stopped
// early at stage because of err. It says "run the import again to finish"
// only for causes a re-run can overcome: cancellation and a dropped or
// refused connection. For a permanent cause (a damaged archive, another
// user's archive, a wrong command line) it says what to do instead.
func NextStep(stage string, err error, cancelled bool) string {
	var adv *advised
	var dns *net.DNSError
	switch {
	case cancelled, errors.Is(err, context.Canceled):
		return again
	case errors.As(err, &adv):
		return adv.advice
	case errors.Is(err, format.ErrVersion):
		return "the archive was written by a newer mailhaul: import it with that version"
	case isDamaged(err):
		return "the archive is damaged and cannot be read past that point: export it again, or transfer it again and check it with mailhaul verify, then import the good copy (what is on the target stays, nothing is sent twice)"
	case stage == "arguments":
		return "correct the command line and run it again"
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		return "check the archive's path and permissions, then run the import again"
	case errors.As(err, &dns) && dns.IsNotFound:
		return "check the host name in --url"
	case NotTLS(err):
		return "the server does not speak TLS there: check the scheme and port of --url (https:// and imaps:// need the server's TLS port)"
	case UntrustedCert(err):
		return "the server's certificate is not trusted here: check the host in --url; if it is right, give the server's CA certificate with --tls-ca"
	case ConnectionFailed(err):
		return "the connection failed; " + again
	}
	return "remove the cause named above, then run the import again (what is on the target stays, nothing is sent twice)"
}

// ConnectionFailed reports whether err is a failure of the transport that
// a later try can overcome: a dropped, refused or timed-out connection.
// Not every net.Error is one: *url.Error wraps every HTTP client error,
// TLS verification failures included, so only what it wraps counts.
func ConnectionFailed(err error) bool {
	if err == nil || NotTLS(err) || UntrustedCert(err) {
		return false
	}
	var op *net.OpError
	var nerr net.Error
	return errors.As(err, &op) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ETIMEDOUT) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &nerr) && nerr.Timeout())
}

// NotTLS reports whether err says the server answered a TLS client in
// plain text: a wrong scheme or port, which no re-run overcomes.
func NotTLS(err error) bool {
	var rec tls.RecordHeaderError
	return errors.Is(err, http.ErrSchemeMismatch) || errors.As(err, &rec)
}

// UntrustedCert reports whether err is a failed verification of the
// server's certificate, which no re-run overcomes.
func UntrustedCert(err error) bool {
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid)
}

// isDamaged reports whether err says an archive cannot be read (FORMAT.md:
// a damaged archive), as opposed to a read error of the disk.
func isDamaged(err error) bool {
	for _, e := range []error{format.ErrChecksum, format.ErrTruncated, format.ErrIncomplete, format.ErrUnsafe,
		format.ErrTooLarge, format.ErrStructure, format.ErrCorrupt} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// advised is an error that carries what to do about it.
type advised struct {
	err    error
	advice string
}

func (a *advised) Error() string { return a.err.Error() }
func (a *advised) Unwrap() error { return a.err }

// WithAdvice attaches to err what the administrator should do about it;
// the statement of a run it stopped says so (NextStep).
func WithAdvice(err error, advice string) error { return &advised{err, advice} }

// Note records a fact worth telling the administrator once.
func (r *Report) Note(format string, args ...any) {
	r.mu.Lock()
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// Finish stamps the end time, the status and the closing statement.
func (r *Report) Finish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Finished = time.Now().UTC()
	r.Seconds = r.Finished.Sub(r.Started).Seconds()
	total := r.Imported + r.Present + r.Skipped + r.Failed
	conflicts := 0
	if c := r.Changes; c != nil {
		total += c.ItemsUpdated + c.ItemsInConflict
		conflicts = len(c.Conflicts)
	}
	listed := false // the statement named the conflicts' list already
	so := fmt.Sprintf("%d imported, %d already there, %d failed, %d not attempted", r.Imported, r.Present, r.Failed, r.NotAttempted)
	switch {
	case r.Status == "cancelled":
		rest := "the rest of the archives was not read"
		if r.AllRead {
			rest = "every item of the archives was read"
		}
		r.Statement = fmt.Sprintf("the run was cancelled and stopped early (%s): %d items read were not attempted and %s; %s (%s so far)",
			r.Error, r.NotAttempted, rest, r.NextStep, so)
	case r.Status == "failed" && r.AllRead:
		// Every item was accounted for: say so, not that some went unread.
		what := "the run stopped early"
		if r.Stage == StageFinish {
			what = "its finishing step failed"
		}
		if r.NotAttempted > 0 {
			what += fmt.Sprintf(" and %d items read were not attempted", r.NotAttempted)
		}
		r.Statement = fmt.Sprintf("every item of the archives was read, but %s (%s: %s); %s (%s so far)",
			what, r.Stage, r.Error, r.NextStep, so)
	case r.Status == "failed":
		r.Statement = fmt.Sprintf("the run stopped early (%s: %s): the rest of the archives was not imported; %s (%s so far)",
			r.Stage, r.Error, r.NextStep, so)
	case r.DryRun:
		r.Status = "ok"
		r.Statement = fmt.Sprintf("dry run: %d items would be imported, %d are already on the target; nothing was sent", r.WouldImport, r.Present)
	case r.Failed == 0 && r.FailedFolders == 0 && r.NotAttempted == 0 && conflicts > 0:
		// Conflicts are deliberate (exit 0), but there the target keeps
		// its own version: never "all".
		r.Status, listed = "ok", true
		r.Statement = fmt.Sprintf("not all %d items of the archives are on the target in the source's version: %d left alone as conflicts keep the target's version, each listed under conflicts with its reason %s",
			total, conflicts, r.itemWords())
	case r.Failed == 0 && r.FailedFolders == 0 && r.NotAttempted == 0 && r.Changes != nil:
		r.Status = "ok"
		r.Statement = fmt.Sprintf("all %d items of the archives are on the target in the source's version %s", total, r.itemWords())
	case r.Failed == 0 && r.FailedFolders == 0 && r.NotAttempted == 0:
		r.Status = "ok"
		r.Statement = fmt.Sprintf("all %d items of the archives are on the target %s", total, r.itemWords())
	case r.Failed == 0 && r.NotAttempted == 0:
		r.Status = "partial"
		r.Statement = fmt.Sprintf("%d empty folders of the archives are NOT on the target, each listed under failures with its reason; every item is (%d imported now, %d already there, %d skipped on purpose)",
			r.FailedFolders, r.Imported, r.Present, r.Skipped)
	default:
		r.Status = "partial"
		r.Statement = fmt.Sprintf("%d of %d items are NOT on the target; each is listed under failures with its reason", r.Failed, total)
		if r.NotAttempted > 0 {
			r.Statement = fmt.Sprintf("%d of %d items are NOT on the target; each is listed under failures or unsent with its reason",
				r.Failed+r.NotAttempted, total+r.NotAttempted)
		}
		if r.FailedFolders > 0 {
			r.Statement += fmt.Sprintf(", as are %d folders", r.FailedFolders)
		}
	}
	r.Statement += r.changeWords(listed)
}

// itemWords is the statement's breakdown of the items of the archives;
// the caller holds r.mu.
func (r *Report) itemWords() string {
	w := fmt.Sprintf("(%d imported now, %d already there", r.Imported, r.Present)
	if c := r.Changes; c != nil && c.ItemsUpdated > 0 {
		w += fmt.Sprintf(", %d updated", c.ItemsUpdated)
	}
	if c := r.Changes; c != nil && c.ItemsInConflict > 0 {
		w += fmt.Sprintf(", %d left as conflicts", c.ItemsInConflict)
	}
	return w + fmt.Sprintf(", %d skipped on purpose)", r.Skipped)
}

// Partial reports whether some items failed or were not attempted.
func (r *Report) Partial() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.Failed > 0 || r.NotAttempted > 0 || r.FailedFolders > 0
}

// Line is the one-line terminal summary.
func (r *Report) Line() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.DryRun {
		return fmt.Sprintf("%s: dry run: %d would be imported, %d already present, %d skipped, %d failed",
			r.User, r.WouldImport, r.Present, r.Skipped, r.Failed)
	}
	line := fmt.Sprintf("%s: %d imported, %d already present, %d skipped, %d failed", r.User, r.Imported, r.Present, r.Skipped, r.Failed)
	if r.FailedFolders > 0 {
		line += fmt.Sprintf(", %d folders failed", r.FailedFolders)
	}
	if r.NotAttempted > 0 {
		line += fmt.Sprintf(", %d not attempted", r.NotAttempted)
	}
	if c := r.Changes; c != nil {
		line += fmt.Sprintf(", %d updated, %d moved, %d deleted, %d conflicts", c.Updated, c.Moved, c.Deleted, len(c.Conflicts))
		if r.DryRun {
			line += " (in a dry run: none made)"
		}
		if n := len(c.WouldDelete); n > 0 {
			line += fmt.Sprintf(", %d would be deleted", n)
		}
	}
	return line + fmt.Sprintf(", %d bytes in %.1fs", r.Bytes, r.Seconds)
}
