package dav

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/emersion/go-webdav/caldav"
	"github.com/emersion/go-webdav/carddav"

	"github.com/mailhaul/mailhaul/format"
)

// collection is a target address book or calendar.
type collection struct {
	URL        *url.URL
	Name       string            // display name
	Kind       format.FolderKind // contacts or calendar
	Components []string          // supported calendar components; empty means any
	MaxSize    int64             // server's max-resource-size; 0 means unknown
	Planned    bool              // a dry run would create it

	// Created is set when this run made the collection; Color and
	// Description are the decoration it was made with. Radicale's
	// whole-collection PUT (bulk.go) is only tried on such a collection
	// and must put the decoration back afterwards.
	Created            bool
	Color, Description string
}

func (c *collection) supports(comp string) bool {
	return len(c.Components) == 0 || slices.ContainsFunc(c.Components, func(s string) bool { return strings.EqualFold(s, comp) })
}

// collections maps archive folders to target collections, listing the
// home sets once and creating what is missing. Safe for concurrent use,
// though the importer resolves from one goroutine.
type collections struct {
	c      *client
	homes  homes
	dryRun bool
	note   func(format string, args ...any)

	mu       sync.Mutex
	books    []*collection
	cals     []*collection
	listed   map[format.FolderKind]bool
	resolved map[string]*collection
	autoSch  *bool // the calendar home advertises RFC 6638 auto-scheduling
}

func newCollections(c *client, h homes, dryRun bool, note func(string, ...any)) *collections {
	return &collections{c: c, homes: h, dryRun: dryRun, note: note,
		listed: map[format.FolderKind]bool{}, resolved: map[string]*collection{}}
}

// forItem returns the collection for an item of kind k from folder f.
func (cs *collections) forItem(ctx context.Context, f format.Folder, k format.Kind) (*collection, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	name := f.DisplayName
	if name == "" {
		name = lastSegment(f.Path)
	}
	key := string(k) + "\x00" + f.Path
	if col, ok := cs.resolved[key]; ok {
		return col, nil
	}
	var col *collection
	var err error
	switch k {
	case format.KindContact:
		col, err = cs.find(ctx, format.FolderContacts, name, "", f)
	case format.KindEvent:
		col, err = cs.find(ctx, format.FolderCalendar, name, "VEVENT", f)
	case format.KindTask:
		// Tasks share the events' calendar when it takes VTODO; otherwise
		// they get a task list of their own beside it.
		col, err = cs.find(ctx, format.FolderCalendar, name, "VTODO", f)
		if err == nil && !col.supports("VTODO") {
			col, err = cs.find(ctx, format.FolderCalendar, name+" (tasks)", "VTODO", f)
		}
	default:
		return nil, fmt.Errorf("dav: %s items do not go to DAV", k)
	}
	if err != nil {
		return nil, err
	}
	cs.resolved[key] = col
	return col, nil
}

// find returns the collection named name, creating it if none exists. A
// same-named calendar lacking comp is returned as is when it is the only
// one, so that the caller can choose a sibling.
func (cs *collections) find(ctx context.Context, kind format.FolderKind, name, comp string, f format.Folder) (*collection, error) {
	list, err := cs.list(ctx, kind)
	if err != nil {
		return nil, err
	}
	var sameName *collection
	for _, col := range list {
		if col.Name == name || (col.Name == "" && lastSegment(col.URL.Path) == slug(name)) {
			if comp == "" || col.supports(comp) {
				return col, nil
			}
			sameName = col
		}
	}
	if sameName != nil && comp == "VTODO" && !strings.HasSuffix(name, " (tasks)") {
		return sameName, nil
	}
	return cs.create(ctx, kind, name, comp, f)
}

// list returns the collections of kind, reading the home set once.
func (cs *collections) list(ctx context.Context, kind format.FolderKind) ([]*collection, error) {
	if cs.listed[kind] {
		if kind == format.FolderContacts {
			return cs.books, nil
		}
		return cs.cals, nil
	}
	switch kind {
	case format.FolderContacts:
		home := cs.homes.AddressBooks
		if home == nil {
			return nil, fmt.Errorf("dav: the server offers no CardDAV address book home (give --carddav)")
		}
		cc, err := carddav.NewClient(cs.c, home.String())
		if err != nil {
			return nil, fmt.Errorf("dav: %w", err)
		}
		abs, err := cc.FindAddressBooks(ctx, home.Path)
		if err != nil {
			return nil, fmt.Errorf("dav: list address books in %s: %w", redact(home), err)
		}
		for _, ab := range abs {
			cs.books = append(cs.books, &collection{URL: home.ResolveReference(&url.URL{Path: dirPath(ab.Path)}),
				Name: ab.Name, Kind: kind, MaxSize: ab.MaxResourceSize})
		}
	default:
		home := cs.homes.Calendars
		if home == nil {
			return nil, fmt.Errorf("dav: the server offers no CalDAV calendar home (give --caldav)")
		}
		cc, err := caldav.NewClient(cs.c, home.String())
		if err != nil {
			return nil, fmt.Errorf("dav: %w", err)
		}
		cals, err := cc.FindCalendars(ctx, home.Path)
		if err != nil {
			return nil, fmt.Errorf("dav: list calendars in %s: %w", redact(home), err)
		}
		for _, cal := range cals {
			cs.cals = append(cs.cals, &collection{URL: home.ResolveReference(&url.URL{Path: dirPath(cal.Path)}),
				Name: cal.Name, Kind: kind, MaxSize: cal.MaxResourceSize, Components: cal.SupportedComponentSet})
		}
	}
	cs.listed[kind] = true
	return cs.list(ctx, kind)
}

