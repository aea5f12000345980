package dav

import (
	"crypto/x509"
	"net/http"

	"github.com/mailhaul/mailhaul/internal/retry"
)

// Options say where and how to import; the archives, the journal
// directory, the dry run and the progress come with each
// importer.Request.
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

	// RootCAs verify the server's certificate (--tls-ca); nil: the
	// system's roots.
	RootCAs *x509.CertPool
	// Transport replaces the HTTP transport davclient builds (tests,
	// proxies); retries are laid over it either way.
	Transport http.RoundTripper

	// Concurrency is the number of PUTs in flight; 0 means 2. Radicale and
	// Xandikos serialise writes behind one lock, so more workers only
	// queue there (see README.md).
	Concurrency int

	// Update replaces objects the target already has (If-Match on their
	// ETag) instead of leaving them alone.
	Update bool

	// PreferSource applies a delta's edit to an object that was also
	// changed (or removed) on the target since mailhaul put it there;
	// without it such an object is a conflict, reported and left alone.
	PreferSource bool

	// Schedule decides when ORGANIZER and ATTENDEE get
	// SCHEDULE-AGENT=CLIENT: ScheduleAuto (when the server advertises
	// calendar-auto-schedule), ScheduleAlways or ScheduleNever.
	Schedule ScheduleGuard

	// Retry bounds how a request is repeated after a 5xx, a 429 or a
	// dropped connection; zero fields take davclient.DefaultLoop's.
	Retry retry.Loop

	// Bulk decides whether an address book this run creates may be filled
	// with one whole-collection PUT: BulkAuto (only when the server is
	// Radicale) or BulkNever. See bulk.go and README.md.
	Bulk BulkMode

	// MapCollection sends an archive address book or calendar (by path
	// or display name) to a target collection: a path ("/dav/u/work/",
	// or relative to the home set, ending in "/") or a display name. A
	// collection that does not exist there is created.
	MapCollection map[string]string
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
