package imap

import (
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/ratelimit"
)

// Options configure the import into one IMAP account; what the run reads
// and where it keeps its journal come with each importer.Request.
type Options struct {
	// Account is how every connection reaches the server and logs in. Its
	// User, when empty, is the request's; its Timeout, when zero,
	// Options.Timeout.
	Account  imapconn.Account
	Provider string // a profile name (see ProfileNames)
	// FolderMap rewrites source folder paths before anything else; see
	// ParseFolderMap.
	FolderMap []FolderRule
	// Connections overrides the profile's number of connections.
	Connections int
	// ErrorBudget overrides the NO/BAD answers a connection may collect
	// before it is replaced.
	ErrorBudget int
	// BatchMessages and BatchBytes bound one MULTIAPPEND (defaults 50 and
	// 8 MiB).
	BatchMessages int
	BatchBytes    int64
	// MaxBackoff caps a pause the importer picks itself; a server's own
	// "back off N ms" is honoured whatever its length.
	MaxBackoff time.Duration
	// Timeout bounds connecting and waiting for any single answer.
	Timeout time.Duration
	// Settle is how long a command whose connection died (or whose
	// process was killed) may still land on the server: a server that has
	// received a whole APPEND goes on to store it after the client is
	// gone. Such messages are looked for on the target only once this has
	// passed, so the check sees them. Default 5 s.
	Settle time.Duration
	// Limits are the flow controls the run takes part in.
	Limits Limits

	// readDone, if set (by tests), is called as the reading of the
	// archives ends, before the run waits for its batches: a test stops
	// a run on that event rather than after a guessed time.
	readDone func()
	// changeSent, if set (by tests), is called after each batch of a
	// cutover's changes was answered: a test changes the target between
	// two batches there.
	changeSent func()
}

// Limits are passed in, not made by the run, so that the runs of many
// users on one server can share them (one connection cap, one throttling
// window). A nil field is made for this run alone.
type Limits struct {
	// Window is the AIMD window of APPEND commands in flight, which
	// throttling, dropped connections and rising latency shrink. A run
	// widens it to its connections times their pipelining depth.
	Window *ratelimit.AIMD
	// Conns caps the append connections open at once, one unit each
	// (besides every run's own Connections), shared by every run given
	// it. A run's lines each take theirs before their first batch, and
	// only once a batch waits that the lines begun cannot take (a run
	// with nothing to append takes none), so a line waiting holds no
	// batch and runs sharing one cap never wait on each other; an idle
	// line keeps its unit across reconnects until the run's work is over. (A connection retired with commands
	// in flight waits for their answers beside its replacement.)
	Conns *semaphore.Weighted
	// Pacer holds the upload to a byte and message rate.
	Pacer *ratelimit.Pacer
}

func (o *Options) check() error { return o.Account.Check() }

func (o *Options) defaults(p Profile) {
	if o.Connections <= 0 {
		o.Connections = p.Connections
	}
	if p.MaxConnections > 0 && o.Connections > p.MaxConnections {
		o.Connections = p.MaxConnections
	}
	if o.ErrorBudget <= 0 {
		o.ErrorBudget = p.ErrorBudget
	}
	if o.BatchMessages <= 0 {
		o.BatchMessages = 50
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 8 << 20
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.Account.Timeout <= 0 {
		o.Account.Timeout = o.Timeout
	}
	if o.Settle <= 0 {
		o.Settle = 5 * time.Second
	}
	if o.Limits.Window == nil {
		o.Limits.Window = ratelimit.NewAIMD(1, 1, 1) // widened once the capabilities are known
	}
}
