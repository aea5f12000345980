package zimbratest

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Export is one REST export as Zimbra's UserServlet derives it from the
// URL (ArchiveFormatter, UserServletContext, ZimbraQuery, DateQuery).
type Export struct {
	User   string // the account, lower-case
	Folder string // the folder path in the URL ("/" for the root)
	Fmt    string
	Meta   bool     // meta=1 (the default for tgz and tar)
	Types  []string // types=
	Query  string   // query= as sent
	Start  string   // start= as sent (epoch ms)
	End    string   // end= as sent
	// After and Before are the date window of start= and end=: an item
	// is in it when After <= date < Before (zero: unbounded). start=T
	// becomes after:T, which Zimbra takes as T + 1 s. ArchiveFormatter
	// applies it to appointments by their first instance instead
	// (appt-start:>=, in a query of their own) and not to tasks; see Holds.
	After, Before time.Time
	// Since is the query's own after:<ms> (epoch ms only), T + 1 s: one
	// search over every item type, by the item's date.
	Since time.Time
	// Trash and Junk say whether items in those folders are searched:
	// only when the URL names them, or the query says is:anywhere or
	// in:trash / in:junk (the account's include-in-search preferences
	// are FALSE, as by default).
	Trash, Junk bool
	// FolderMeta says whether folder, search-folder, tag and mountpoint
	// .meta entries are written: only without query, start, end or types.
	FolderMeta bool
	// RawQuery is the URL's query string, as received.
	RawQuery string
	// Cookie names the cookie that carried the token: ZM_AUTH_TOKEN, or
	// ZM_ADMIN_AUTH_TOKEN as the admin port reads it.
	Cookie string
	// Basic: the admin's name and password came as HTTP Basic (admin
	// port only).
	Basic bool
}

// Includes reports whether a message (or any item the date window
// applies to by its date) of the folder (a path like "/Inbox/sub") with
// that date is in the export.
func (e Export) Includes(folder string, date time.Time) bool {
	return e.searches(folder) && !date.Before(e.Since) && inWindow(date, e.After, e.Before)
}

// Holds reports whether the export carries the item (not a folder), as
// ArchiveFormatter selects it: the query (and its after:) applies to
// every type by the item's date; start= and end= apply to appointments
// by their first instance (appt-start:>=; the fake takes the instance
// found in the window to be that one), and not to tasks at all.
func (e Export) Holds(it Item) bool {
	if !e.searches(it.Folder) || it.Date.Before(e.Since) {
		return false
	}
	switch it.Type {
	case TypeTask:
		return true
	case TypeAppointment:
		start := it.ApptStart
		if start.IsZero() {
			start = it.Date
		}
		return inWindow(start, e.After, e.Before)
	}
	return inWindow(it.Date, e.After, e.Before)
}

// searches reports whether the export's search reaches the folder.
func (e Export) searches(folder string) bool {
	if e.Folder != "/" && folder != e.Folder && !strings.HasPrefix(folder, e.Folder+"/") {
		return false
	}
	return (e.Trash || !under(folder, "/Trash")) && (e.Junk || !under(folder, "/Junk"))
}

func inWindow(t, after, before time.Time) bool {
	return !t.Before(after) && (before.IsZero() || t.Before(before))
}

// afterMS is a query's after:<epoch ms> terms.
var afterMS = regexp.MustCompile(`(?i)(?:^|[\s(])after:([0-9]+)(?:$|[\s)])`)

func under(folder, top string) bool {
	return strings.EqualFold(folder, top) || strings.HasPrefix(strings.ToLower(folder), strings.ToLower(top)+"/")
}

// rest serves /service/home/USER/PATH?fmt=…: a token in the cookie
// ZM_AUTH_TOKEN or ZM_ADMIN_AUTH_TOKEN (a delegated token for that
// account, or the admin's), or on the admin port the admin's name and
// password as HTTP Basic, else 401 as Zimbra asks for a login. The fake
// takes Basic from the admin only: its accounts have no passwords.
func (s *Server) rest(adminPort bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.serveREST(w, r, adminPort) }
}

func (s *Server) serveREST(w http.ResponseWriter, r *http.Request, adminPort bool) {
	p := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/service"), "/home/")
	user, folder, _ := strings.Cut(p, "/")
	folder = "/" + strings.Trim(folder, "/")
	tok, cookie := "", ""
	for _, name := range []string{"ZM_AUTH_TOKEN", "ZM_ADMIN_AUTH_TOKEN"} {
		if c, err := r.Cookie(name); err == nil && tok == "" {
			tok, cookie = c.Value, name
		}
	}
	s.mu.Lock()
	t, code := s.check(tok)
	name, pw, basic := r.BasicAuth()
	if tok == "" && basic {
		t, code = token{}, "service.AUTH_REQUIRED"
		if adminPort && !s.o.NoBasic && strings.EqualFold(name, s.o.AdminName) && pw == s.o.AdminPassword {
			code = ""
		} else {
			s.stats.BasicRefused++
		}
	}
	if user == "~" {
		user = t.account
	}
	user = strings.ToLower(user)
	_, known := s.accounts[user]
	s.mu.Unlock()
	switch {
	case code != "":
		w.Header().Set("WWW-Authenticate", `Basic realm="Zimbra"`)
		http.Error(w, "must authenticate", http.StatusUnauthorized)
		return
	case t.account != "" && t.account != user:
		http.Error(w, "permission denied", http.StatusForbidden)
		return
	case !known:
		http.Error(w, "no such account", http.StatusNotFound)
		return
	}
	s.mu.Lock()
	drop := s.drops > 0
	if drop {
		s.drops--
	}
	s.mu.Unlock()
	if drop {
		panic(http.ErrAbortHandler) // nothing written: the connection just closes
	}
	if st := s.takeFault(&s.restFail); st != 0 {
		http.Error(w, http.StatusText(st), st)
		return
	}
	e, err := parseExport(user, folder, r.URL.Query())
	if err != "" {
		http.Error(w, err, http.StatusBadRequest)
		return
	}
	e.RawQuery, e.Cookie, e.Basic = r.URL.RawQuery, cookie, tok == "" && basic
	s.mu.Lock()
	s.stats.REST++
	s.exports = append(s.exports, e)
	cut, how := int64(-1), dropIt
	switch {
	case len(s.stalls) > 0:
		cut, s.stalls, how = s.stalls[0], s.stalls[1:], stallIt
	case len(s.ends) > 0:
		cut, s.ends, how = s.ends[0], s.ends[1:], endIt
	case len(s.cuts) > 0:
		cut, s.cuts = s.cuts[0], s.cuts[1:]
	}
	s.mu.Unlock()
	s.serveExport(w, r, e, cut, how)
}