// create makes a collection for name under the home set: extended MKCOL
// (RFC 5689) for an address book, MKCALENDAR (RFC 4791) for a calendar,
// with the folder's colour and description. A server that rejects those
// properties gets a second, minimal request.
func (cs *collections) create(ctx context.Context, kind format.FolderKind, name, comp string, f format.Folder) (*collection, error) {
	home := cs.homes.Calendars
	what := "calendar"
	if kind == format.FolderContacts {
		home, what = cs.homes.AddressBooks, "address book"
	}
	taken := map[string]bool{}
	for _, col := range append(slices.Clone(cs.books), cs.cals...) {
		taken[col.URL.Path] = true
	}
	base := slug(name)
	var target *url.URL
	for i := 1; ; i++ {
		seg := base
		if i > 1 {
			seg = fmt.Sprintf("%s-%d", base, i)
		}
		target = home.ResolveReference(&url.URL{Path: seg + "/"})
		if !taken[target.Path] {
			break
		}
	}
	col := &collection{URL: target, Name: name, Kind: kind}
	if kind == format.FolderCalendar && comp == "VTODO" && strings.HasSuffix(name, " (tasks)") {
		col.Components = []string{"VTODO"}
	}
	if cs.dryRun {
		col.Planned = true
	} else {
		if err := cs.mkcol(ctx, col, f); err != nil {
			return nil, fmt.Errorf("dav: create %s %q at %s: %w", what, name, redact(target), err)
		}
		col.Created = true
		cs.note("created %s %q at %s", what, name, redact(target))
	}
	if kind == format.FolderContacts {
		cs.books = append(cs.books, col)
	} else {
		cs.cals = append(cs.cals, col)
	}
	return col, nil
}

func (cs *collections) mkcol(ctx context.Context, col *collection, f format.Folder) error {
	method := "MKCOL"
	if col.Kind == format.FolderCalendar {
		method = "MKCALENDAR"
	}
	hdr := http.Header{"Content-Type": {"application/xml; charset=utf-8"}}
	full := creationBody(col, f.Color, f.Description, false)
	a, err := cs.c.send(ctx, method, col.URL.String(), hdr, full)
	if err != nil {
		return err
	}
	viaMkcol := false
	if method == "MKCALENDAR" && (a.Status == http.StatusMethodNotAllowed || a.Status == http.StatusNotImplemented) {
		// No MKCALENDAR here: RFC 5689 extended MKCOL can make calendars too.
		method, viaMkcol = "MKCOL", true
		if a, err = cs.c.send(ctx, method, col.URL.String(), hdr, creationBody(col, f.Color, f.Description, true)); err != nil {
			return err
		}
	}
	if a.Status/100 == 2 {
		col.Color, col.Description = f.Color, f.Description
		return nil
	}
	if f.Color == "" && f.Description == "" && len(col.Components) == 0 {
		return fmt.Errorf("server answered %s", a.serverSays())
	}
	// Some servers refuse a property they do not know (RFC 5689 fails the
	// whole request); keep the collection and lose the decoration.
	first := a.serverSays()
	plain := &collection{URL: col.URL, Name: col.Name, Kind: col.Kind}
	a, err = cs.c.send(ctx, method, col.URL.String(), hdr, creationBody(plain, "", "", viaMkcol))
	if err != nil {
		return err
	}
	if a.Status/100 != 2 {
		return fmt.Errorf("server answered %s (and, with colour, description and components, %s)", a.serverSays(), first)
	}
	col.Components = nil
	cs.note("%s: created without colour, description or component set: the server refused them with %s", col.Name, first)
	return nil
}

// autoSchedules reports whether the calendar home advertises RFC 6638
// server-side scheduling ("calendar-auto-schedule" in the DAV header),
// which could e-mail attendees about imported events.
func (cs *collections) autoSchedules(ctx context.Context) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.autoSch != nil {
		return *cs.autoSch
	}
	v := false
	if cs.homes.Calendars != nil {
		a, err := cs.c.send(ctx, http.MethodOptions, cs.homes.Calendars.String(), nil, nil)
		if err == nil {
			for _, h := range a.Header.Values("DAV") {
				for _, tok := range strings.Split(h, ",") {
					if strings.EqualFold(strings.TrimSpace(tok), "calendar-auto-schedule") {
						v = true
					}
				}
			}
		}
	}
	cs.autoSch = &v
	if v {
		cs.note("the server schedules invitations itself (RFC 6638); imported ORGANIZER and ATTENDEE properties get SCHEDULE-AGENT=CLIENT so that nobody is e-mailed")
	}
	return v
}

func lastSegment(p string) string {
	p = strings.TrimSuffix(p, "/")
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	if u, err := url.PathUnescape(p); err == nil {
		return u
	}
	return p
}

func dirPath(p string) string {
	if !strings.HasSuffix(p, "/") {
		return p + "/"
	}
	return p
}
