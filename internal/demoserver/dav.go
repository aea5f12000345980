package demoserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-vcard"
	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/caldav"
	"github.com/emersion/go-webdav/carddav"
)

// DAV starts an in-memory CardDAV/CalDAV server on addr (for example
// "127.0.0.1:0") for the demo migration, with HTTP Basic users (login →
// password). It returns the listening address and a function that stops
// it. Each user's address books live under /card/<login>/contacts/ and
// calendars under /cal/<login>/calendars/; /.well-known/carddav and
// /.well-known/caldav lead there. Nothing is written to disk.
//
// It is built on go-webdav's server, which re-encodes objects and creates
// calendars through extended MKCOL only; it is a demo target, not a
// faithful store.
func DAV(addr string, users map[string]string) (net.Addr, func() error, error) {
	st := &davStore{books: map[string]*davBook{}, cals: map[string]*davCal{}}
	card := &carddav.Handler{Backend: &cardBackend{st}, Prefix: "/card"}
	cal := &caldav.Handler{Backend: &calBackend{st}, Prefix: "/cal"}
	mux := http.NewServeMux()
	mux.Handle("/.well-known/carddav", card)
	mux.Handle("/.well-known/caldav", cal)
	mux.Handle("/card/", card)
	mux.Handle("/cal/", cal)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("demoserver: %w", err)
	}
	srv := &http.Server{Handler: basicAuth(users, mux), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	return l.Addr(), func() error { return srv.Close() }, nil
}

type userKey struct{}

func userOf(ctx context.Context) string { s, _ := ctx.Value(userKey{}).(string); return s }

func basicAuth(users map[string]string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		want, known := users[u]
		if !ok || !known || subtle.ConstantTimeCompare([]byte(p), []byte(want)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="mailhaul demo"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
	})
}

// davStore holds every user's collections, keyed by collection path.
type davStore struct {
	mu    sync.Mutex
	books map[string]*davBook
	cals  map[string]*davCal
}

type davBook struct {
	ab      carddav.AddressBook
	objects map[string]carddav.AddressObject
}

type davCal struct {
	cal     caldav.Calendar
	objects map[string]caldav.CalendarObject
}

var errNotFound = webdav.NewHTTPError(http.StatusNotFound, errors.New("demoserver: no such resource"))

func etagOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// precondition applies If-None-Match and If-Match to an existing ETag
// ("" when the resource does not exist).
func precondition(ifNoneMatch, ifMatch webdav.ConditionalMatch, current string) error {
	failed := webdav.NewHTTPError(http.StatusPreconditionFailed, errors.New("demoserver: precondition failed"))
	if ifNoneMatch.IsWildcard() && current != "" {
		return failed
	}
	if ifMatch.IsSet() {
		if current == "" {
			return failed
		}
		if !ifMatch.IsWildcard() {
			if e, err := ifMatch.ETag(); err != nil || e != current {
				return failed
			}
		}
	}
	return nil
}

// ownedBy reports whether p lies under the user's tree of a service.
func ownedBy(p, prefix, user string) bool {
	return strings.HasPrefix(p, prefix+"/"+user+"/")
}

// cardBackend is the CardDAV side.
type cardBackend struct{ st *davStore }

func (b *cardBackend) CurrentUserPrincipal(ctx context.Context) (string, error) {
	// No trailing slash: go-webdav's client trims it from request paths
	// and its server compares the principal path exactly.
	return "/card/" + userOf(ctx), nil
}

func (b *cardBackend) AddressBookHomeSetPath(ctx context.Context) (string, error) {
	return "/card/" + userOf(ctx) + "/contacts/", nil
}