// How a cut stream ends: the connection dropped, held open in silence,
// or the answer ended as if complete.
const (
	dropIt = iota
	stallIt
	endIt
)

// parseExport derives what Zimbra searches from the URL. Dates are taken
// as epoch ms only: the other forms Zimbra accepts are parsed in the
// server's time zone and locale, and a client must not send them.
func parseExport(user, folder string, q url.Values) (Export, string) {
	e := Export{User: user, Folder: folder, Fmt: q.Get("fmt"), Query: q.Get("query"), Start: q.Get("start"), End: q.Get("end")}
	e.Meta = e.Fmt == "tgz" || e.Fmt == "tar"
	if m := q.Get("meta"); m != "" {
		e.Meta = m == "1"
	}
	if t := q.Get("types"); t != "" {
		e.Types = strings.Split(t, ",")
	}
	for _, d := range []struct {
		v   string
		to  *time.Time
		add time.Duration
	}{{e.Start, &e.After, time.Second}, {e.End, &e.Before, 0}} {
		if d.v == "" {
			continue
		}
		n, err := strconv.ParseInt(d.v, 10, 64)
		if err != nil {
			return e, "fake Zimbra: start/end must be epoch milliseconds, got " + d.v
		}
		*d.to = time.UnixMilli(n).Add(d.add)
	}
	for _, m := range afterMS.FindAllStringSubmatch(e.Query, -1) {
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return e, "fake Zimbra: after: out of range: " + m[1]
		}
		if t := time.UnixMilli(n).Add(time.Second); t.After(e.Since) {
			e.Since = t
		}
	}
	lq := strings.ToLower(e.Query)
	anywhere := strings.Contains(lq, "is:anywhere")
	e.Trash = under(folder, "/Trash") || anywhere || strings.Contains(lq, "in:trash")
	e.Junk = under(folder, "/Junk") || anywhere || strings.Contains(lq, "in:junk")
	e.FolderMeta = e.Query == "" && e.Start == "" && e.End == "" && len(e.Types) == 0
	return e, ""
}

// serveExport streams the provider's bytes: nothing written is 204; a
// cut sends 200 and cut bytes, then drops the connection (stallIt: then
// says nothing until the client hangs up; endIt: ends the answer
// normally instead).
func (s *Server) serveExport(w http.ResponseWriter, r *http.Request, e Export, cut int64, how int) {
	lw := &lazyWriter{w: w, fmt: e.Fmt, left: cut}
	var err error
	if s.o.Content != nil {
		err = s.o.Content(e, lw)
	}
	stall := how == stallIt
	switch {
	case lw.cut && how == endIt:
		return // a well-formed, complete-looking answer of cut bytes
	case lw.cut || (err != nil && lw.started):
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		if stall && lw.cut {
			select {
			case <-r.Context().Done():
			case <-s.quit:
			}
		}
		panic(http.ErrAbortHandler) // the connection dies mid-body
	case err != nil:
		http.Error(w, "export failed: "+err.Error(), http.StatusInternalServerError)
	case !lw.started:
		w.WriteHeader(http.StatusNoContent)
	}
}

// lazyWriter sends the 200 header on the first byte, so that an export
// that writes nothing can still answer 204, and stops after left bytes
// (left < 0: never).
type lazyWriter struct {
	w       http.ResponseWriter
	fmt     string
	started bool
	left    int64
	cut     bool
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !l.started {
		l.started = true
		ct := "application/x-compressed-tar"
		switch l.fmt {
		case "ics":
			ct = "text/calendar"
		case "vcf":
			ct = "text/directory"
		case "zip":
			ct = "application/zip"
		case "tar":
			ct = "application/x-tar"
		}
		l.w.Header().Set("Content-Type", ct)
		l.w.WriteHeader(http.StatusOK) // streamed: no Content-Length
	}
	if l.left >= 0 && int64(len(p)) >= l.left {
		n, _ := l.w.Write(p[:l.left])
		l.left = 0
		l.cut = true
		return n, errCut
	}
	if l.left > 0 {
		l.left -= int64(len(p))
	}
	return l.w.Write(p)
}

// errCut tells the provider its stream was cut.
var errCut = &cutError{}

type cutError struct{}

func (*cutError) Error() string { return "fake Zimbra: stream cut" }

// Flush sends what was written so far (http.Flusher), for a provider
// that streams slowly.
func (l *lazyWriter) Flush() {
	if f, ok := l.w.(http.Flusher); ok && l.started {
		f.Flush()
	}
}
