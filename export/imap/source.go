// Package imap exports a mailbox from any IMAP server (Dovecot, Cyrus,
// Exchange, Office 365, a hosted provider) into an archive: every folder
// LIST shows (special-use roles, subscriptions, the hierarchy separator
// turned into "/", names as go-imap decodes them from modified UTF-7,
// empty folders too) and every message byte for byte, with its flags,
// keywords and INTERNALDATE as the received time.
//
// Connections come from internal/imapconn (Dial, login, SASL, the
// plaintext rule, the provider's limits); go-imap v2 runs the commands
// on them. Folders are spread over parallel connections, at most the
// provider's cap; the Sink is written by one connection at a time.
//
// A folder is read in UID chunks: a small FETCH of UID, FLAGS,
// INTERNALDATE, RFC822.SIZE and the Message-ID header for the chunk,
// then a FETCH of BODY.PEEK[] whose literals are streamed into the Sink
// one message at a time, so memory stays flat whatever the message or
// folder size. The Sink stores a message only once its literal was read
// whole; a connection that drops mid-literal stores nothing of it.
//
// Each chunk is one retry.Do: a dropped connection (or a server that
// throttles, honouring Office 365's "Suggested Backoff Time") redials,
// selects the folder again, checks that UIDVALIDITY is unchanged, and
// goes on with the chunk's UIDs not stored yet, so nothing is exported
// twice and nothing is skipped. A changed UIDVALIDITY means the UIDs
// already stored name other messages now: the folder's remaining
// messages are reported as not exported (sink.AddError, naming the old
// and new UIDVALIDITY) and the export goes on with the other folders;
// a new run exports the folder whole. A message listed but left out of a
// FETCH answered OK is looked for with UID SEARCH: counted as expunged
// only when it is gone, else reported. A chunk's FETCH that fails other
// than for load (a NO, or a session ended, as Dovecot ends it on a
// message it cannot read) goes on one message at a time: a message
// refused with a NO is reported by folder and UID at once, one whose
// FETCH fails on every try of the retry loop after them; the others go
// on. Each connection counts its NO/BAD answers and is replaced before
// the provider's error budget runs out (Exchange drops a connection at
// the tenth). A connection that cannot be made once the retries ran out
// ends the export: no folder could go on.
//
// With a cutoff (export.Options.After), SEARCH SINCE the day before is
// the coarse server-side filter (SINCE compares dates in the server's
// zone) and the exact INTERNALDATE test is export.Options.Keep; the
// messages SEARCH left out are counted as skipped before the cutoff.
// Each folder's UIDVALIDITY, UIDNEXT and, where the server offers
// CONDSTORE, HIGHESTMODSEQ are recorded in the archive (format.Folder.IMAP,
// read with STATUS before the folder's messages) for a later delta.
//
// Gmail (a server offering X-GM-EXT-1) shows each label as a folder and
// every message once in [Gmail]/All Mail: when the \All folder is among
// those exported, each message is read once from it and stored under its
// first label's folder with its other label folders in the item's labels
// field; the label folders are recorded but not read again (their
// messages counted as SkipGmailLabel). See gmail.go. Without the \All
// folder (hidden, or left out by --folder/--exclude) each label is
// exported as its folder, a warning says so.
package imap

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/ratelimit"
	"github.com/mailhaul/mailhaul/internal/retry"
)

// Source is one user's mailbox on an IMAP server.
type Source struct {
	Account imapconn.Account
	// Limits are the provider's (imapconn.ProviderLimits): the default
	// and the cap of parallel connections, and the error budget.
	Limits imapconn.Limits
	// Connections asks for this many parallel connections (0: the
	// provider's default); never more than Limits.MaxConnections.
	Connections int
	// Folders, when set, keeps only folders matching one of these
	// path.Match patterns on the archive path ("/" between levels), and
	// the folders below them; Exclude leaves out the matching ones and
	// those below them.
	Folders, Exclude []string
	// Chunk is how many UIDs one FETCH asks for (default 256).
	Chunk int
	// Pacer, when set, holds reads to a byte and message rate.
	Pacer *ratelimit.Pacer
	// Retry is the loop each chunk runs in (its OnRetry logs).
	Retry retry.Loop
	// Dial replaces imapconn.Dial (tests).
	Dial func(ctx context.Context, a imapconn.Account) (*imapconn.Conn, error)

	unmatched []string // Folders patterns no folder matched
	gmail     *gmail   // set when the mailbox is Gmail's (gmail.go)
	gmailNote string   // why a Gmail mailbox is exported folder by folder
}

