package dav

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/davclient"
)

// DefaultBatch is how many objects one multiget REPORT asks for: enough
// to save round trips, few enough that an answer stays small (objects
// are a few KiB; one with attachments may be MiBs).
const DefaultBatch = 50

// Source exports one account's address books and calendars.
type Source struct {
	// Config says how to reach the account (login, TLS roots, retries);
	// the credentials go only to the sites of URL, CardDAV and CalDAV.
	Config davclient.Config
	// URL is the server: discovery starts at its .well-known entries.
	// CardDAV and CalDAV, when set, are the homes and skip discovery for
	// their service.
	URL, CardDAV, CalDAV string
	// Batch is the number of objects per multiget; 0: DefaultBatch.
	Batch int
	// TempDir holds the spooled member lists; "": the system's.
	TempDir string
	// Earlier are the folders of an earlier export of the account (for
	// a delta): each folder's kind and path ("contacts/book") with its
	// sync token, "" when it had none. A collection with a token is
	// exported as what changed since (RFC 6578), every object the server
	// names whatever its stamps; one that is not in Earlier is new, and
	// exported whole; one without a token is cut by the stamps.
	Earlier map[string]string
	// EarlierFailed are the objects the earlier export could not export
	// (its summary's errors), by folder path: their hrefs (escaped
	// paths). Its sync token covers them, so a delta asks for them again
	// by name, and keeps them whatever their stamps.
	EarlierFailed map[string][]string
}

// SkipDeleted counts objects a delta found deleted since the earlier
// export: an archive holds no deletions.
const SkipDeleted = "deleted on the server since the earlier export (an archive holds no deletions)"

var _ export.Source = (*Source)(nil)

// Skipped reasons and warnings for collections that are not exported.
const (
	skipCollection = "collection not exported (scheduling inbox or outbox, shared by another user, subscribed, or not an address book or calendar)"
	notScheduling  = "a scheduling inbox or outbox (RFC 6638): it holds invitations and replies in transit, which the server makes again; not exported"
	notShared      = "a calendar another user shared with this one: it is exported with its owner's account; not exported"
	notSubscribed  = "a subscribed calendar: the server copies it from %s, so it is set up again by subscribing; not exported"
	notPIM         = "a collection that is neither an address book nor a calendar; not exported"
)

// Export lists every address book and calendar in the account's homes
// and writes each with its objects, byte for byte as the server holds
// them. The cutoff keeps objects whose last change (see stampRank) is at
// or after it, and every object that gives none.
func (s *Source) Export(ctx context.Context, sink export.Sink, opt export.Options) error {
	c, homes, _, err := davclient.Connect(ctx, s.Config, davclient.Endpoints{URL: s.URL, CardDAV: s.CardDAV, CalDAV: s.CalDAV})
	if err != nil {
		return err
	}
	x := &exporter{src: s, c: c, sink: sink, opt: opt, started: time.Now().UTC(),
		done: map[string]bool{}, names: map[string]bool{}}
	for _, home := range []*url.URL{homes.AddressBooks, homes.Calendars} {
		if home == nil || x.done[davclient.HrefKey(home)] {
			continue
		}
		x.done[davclient.HrefKey(home)] = true
		cols, err := c.Collections(ctx, home)
		if err != nil {
			return err
		}
		for _, ci := range cols {
			if x.done[davclient.HrefKey(ci.URL)] {
				continue
			}
			x.done[davclient.HrefKey(ci.URL)] = true
			if err := x.collection(ctx, ci); err != nil {
				return err
			}
		}
	}
	return nil
}

// exporter is one run of Export.
type exporter struct {
	src     *Source
	c       *davclient.Client
	sink    export.Sink
	opt     export.Options
	started time.Time
	done    map[string]bool // homes and collections by HrefKey
	names   map[string]bool // folder kind and path in use
	// keepAll exports the collection's objects whatever their stamps:
	// it is new since the earlier export, or listed by what changed.
	keepAll bool
	// again are the collection's objects the earlier export failed on
	// (Source.EarlierFailed), by HrefKey: exported whatever their
	// stamps; listed says which the server's listing named.
	again, listed map[string]bool
}

// sinkError is the sink's failure, fatal to the export, carried through
// the multiget's callback.
type sinkError struct{ err error }

func (e sinkError) Error() string { return e.err.Error() }
func (e sinkError) Unwrap() error { return e.err }

