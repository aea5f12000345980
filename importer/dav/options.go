package dav

import (
	"io"
	"net/http"
)

// Options say where and how to import.
type Options struct {
	// URL is the server's base URL; discovery starts from its
	// .well-known entries. CardDAV and CalDAV, when set, are the address
	// book and calendar home sets and skip discovery for that service.
	URL, CardDAV, CalDAV string

	// User and Password authenticate with HTTP Basic; Token, when set,
	// is sent as a Bearer token instead. None of them is ever logged.
	User, Password, Token string

	// AllowPlaintext lets the credentials go over http:// to a host other
	// than loopback (they travel in clear). Without it such a URL is
	// refused, and a discovered or redirected one gets no credentials.
	AllowPlaintext bool

	// HTTPClient carries the requests (TLS settings, proxies); nil means
	// a client with verified TLS and kept-alive connections.
	HTTPClient *http.Client

	// Concurrency is the number of PUTs in flight; 0 means 2. Radicale and
	// Xandikos serialise writes behind one lock, so more workers only
	// queue there (see README.md).
	Concurrency int

	// Update replaces objects the target already has (If-Match on their
	// ETag) instead of leaving them alone.
	Update bool

	// DryRun sends nothing that changes the target: it resolves the
	// collections, looks at what the target holds and writes the plan.
	DryRun bool
	Plan   io.Writer // where a dry run's plan goes; nil discards it

	// StateDir holds the per-user journal; "" keeps none (a re-run is
	// still safe, only slower: every object is asked for again). The
	// command gives journal.DefaultDir: beside the first archive unless
	// --state names a directory, as for import imap.
	StateDir string

	// Schedule decides when ORGANIZER and ATTENDEE get
	// SCHEDULE-AGENT=CLIENT: ScheduleAuto (when the server advertises
	// calendar-auto-schedule), ScheduleAlways or ScheduleNever.
	Schedule ScheduleGuard

	Retry RetryPolicy

	// Bulk decides whether an address book this run creates may be filled
	// with one whole-collection PUT: BulkAuto (only when the server is
	// Radicale) or BulkNever. See bulk.go and README.md.
	Bulk BulkMode

	// MapCollection sends an archive address book or calendar (by path
	// or display name) to a target collection: a path ("/dav/u/work/",
	// or relative to the home set, ending in "/") or a display name. A
	// collection that does not exist there is created.
	MapCollection map[string]string

	// Progress, when not nil, is called after each object with the
	// number of objects handled so far. It must be quick.
	Progress func(done int)
}

// ScheduleGuard selects the RFC 6638 guard.
type ScheduleGuard string

const (
	ScheduleAuto   ScheduleGuard = ""
	ScheduleAlways ScheduleGuard = "always"
	ScheduleNever  ScheduleGuard = "never"
)

// BulkMode selects Radicale's whole-collection upload.
type BulkMode string

const (
	BulkAuto  BulkMode = ""
	BulkNever BulkMode = "never"
)

func (o Options) concurrency() int {
	if o.Concurrency <= 0 {
		return 2
	}
	return o.Concurrency
}