// folder is one folder to export and how far its export came.
type folder struct {
	name  string // the server's name (decoded)
	attrs []imap.MailboxAttr
	rec   format.Folder
	uids  []imap.UID // to export, ascending; nil until searched
	pos   int        // uids[:pos] are done
	// done holds the UIDs of the current chunk stored (or reported).
	done        map[imap.UID]bool
	uidValidity uint32
	failed      bool // reported whole; nothing more to do
	// oneByOne: a FETCH of the current chunk failed, so its messages
	// are fetched one at a time; current is the one being fetched.
	oneByOne bool
	current  imap.UID
}

// Export writes every selected folder and its messages into sink.
func (s *Source) Export(ctx context.Context, sink export.Sink, opt export.Options) error {
	cp := *s // this run's defaults and state, so a Source can run again
	s = &cp
	if s.Dial == nil {
		s.Dial = imapconn.Dial
	}
	if s.Chunk <= 0 {
		s.Chunk = 256
	}
	if err := s.checkPatterns(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	first := &conn{src: s}
	var folders, work []*folder
	err := retry.Do(ctx, s.Retry, func(ctx context.Context, _ int) error {
		if err := first.open(ctx); err != nil {
			return err
		}
		var err error
		folders, err = s.list(first)
		if err == nil {
			work, err = s.gmailPlan(first, folders)
		}
		if err != nil {
			first.drop()
		}
		return err
	})
	if err != nil {
		first.drop()
		return fmt.Errorf("list the folders of %s: %w", s.Account.User, err)
	}
	out := &lockedSink{Sink: sink}
	for _, f := range folders {
		if err := out.AddFolder(f.rec); err != nil {
			first.drop()
			return err
		}
	}
	for _, pat := range s.unmatched {
		sink.AddWarning(format.Problem{Item: "--folder " + pat, Reason: "matches no folder of " + s.Account.User})
	}
	if s.gmailNote != "" {
		sink.AddWarning(format.Problem{Item: "(Gmail labels)", Reason: s.gmailNote})
	}
	n := s.Connections
	if n <= 0 {
		n = max(s.Limits.Connections, 1)
	}
	if s.Limits.MaxConnections > 0 {
		n = min(n, s.Limits.MaxConnections)
	}
	n = max(1, min(n, len(work)))
	todo := make(chan *folder)
	var wg sync.WaitGroup
	for i := range n {
		c := first
		if i > 0 {
			c = &conn{src: s}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.drop()
			for f := range todo {
				if err := s.exportFolder(ctx, c, out, f, opt); err != nil {
					cancel(err)
				}
			}
		}()
	}
	for _, f := range work {
		select {
		case todo <- f:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(todo)
	wg.Wait()
	if s.gmail != nil {
		s.gmail.finish(out)
	}
	return context.Cause(ctx)
}

// list reads the folders to export: LIST with the special-use and
// subscription returns where the server has LIST-EXTENDED.
func (s *Source) list(c *conn) ([]*folder, error) {
	caps := c.cl.Caps()
	var lo *imap.ListOptions
	if caps.Has(imap.CapListExtended) || caps.Has(imap.CapIMAP4rev2) {
		lo = &imap.ListOptions{ReturnSubscribed: true, ReturnSpecialUse: caps.Has(imap.CapSpecialUse)}
	}
	list, err := c.cl.List("", "*", lo).Collect()
	if err != nil {
		return nil, c.fail(err)
	}
	slices.SortFunc(list, func(a, b *imap.ListData) int { return strings.Compare(a.Mailbox, b.Mailbox) })
	specialUse := false
	for _, l := range list {
		if role(l.Attrs) != format.RoleNone {
			specialUse = true
		}
	}
	var namer format.FolderNamer
	var out []*folder
	used := map[int]bool{}
	for _, l := range list {
		if slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) || slices.Contains(l.Attrs, imap.MailboxAttrNonExistent) {
			continue // a level of the hierarchy, not a mailbox
		}
		p, note := archivePath(l.Mailbox, l.Delim)
		if !s.selected(p, used) {
			continue
		}
		safe, note2 := export.SafeFolderPath(&namer, p)
		rec := format.Folder{Kind: format.FolderMail, Path: safe, Role: role(l.Attrs),
			Subscribed: slices.Contains(l.Attrs, imap.MailboxAttrSubscribed)}
		if l.Mailbox == "INBOX" {
			rec.Role = format.RoleInbox
		} else if !specialUse && !strings.Contains(p, "/") {
			rec.Role = export.RoleForName(p)
		}
		for _, n := range []string{note, note2} {
			if n != "" {
				rec.Notes = append(rec.Notes, n)
			}
		}
		out = append(out, &folder{name: l.Mailbox, attrs: l.Attrs, rec: rec})
	}
	for _, f := range out {
		if err := s.status(c, f); err != nil && !refusedForGood(err) {
			return nil, err
		}
	}
	s.unmatched = nil
	for i, pat := range s.Folders {
		if !used[i] {
			s.unmatched = append(s.unmatched, pat)
		}
	}
	return out, nil
}

// archivePath turns a mailbox name into an archive path: its levels
// joined by "/". A "/" inside a level (a server whose separator is ".")
// becomes "_", noted.
func archivePath(name string, delim rune) (string, string) {
	if delim == 0 || delim == '/' {
		return name, ""
	}
	levels := strings.Split(name, string(delim))
	changed := false
	for i, l := range levels {
		if strings.Contains(l, "/") {
			levels[i], changed = strings.ReplaceAll(l, "/", "_"), true
		}
	}
	p := strings.Join(levels, "/")
	if changed {
		return p, fmt.Sprintf("mailbox %q has a \"/\" inside a level (separator %q); exported as %q", name, string(delim), p)
	}
	return p, ""
}

// role is a folder's special use (RFC 6154).
func role(attrs []imap.MailboxAttr) format.Role {
	for _, a := range attrs {
		switch imap.MailboxAttr(strings.ToLower(string(a))) {
		case `\sent`:
			return format.RoleSent
		case `\drafts`:
			return format.RoleDrafts
		case `\trash`:
			return format.RoleTrash
		case `\junk`:
			return format.RoleJunk
		case `\archive`:
			return format.RoleArchive
		}
	}
	return format.RoleNone
}

// selected applies --folder and --exclude to an archive path, marking
// in used the Folders patterns that matched.
func (s *Source) selected(p string, used map[int]bool) bool {
	match := func(patterns []string, used map[int]bool) bool {
		hit := false
		for i, pat := range patterns {
			for q := p; ; {
				if ok, _ := path.Match(pat, q); ok {
					hit = true
					if used != nil {
						used[i] = true
					}
					break
				}
				i := strings.LastIndexByte(q, '/')
				if i < 0 {
					break
				}
				q = q[:i]
			}
		}
		return hit
	}
	if len(s.Folders) > 0 && !match(s.Folders, used) {
		return false
	}
	return !match(s.Exclude, nil)
}

// checkPatterns refuses a --folder or --exclude pattern path.Match
// cannot read, which would otherwise match nothing, silently.
func (s *Source) checkPatterns() error {
	for _, pats := range [][]string{s.Folders, s.Exclude} {
		for _, p := range pats {
			if _, err := path.Match(p, ""); err != nil {
				return fmt.Errorf("folder pattern %q: %w", p, err)
			}
		}
	}
	return nil
}

// lockedSink lets the connections take turns writing the one archive.
type lockedSink struct {
	mu sync.Mutex
	export.Sink
}

func (l *lockedSink) AddFolder(f format.Folder) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.Sink.AddFolder(f)
}

func (l *lockedSink) AddError(p format.Problem) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.Sink.AddError(p)
}