// collection exports one collection of a home set, or says why not.
func (x *exporter) collection(ctx context.Context, ci davclient.CollectionInfo) error {
	href := davclient.Redact(ci.URL)
	skip := func(why string) error {
		x.sink.AddSkipped(skipCollection, 1)
		x.sink.AddWarning(format.Problem{Folder: ci.Name, Item: href, Reason: why})
		return nil
	}
	var kind format.FolderKind
	switch {
	case ci.Is("schedule-inbox"), ci.Is("schedule-outbox"):
		return skip(notScheduling)
	case ci.Is("subscribed"):
		return skip(fmt.Sprintf(notSubscribed, orUnknown(ci.Source)))
	case ci.Is("shared"): // CalendarServer: shared with this user; "shared-owner" is the user's own
		return skip(notShared)
	case ci.Is("addressbook"):
		kind = format.FolderContacts
	case ci.Is("calendar"):
		kind = format.FolderCalendar
	default:
		return skip(notPIM)
	}
	f := format.Folder{Kind: kind, Path: x.folderPath(kind, ci.URL), DisplayName: ci.Name,
		Color: ci.Color, Description: ci.Description, CTag: ci.CTag,
		Notes: []string{"exported from " + href}}
	if kind == format.FolderCalendar {
		f.Components = ci.Components // Radicale gives address books the property too
	}
	since := ""
	prev, known := x.src.Earlier[string(kind)+"/"+f.Path]
	x.keepAll = x.src.Earlier != nil && !known
	if known {
		since = prev
	}
	x.again, x.listed = map[string]bool{}, map[string]bool{}
	inside := davclient.HrefKey(ci.URL) + "/"
	for _, h := range x.src.EarlierFailed[f.Path] {
		if u, err := ci.URL.Parse(h); err == nil && strings.HasPrefix(davclient.HrefKey(u), inside) {
			x.again[davclient.HrefKey(u)] = true
		}
	}
	spool, n, gone, token, err := x.list(ctx, f.Path, ci.URL, since)
	if since != "" && err != nil && !fatal(ctx, err) {
		// A token the server forgot (ErrSyncToken), or one it fails on
		// (Xandikos 0.2.8 answers an unknown token with a 500).
		x.sink.AddWarning(format.Problem{Folder: f.Path, Item: href,
			Reason: "the server did not list what changed since the earlier export's sync token (" + err.Error() + "): listed whole, objects kept by their stamps"})
		spool, n, gone, token, err = x.list(ctx, f.Path, ci.URL, "")
	} else if since != "" {
		x.keepAll = true
	}
	switch {
	case err != nil && fatal(ctx, err):
		return fmt.Errorf("list %s: %w", href, err)
	case err != nil:
		// Its objects are unknown: the collection fails as a whole, the
		// others are exported.
		x.sink.AddError(format.Problem{Folder: f.Path, Item: href, Reason: "its objects could not be listed: " + err.Error()})
		return nil
	}
	if since != "" && err == nil && x.keepAll {
		// Changes name only what changed since the earlier export: ask
		// again for what it failed on (deleted since: gone, not asked).
		if n, err = x.askAgain(spool, n); err != nil {
			spool.Close()
			os.Remove(spool.Name())
			return fmt.Errorf("list %s: %w", href, err)
		}
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	f.SyncToken = token
	if err := x.sink.AddFolder(f); err != nil {
		return err
	}
	if gone > 0 {
		x.sink.AddSkipped(SkipDeleted, gone)
	}
	if err := x.state(ctx, f, ci.URL); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	if _, err := spool.Seek(0, 0); err != nil {
		return fmt.Errorf("list %s: %w", href, err)
	}
	batch := x.src.Batch
	if batch <= 0 {
		batch = DefaultBatch
	}
	sc := bufio.NewScanner(spool)
	sc.Buffer(make([]byte, 0, 4096), maxHref+1)
	hrefs := make([]*url.URL, 0, batch)
	for sc.Scan() {
		u, err := ci.URL.Parse(sc.Text())
		if err != nil {
			x.sink.AddError(format.Problem{Folder: f.Path, Item: sc.Text(), Reason: "the server listed an href that is not a URL path"})
			continue
		}
		if hrefs = append(hrefs, u); len(hrefs) == batch {
			if err := x.fetch(ctx, f, ci.URL, hrefs); err != nil {
				return err
			}
			hrefs = hrefs[:0]
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("list %s: %w", href, err)
	}
	return x.fetch(ctx, f, ci.URL, hrefs)
}

// state gives the state record's lines of a collection, when the export
// asks for it (a delta): one for each object the collection holds, from
// one more listing of its hrefs and ETags, since a delta's own listing
// names only what changed. No object is fetched for it, so a line has no
// UID or digest; a calendar object's is given as an event. A listing
// that fails is an error naming the folder, and gives no lines: an
// importer takes no deletion from a folder an error names.
func (x *exporter) state(ctx context.Context, f format.Folder, col *url.URL) error {
	if !x.opt.State {
		return nil
	}
	kind := format.KindContact
	if f.Kind == format.FolderCalendar {
		kind = format.KindEvent
	}
	var sinkErr error
	_, err := x.c.Members(ctx, col, func(href *url.URL, etag string) error {
		sinkErr = export.AddState(x.sink, format.StateItem{Kind: kind, Folder: f.Path,
			SourceID: davclient.LastSegment(href), ETag: etag})
		return sinkErr
	})
	switch {
	case sinkErr != nil:
		return sinkErr
	case err != nil && fatal(ctx, err):
		return fmt.Errorf("list %s: %w", davclient.Redact(col), err)
	case err != nil:
		x.sink.AddError(format.Problem{Folder: f.Path, Item: davclient.Redact(col),
			Reason: "its objects could not be listed for the state record, so no deletion may be taken from it: " + err.Error()})
	}
	return nil
}

// fatal reports whether err ends the export rather than one collection
// or object: it was stopped, the spool could not be written, or the
// server refused the credentials (each further request would be another
// failed login, and a server may lock the account after a few).
func fatal(ctx context.Context, err error) bool {
	var local *os.PathError
	return ctx.Err() != nil || errors.As(err, &local) || errors.Is(err, davclient.ErrUnauthorized)
}

func orUnknown(s string) string {
	if s == "" {
		return "a feed it does not name"
	}
	return s
}

// folderPath names a collection's folder after the last segment of its
// URL: unique in its home and stable, while its display name may be
// neither. A name already used for the kind (two homes holding the same
// name) gets ~2, ~3...
func (x *exporter) folderPath(kind format.FolderKind, u *url.URL) string {
	name := path.Base(u.Path)
	if strings.Contains(name, "/") || name == "." || name == "/" {
		name = path.Base(u.EscapedPath())
	}
	p := name
	for i := 2; x.names[string(kind)+"\x00"+p]; i++ {
		p = fmt.Sprintf("%s~%d", name, i)
	}
	x.names[string(kind)+"\x00"+p] = true
	return p
}

// maxHref bounds an object's href (escaped path): servers and proxies
// refuse far shorter URLs (8 KiB is common).
const maxHref = 32 << 10

// list spools the collection's member hrefs to a temporary file, one a
// line, so that a collection of any size is listed in bounded memory,
// and returns it with their number, the number of members deleted (a
// delta), and the collection's sync token. With since, a sync token of
// an earlier export, only what changed since is listed.
func (x *exporter) list(ctx context.Context, folder string, col *url.URL, since string) (*os.File, int, int, string, error) {
	spool, err := os.CreateTemp(x.src.TempDir, "mailhaul-dav-*.list")
	if err != nil {
		return nil, 0, 0, "", err
	}
	w := bufio.NewWriter(spool)
	n, gone := 0, 0
	add := func(href *url.URL, _ string, deleted bool) error {
		if x.again[davclient.HrefKey(href)] {
			x.listed[davclient.HrefKey(href)] = true
		}
		if deleted {
			gone++
			return nil
		}
		line := href.EscapedPath()
		if len(line) > maxHref {
			// No server names an object so; it would not fit the
			// spool's line, and asking for it would be refused.
			// Named by its collection: a shortened href is no object's,
			// and a delta would ask for it again (EarlierFailed).
			x.sink.AddError(format.Problem{Folder: folder, Item: davclient.Redact(col), Reason: fmt.Sprintf("the server listed an href too long to ask for (%d bytes; at most %d): %s...", len(line), maxHref, line[:200])})
			return nil
		}
		n++
		_, err := w.WriteString(line + "\n")
		return err
	}
	var token string
	if since != "" {
		token, err = x.c.Changes(ctx, col, since, add)
	} else {
		token, err = x.c.Members(ctx, col, func(href *url.URL, etag string) error { return add(href, etag, false) })
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		spool.Close()
		os.Remove(spool.Name())
		return nil, 0, 0, "", err
	}
	return spool, n, gone, token, nil
}

// askAgain adds to the spool of a delta's changes the objects the
// earlier export failed on that the changes did not name, and returns
// the spool's new count.
func (x *exporter) askAgain(spool *os.File, n int) (int, error) {
	if _, err := spool.Seek(0, io.SeekEnd); err != nil {
		return n, err
	}
	w := bufio.NewWriter(spool)
	for _, k := range slices.Sorted(maps.Keys(x.again)) {
		if !x.listed[k] {
			n++
			w.WriteString(k + "\n")
		}
	}
	return n, w.Flush()
}

// fetch reads hrefs with one multiget and writes each object into the
// sink as it arrives. An answer that fails part way is asked again for
// what it did not deliver, in halves, down to single objects; an object
// the server does not deliver alone is an error naming the collection,
// the href and the server's reason, and the export goes on.
func (x *exporter) fetch(ctx context.Context, f format.Folder, col *url.URL, hrefs []*url.URL) error {
	if len(hrefs) == 0 {
		return nil
	}
	want := make(map[string]bool, len(hrefs))
	for _, h := range hrefs {
		want[davclient.HrefKey(h)] = true
	}
	err := x.c.MultigetEach(ctx, col, f.Kind == format.FolderContacts, hrefs, func(o davclient.Object) error {
		k := davclient.HrefKey(o.Href)
		if !want[k] {
			return nil // not asked for, or answered twice
		}
		delete(want, k)
		if o.Data == nil {
			x.sink.AddError(format.Problem{Folder: f.Path, Item: o.Href.EscapedPath(), Reason: "the server did not deliver it: " + orStatus(o.Status)})
			return nil
		}
		if err := x.item(f, o); err != nil {
			return sinkError{err}
		}
		return nil
	})
	if se, ok := errors.AsType[sinkError](err); ok {
		return se.err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil && fatal(ctx, err) {
		return fmt.Errorf("multiget in %s: %w", davclient.Redact(col), err)
	}
	var rest []*url.URL
	for _, h := range hrefs {
		if want[davclient.HrefKey(h)] {
			rest = append(rest, h)
		}
	}
	switch {
	case len(rest) == 0:
		return nil
	case err == nil:
		for _, h := range rest {
			x.sink.AddError(format.Problem{Folder: f.Path, Item: h.EscapedPath(), Reason: "the server's multiget answer left it out"})
		}
		return nil
	case len(hrefs) == 1:
		x.sink.AddError(format.Problem{Folder: f.Path, Item: hrefs[0].EscapedPath(), Reason: err.Error()})
		return nil
	case len(rest) == 1:
		return x.fetch(ctx, f, col, rest)
	}
	half := len(rest) / 2
	if err := x.fetch(ctx, f, col, rest[:half]); err != nil {
		return err
	}
	return x.fetch(ctx, f, col, rest[half:])
}

func orStatus(s string) string {
	if s == "" {
		return "no status given"
	}
	return s
}

// item writes one object as the server holds it.
func (x *exporter) item(f format.Folder, o davclient.Object) error {
	what := o.Href.EscapedPath()
	if looksEmpty(o.Data) {
		x.sink.AddError(format.Problem{Folder: f.Path, Item: what, Reason: "the server returned it empty"})
		return nil
	}
	obj := scan(o.Data)
	it := format.Item{Folder: f.Path, UID: obj.uid, SourceID: davclient.LastSegment(o.Href), Received: obj.stamp, ETag: o.ETag}
	switch {
	case f.Kind == format.FolderContacts && obj.vcard:
		it.Kind = format.KindContact
	case f.Kind == format.FolderCalendar && obj.ical:
		var mixed bool
		if it.Kind, mixed = obj.kind(); mixed {
			it.Notes = append(it.Notes, "holds VTODO and VEVENT or VJOURNAL in one object (RFC 4791 allows one type); exported as an event")
			x.sink.AddWarning(format.Problem{Folder: f.Path, Item: what, Reason: "tasks and events in one object; exported as an event, unchanged"})
		}
	default:
		want := "a vCard"
		if f.Kind == format.FolderCalendar {
			want = "an iCalendar object"
		}
		x.sink.AddError(format.Problem{Folder: f.Path, Item: what, Reason: "not " + want + " (the server holds something else in this collection); not exported"})
		return nil
	}
	if it.UID == "" {
		it.Notes = append(it.Notes, "no UID")
	}
	if it.Received.IsZero() {
		// Nothing says when it changed: a delta keeps it (see Export).
		it.Received = x.started
		it.Notes = append(it.Notes, "no REV, LAST-MODIFIED, DTSTAMP or CREATED: received is the export's start")
	} else if !x.keepAll && !x.again[davclient.HrefKey(o.Href)] && !x.opt.Keep(obj.latest) {
		x.sink.AddSkipped(export.SkipBeforeCutoff, 1)
		return nil
	}
	return export.AddItem(x.sink, it, what, bytes.NewReader(o.Data))
}