func (b *cardBackend) ListAddressBooks(ctx context.Context) ([]carddav.AddressBook, error) {
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	var out []carddav.AddressBook
	for p, bk := range b.st.books {
		if ownedBy(p, "/card", userOf(ctx)) {
			out = append(out, bk.ab)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func (b *cardBackend) GetAddressBook(ctx context.Context, p string) (*carddav.AddressBook, error) {
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	bk, ok := b.st.books[dir(p)]
	if !ok || !ownedBy(p, "/card", userOf(ctx)) {
		return nil, errNotFound
	}
	ab := bk.ab
	return &ab, nil
}

func (b *cardBackend) CreateAddressBook(ctx context.Context, ab *carddav.AddressBook) error {
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	p := dir(ab.Path)
	if !ownedBy(p, "/card", userOf(ctx)) {
		return webdav.NewHTTPError(http.StatusForbidden, errors.New("demoserver: not your address book home"))
	}
	if _, ok := b.st.books[p]; ok {
		return webdav.NewHTTPError(http.StatusMethodNotAllowed, errors.New("demoserver: address book exists"))
	}
	c := *ab
	c.Path = p
	b.st.books[p] = &davBook{ab: c, objects: map[string]carddav.AddressObject{}}
	return nil
}

func (b *cardBackend) DeleteAddressBook(ctx context.Context, p string) error {
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	delete(b.st.books, dir(p))
	return nil
}

func (b *cardBackend) GetAddressObject(ctx context.Context, p string, _ *carddav.AddressDataRequest) (*carddav.AddressObject, error) {
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	bk, ok := b.st.books[path.Dir(p)+"/"]
	if !ok || !ownedBy(p, "/card", userOf(ctx)) {
		return nil, errNotFound
	}
	o, ok := bk.objects[p]
	if !ok {
		return nil, errNotFound
	}
	return &o, nil
}

func (b *cardBackend) ListAddressObjects(ctx context.Context, p string, _ *carddav.AddressDataRequest) ([]carddav.AddressObject, error) {
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	bk, ok := b.st.books[dir(p)]
	if !ok || !ownedBy(p, "/card", userOf(ctx)) {
		return nil, errNotFound
	}
	out := make([]carddav.AddressObject, 0, len(bk.objects))
	for _, o := range bk.objects {
		out = append(out, o)
	}
	return out, nil
}

func (b *cardBackend) QueryAddressObjects(ctx context.Context, p string, q *carddav.AddressBookQuery) ([]carddav.AddressObject, error) {
	all, err := b.ListAddressObjects(ctx, p, &q.DataRequest)
	if err != nil {
		return nil, err
	}
	return carddav.Filter(q, all)
}

func (b *cardBackend) PutAddressObject(ctx context.Context, p string, card vcard.Card, opts *carddav.PutAddressObjectOptions) (*carddav.AddressObject, error) {
	var buf bytes.Buffer
	if err := vcard.NewEncoder(&buf).Encode(card); err != nil {
		return nil, webdav.NewHTTPError(http.StatusBadRequest, err)
	}
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	bk, ok := b.st.books[path.Dir(p)+"/"]
	if !ok || !ownedBy(p, "/card", userOf(ctx)) {
		return nil, webdav.NewHTTPError(http.StatusConflict, errors.New("demoserver: no such address book"))
	}
	if err := precondition(opts.IfNoneMatch, opts.IfMatch, bk.objects[p].ETag); err != nil {
		return nil, err
	}
	o := carddav.AddressObject{Path: p, ModTime: time.Now().UTC(), ContentLength: int64(buf.Len()), ETag: etagOf(buf.Bytes()), Card: card}
	bk.objects[p] = o
	return &o, nil
}

func (b *cardBackend) DeleteAddressObject(ctx context.Context, p string) error {
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	if bk, ok := b.st.books[path.Dir(p)+"/"]; ok && ownedBy(p, "/card", userOf(ctx)) {
		delete(bk.objects, p)
	}
	return nil
}

// calBackend is the CalDAV side.
type calBackend struct{ st *davStore }

func (b *calBackend) CurrentUserPrincipal(ctx context.Context) (string, error) {
	return "/cal/" + userOf(ctx), nil
}

func (b *calBackend) CalendarHomeSetPath(ctx context.Context) (string, error) {
	return "/cal/" + userOf(ctx) + "/calendars/", nil
}

func (b *calBackend) CreateCalendar(ctx context.Context, c *caldav.Calendar) error {
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	p := dir(c.Path)
	if !ownedBy(p, "/cal", userOf(ctx)) {
		return webdav.NewHTTPError(http.StatusForbidden, errors.New("demoserver: not your calendar home"))
	}
	if _, ok := b.st.cals[p]; ok {
		return webdav.NewHTTPError(http.StatusMethodNotAllowed, errors.New("demoserver: calendar exists"))
	}
	cc := *c
	cc.Path = p
	if len(cc.SupportedComponentSet) == 0 {
		cc.SupportedComponentSet = []string{ical.CompEvent, ical.CompToDo, ical.CompJournal}
	}
	b.st.cals[p] = &davCal{cal: cc, objects: map[string]caldav.CalendarObject{}}
	return nil
}

func (b *calBackend) ListCalendars(ctx context.Context) ([]caldav.Calendar, error) {
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	var out []caldav.Calendar
	for p, c := range b.st.cals {
		if ownedBy(p, "/cal", userOf(ctx)) {
			out = append(out, c.cal)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func (b *calBackend) GetCalendar(ctx context.Context, p string) (*caldav.Calendar, error) {
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	c, ok := b.st.cals[dir(p)]
	if !ok || !ownedBy(p, "/cal", userOf(ctx)) {
		return nil, errNotFound
	}
	cc := c.cal
	return &cc, nil
}

func (b *calBackend) GetCalendarObject(ctx context.Context, p string, _ *caldav.CalendarCompRequest) (*caldav.CalendarObject, error) {
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	c, ok := b.st.cals[path.Dir(p)+"/"]
	if !ok || !ownedBy(p, "/cal", userOf(ctx)) {
		return nil, errNotFound
	}
	o, ok := c.objects[p]
	if !ok {
		return nil, errNotFound
	}
	return &o, nil
}

func (b *calBackend) ListCalendarObjects(ctx context.Context, p string, _ *caldav.CalendarCompRequest) ([]caldav.CalendarObject, error) {
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	c, ok := b.st.cals[dir(p)]
	if !ok || !ownedBy(p, "/cal", userOf(ctx)) {
		return nil, errNotFound
	}
	out := make([]caldav.CalendarObject, 0, len(c.objects))
	for _, o := range c.objects {
		out = append(out, o)
	}
	return out, nil
}

func (b *calBackend) QueryCalendarObjects(ctx context.Context, p string, q *caldav.CalendarQuery) ([]caldav.CalendarObject, error) {
	all, err := b.ListCalendarObjects(ctx, p, &q.CompRequest)
	if err != nil {
		return nil, err
	}
	return caldav.Filter(q, all)
}

func (b *calBackend) PutCalendarObject(ctx context.Context, p string, cal *ical.Calendar, opts *caldav.PutCalendarObjectOptions) (*caldav.CalendarObject, error) {
	var buf bytes.Buffer
	if err := ical.NewEncoder(&buf).Encode(cal); err != nil {
		return nil, webdav.NewHTTPError(http.StatusBadRequest, err)
	}
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	c, ok := b.st.cals[path.Dir(p)+"/"]
	if !ok || !ownedBy(p, "/cal", userOf(ctx)) {
		return nil, webdav.NewHTTPError(http.StatusConflict, errors.New("demoserver: no such calendar"))
	}
	if err := precondition(opts.IfNoneMatch, opts.IfMatch, c.objects[p].ETag); err != nil {
		return nil, err
	}
	o := caldav.CalendarObject{Path: p, ModTime: time.Now().UTC(), ContentLength: int64(buf.Len()), ETag: etagOf(buf.Bytes()), Data: cal}
	c.objects[p] = o
	return &o, nil
}

func (b *calBackend) DeleteCalendarObject(ctx context.Context, p string) error {
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	if c, ok := b.st.cals[path.Dir(p)+"/"]; ok && ownedBy(p, "/cal", userOf(ctx)) {
		delete(c.objects, p)
	}
	return nil
}

func dir(p string) string {
	if !strings.HasSuffix(p, "/") {
		return p + "/"
	}
	return p
}