func (l *lockedSink) AddSkipped(reason string, n int) {
	if n == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.Sink.AddSkipped(reason, n)
}

// conn is one connection of the export and the folder it has selected.
type conn struct {
	src      *Source
	raw      *imapconn.Conn
	cl       *imapclient.Client
	selected *folder
	errors   int // NO/BAD answers on this connection
}

// open dials when there is no connection.
func (c *conn) open(ctx context.Context) error {
	if c.cl != nil {
		return nil
	}
	raw, err := c.src.Dial(ctx, c.src.Account)
	if err != nil {
		return &dialError{imapconn.Classify(err)}
	}
	c.raw, c.cl, c.selected, c.errors = raw, raw.Client(nil), nil, 0
	return nil
}

// drop closes the connection; the next open dials again.
func (c *conn) drop() {
	if c.cl != nil {
		c.cl.Close()
	}
	c.raw, c.cl, c.selected = nil, nil, nil
}

// fail classifies err; a lost connection is dropped, and one whose NO/BAD
// answers reach the error budget is replaced before the server cuts it.
func (c *conn) fail(err error) error {
	if c.raw != nil {
		err = c.raw.Cause(err)
	}
	err = imapconn.Classify(err)
	switch {
	case imapconn.Refused(err):
		c.errors++
		if budget := c.src.Limits.ErrorBudget; budget > 0 && c.errors >= budget {
			c.drop()
		}
		if k, _ := retry.Classify(err); k == retry.Throttled {
			c.drop() // Office 365 cuts a throttled session anyway
		}
	default:
		c.drop()
	}
	return err
}

// dialError is a failure to reach or log in to the server: retried like
// any other, but when the retries run out it ends the export, as no
// folder could go on.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }
