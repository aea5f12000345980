// Package imap exports a mailbox from any IMAP server (Dovecot, Cyrus,
// Exchange, Office 365, a hosted provider) into an archive: every folder
// LIST shows (special-use roles, subscriptions, the hierarchy separator
// turned into "/", names as go-imap decodes them from modified UTF-7,
// empty folders too; a mailbox LIST names twice is one folder; without
// LIST-EXTENDED, subscriptions come from LSUB on a raw connection, as
// go-imap v2 sends no LSUB). A name
// that is not modified UTF-7 (a bare "&", 8-bit text, as some servers
// send) cannot be named back to the server through go-imap: LIST is then
// read a second time, line by line, and that folder alone is reported) and every message byte for byte, with its flags,
// keywords and INTERNALDATE as the received time.
//
// Connections come from internal/imapconn (Dial, login, SASL, the
// plaintext rule, the provider's limits); go-imap v2 runs the commands
// on them. Folders are spread over parallel connections, at most the
// provider's cap; the Sink is written by one connection at a time.
//
// A folder is read in UID chunks: a small FETCH of UID, FLAGS,
// INTERNALDATE and the Message-ID header for the chunk,
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
// FETCH answered OK (or answered without its INTERNALDATE, which leaves
// no received time) is looked for with UID SEARCH: counted as expunged
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
// With a cutoff (export.Options.After), SEARCH SINCE the day before, in
// UTC, is the coarse server-side filter (SINCE compares dates in the
// server's zone, which may be 12 hours behind UTC) and the exact
// INTERNALDATE test is export.Options.Keep; the
// messages SEARCH left out are counted as skipped before the cutoff.
// A delta (export.Options.State) also writes the state record: per
// folder, one FETCH of every message's UID, flags, INTERNALDATE and size
// (no bodies), resumed after the highest UID written when the connection
// drops; a folder whose listing fails for good is named in an error, so
// an importer takes no deletion from it.
//
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
//
// Flags are kept as the server gives them, less \Recent (a session's own,
// meaningless elsewhere); a keyword outside the atom set is made one
// (export.KeywordAtom). A message flagged \Deleted but not expunged is
// still in the mailbox: it is exported with its \Deleted flag, as the
// Zimbra and Maildir sources export theirs, and the importer decides.
package imap

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/mutf7"
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
	unnamed   []string // mailbox names as the server sent them, not modified UTF-7
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
	// stated: the folder's part of a delta's state record is written,
	// up to stateMark, the highest UID written so far.
	stated    bool
	stateMark imap.UID
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
		folders, err = s.list(ctx, first)
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
	for _, raw := range s.unnamed {
		sink.AddError(format.Problem{Item: "(folder " + strconv.Quote(raw) + ")",
			Reason: "its name as the server sends it is not modified UTF-7 (RFC 3501 5.1.3), so it cannot be named back to the server: not exported; rename it on the server"})
	}
	for _, pat := range s.unmatched {
		sink.AddWarning(format.Problem{Item: "--folder " + pat, Reason: "matches no folder of " + s.Account.User})
	}
	if s.gmailNote != "" {
		sink.AddWarning(format.Problem{Item: "(Gmail labels)", Reason: s.gmailNote})
	}
	if s.gmail != nil && opt.State {
		// The state step reads no labels, so its lines would place every
		// message in All Mail, where the archive does not: an importer would
		// take them for moves. No state record rather than a wrong one.
		opt.State = false
		sink.AddWarning(format.Problem{Item: "(Gmail labels)", Reason: "this delta carries no state record " +
			"(its lines would name All Mail, not the label folders the messages are placed in), " +
			"so an import applies no flag changes, moves or deletions from it"})
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
func (s *Source) list(ctx context.Context, c *conn) ([]*folder, error) {
	caps := c.cl.Caps()
	var lo *imap.ListOptions
	if caps.Has(imap.CapListExtended) || caps.Has(imap.CapIMAP4rev2) {
		lo = &imap.ListOptions{ReturnSubscribed: true, ReturnSpecialUse: caps.Has(imap.CapSpecialUse)}
	}
	list, err := c.cl.List("", "*", lo).Collect()
	s.unnamed = nil
	if err != nil && !imapconn.Refused(err) && strings.Contains(err.Error(), "in LIST:") {
		// go-imap reads no LIST answer with a name that is not modified
		// UTF-7 (a bare "&", 8-bit text), which some servers send: one
		// such mailbox would fail the whole export.
		c.drop() // go-imap ends a connection whose answer it cannot read
		list, s.unnamed, err = s.listRaw(ctx, "LIST", lo != nil)
		if err == nil {
			err = c.open(ctx) // for STATUS, below
		}
	}
	if err != nil {
		return nil, c.fail(err)
	}
	if lo == nil {
		// Without LIST-EXTENDED, LIST says nothing of subscriptions:
		// LSUB (which go-imap v2 does not send) does, or every folder
		// would reach the target unsubscribed.
		subs, _, err := s.listRaw(ctx, "LSUB", false)
		if err != nil && !imapconn.Refused(err) { // refused: an IMAP4rev2 server, which has LIST-EXTENDED anyway
			return nil, err
		}
		subscribed := map[string]bool{}
		for _, sub := range subs {
			subscribed[sub.Mailbox] = true
		}
		for _, l := range list {
			if subscribed[l.Mailbox] {
				l.Attrs = append(l.Attrs, imap.MailboxAttrSubscribed)
			}
		}
	}
	slices.SortFunc(list, func(a, b *imap.ListData) int { return strings.Compare(a.Mailbox, b.Mailbox) })
	// A server may name a mailbox twice (overlapping namespaces, an
	// "inbox" beside "INBOX", which go-imap names "INBOX" both): it is
	// one mailbox, exported once, with the attributes of both answers.
	list = slices.CompactFunc(list, func(a, b *imap.ListData) bool {
		if a.Mailbox != b.Mailbox {
			return false
		}
		for _, at := range b.Attrs {
			if !slices.Contains(a.Attrs, at) {
				a.Attrs = append(a.Attrs, at)
			}
		}
		return true
	})
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

// listRaw runs LIST on a connection of its own, not go-imap's, and reads
// its answer line by line: the mailboxes whose names decode, and the raw
// names that do not (or that came as literals, which are not kept).
func (s *Source) listRaw(ctx context.Context, verb string, extended bool) (list []*imap.ListData, unnamed []string, err error) {
	raw, err := s.Dial(ctx, s.Account)
	if err != nil {
		return nil, nil, &dialError{imapconn.Classify(err)}
	}
	defer raw.Close()
	cmd := verb + ` "" "*"`
	if extended {
		cmd += " RETURN (SUBSCRIBED"
		if raw.Has("SPECIAL-USE") {
			cmd += " SPECIAL-USE"
		}
		cmd += ")"
	}
	_, err = raw.Command(cmd, func(line string) {
		l, name, ok := parseList(verb, line)
		switch {
		case !ok:
		case l == nil:
			unnamed = append(unnamed, name)
		default:
			list = append(list, l)
		}
	})
	return list, unnamed, imapconn.Classify(err)
}

// parseList reads an untagged LIST (or LSUB, the same shape) line: ok is
// false for another line. The ListData is nil when the name does not
// decode; name is then the raw one.
func parseList(want, line string) (l *imap.ListData, name string, ok bool) {
	rest, ok := strings.CutPrefix(line, "* ")
	verb, rest, _ := strings.Cut(rest, " ")
	if !ok || !strings.EqualFold(verb, want) {
		return nil, "", false
	}
	attrs, rest, ok := strings.Cut(strings.TrimPrefix(rest, "("), ") ")
	if !ok {
		return nil, "", false
	}
	l = &imap.ListData{}
	for _, a := range strings.Fields(attrs) {
		l.Attrs = append(l.Attrs, imap.MailboxAttr(a))
	}
	var delim string
	if d, after, ok := strings.Cut(rest, " "); ok && strings.EqualFold(d, "NIL") {
		rest = after
	} else if delim, rest, ok = quoted(rest); ok {
		rest = strings.TrimPrefix(rest, " ")
	} else {
		return nil, "", false
	}
	if len([]rune(delim)) == 1 {
		l.Delim = []rune(delim)[0]
	}
	if name, _, ok = quoted(rest); !ok {
		name, _, _ = strings.Cut(rest, " ")
	}
	switch dec, err := mutf7.Decode(name); {
	case strings.HasSuffix(name, "}") || name == "":
		return nil, name, true // a literal: its text is not kept
	case strings.EqualFold(name, "INBOX"):
		l.Mailbox = "INBOX"
	case err != nil:
		return nil, name, true
	default:
		l.Mailbox = dec
	}
	return l, name, true
}

// quoted reads a quoted string at the start of s.
func quoted(s string) (text, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", s, false
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i++; i < len(s) {
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:], true
		default:
			b.WriteByte(s[i])
		}
	}
	return "", s, false
}

// archivePath turns a mailbox name into an archive path: its levels
// joined by "/". A "/" inside a level (a server whose separator is ".",
// or one with no hierarchy, whose names are one level) becomes "_", noted.
func archivePath(name string, delim rune) (string, string) {
	if delim == '/' {
		return name, ""
	}
	levels := []string{name}
	if delim != 0 {
		levels = strings.Split(name, string(delim))
	}
	changed := false
	for i, l := range levels {
		if strings.Contains(l, "/") {
			levels[i], changed = strings.ReplaceAll(l, "/", "_"), true
		}
	}
	p := strings.Join(levels, "/")
	if changed {
		sep := "no hierarchy"
		if delim != 0 {
			sep = "separator " + strconv.Quote(string(delim))
		}
		return p, fmt.Sprintf("mailbox %q has a \"/\" inside a level (%s); exported as %q", name, sep, p)
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

func (l *lockedSink) AddWarning(p format.Problem) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.Sink.AddWarning(p)
}

func (l *lockedSink) addState(st format.StateItem) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return export.AddState(l.Sink, st)
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
