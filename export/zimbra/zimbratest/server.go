package zimbratest

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// ServerOptions shape a fake Zimbra. Zero fields take Zimbra's defaults.
type ServerOptions struct {
	// AdminName and AdminPassword are the admin account AuthRequest
	// accepts (default admin@example.test / "admin-secret").
	AdminName, AdminPassword string
	// AdminLifetime is an admin token's life (Zimbra: 12 h).
	AdminLifetime time.Duration
	// DelegateLifetime caps a delegated token's life (Zimbra's
	// zimbraAuthTokenLifetime; DelegateAuthRequest's default: 1 h).
	DelegateLifetime time.Duration
	// SearchCap is SearchDirectoryRequest's cap when maxResults is not
	// "0" (Zimbra: 5,000): a search matching more fails with
	// account.TOO_MANY_SEARCH_RESULTS, whatever its limit.
	SearchCap int
	// MailHost is the zimbraMailHost of accounts that name none
	// (default mbox1.example.test).
	MailHost string
	// DoSLimit is Jetty's DoSFilter: at most so many requests in any one
	// second per client address; the rest are refused with DoSStatus
	// (default 429; Jetty before 9.4 answered 503). 0: no filter.
	DoSLimit  int
	DoSStatus int
	// Content writes what a REST export returns; nil writes nothing (204).
	Content ContentFunc
	// IgnoreAttrs answers every attribute whatever attrs= asks, as
	// older releases do.
	IgnoreAttrs bool
	// NoBasic is an installation that does not take HTTP Basic on the
	// admin port: 401 to it, as to a wrong password.
	NoBasic bool
	// OnSOAP, when set, is called with each SOAP request's name before
	// it is answered (outside the server's lock: it may change accounts).
	OnSOAP func(name string)
}

// ContentFunc writes the body of one REST export, e.g. a tgz made by this
// package's writer from the items e.Includes. Writing nothing gives HTTP
// 204, as Zimbra answers an export that matched nothing. An error before
// the first byte is a 500; after it, the connection is dropped mid-body,
// as a dying transfer does (a cut gzip). w is an http.Flusher too.
type ContentFunc func(e Export, w io.Writer) error

// Account is one mailbox of the fake.
type Account struct {
	Name string
	// ID is the zimbraId (generated when empty).
	ID string
	// Attrs are LDAP attributes (displayName, zimbraMailAlias, ...).
	// zimbraMailHost defaults to ServerOptions.MailHost; userPassword is
	// answered as VALUE-BLOCKED over SOAP, as Zimbra does.
	Attrs map[string][]string
	// MailboxSize is GetMailboxRequest's s, in bytes.
	MailboxSize int64
	// Folders are the children of USER_ROOT (id 1); nil: DefaultFolders.
	Folders []*Folder
	// Signatures and Identities are the account's own (GetSignatures,
	// GetIdentities); nil Identities: the DEFAULT one Zimbra always has.
	Signatures []Signature
	Identities []Identity
	// MemberOf lists the distribution lists the account is in.
	MemberOf []string
	// Resource makes it a calendar resource (a room, equipment): listed
	// only with types=resources, as "calresource".
	Resource bool
	// Items are what its SearchRequest lists (messages, contacts,
	// appointments, tasks; folders are ignored): a Mailbox's Items.
	Items []Item
}

// Signature is one signature of an account.
type Signature struct {
	Name, Text, HTML string
}

// Identity is one sending identity of an account.
type Identity struct {
	Name  string
	Attrs map[string][]string
}

// Folder is one node of GetFolderRequest's tree: a folder, a mountpoint
// (Link set) or a search folder (Query set).
type Folder struct {
	ID     int
	Name   string
	View   string // message, contact, appointment, task, document ...
	Color  int    // index into Zimbra's ten colours; 0: none
	RGB    string // "#rrggbb", a custom colour
	N      int    // item count
	S      int64  // size in bytes
	Unread int
	Query  string // a search folder's query
	Link   *Link  // a mountpoint
	Sub    []*Folder
}

// Link is a mountpoint's target: the owner's account and folder.
type Link struct {
	Owner, ZID string
	RID        int
}

// DefaultFolders is a new ZCS 8+ mailbox's system folders.
func DefaultFolders() []*Folder {
	return []*Folder{
		{ID: 2, Name: "Inbox", View: "message"},
		{ID: 3, Name: "Trash"},
		{ID: 4, Name: "Junk", View: "message"},
		{ID: 5, Name: "Sent", View: "message"},
		{ID: 6, Name: "Drafts", View: "message"},
		{ID: 7, Name: "Contacts", View: "contact"},
		{ID: 10, Name: "Calendar", View: "appointment"},
		{ID: 13, Name: "Emailed Contacts", View: "contact"},
		{ID: 14, Name: "Chats", View: "message"},
		{ID: 15, Name: "Tasks", View: "task"},
		{ID: 16, Name: "Briefcase", View: "document"},
	}
}

// Stats count what the fake was asked.
type Stats struct {
	SOAP    map[string]int // by request name, refused ones excluded
	REST    int            // REST requests that reached the export
	Refused int            // DoS-filter refusals
	// BasicRefused counts HTTP Basic logins refused: each is a failed
	// login towards the account's lockout, as Zimbra counts them.
	BasicRefused int
}

// Server is a running fake Zimbra on a loopback TLS address; it plays the
// admin port and the mailbox server at once. It is safe for concurrent use.
type Server struct {
	URL string
	// MailURL is the mailbox server alone (Zimbra's proxy port, 443):
	// user SOAP and REST, no admin SOAP, and no HTTP Basic for the admin,
	// which Zimbra takes on the admin port only (AuthUtil.isAdminRequest).
	MailURL string
	ts      *httptest.Server
	mail    *httptest.Server
	o       ServerOptions

	mu       sync.Mutex
	offset   time.Duration // Advance's shift of the token clock
	accounts map[string]*Account
	tokens   map[string]token
	issued   []string
	restFail []int
	drops    int
	soapFail []int
	cuts     []int64
	ends     []int64 // EndREST's byte counts
	stalls   []int64
	soapHold []int64            // StallSOAP's byte counts
	soapCuts map[string][]int64 // CutSOAP's byte counts, by request name
	quit     chan struct{}      // closed before the server: stalled handlers end
	dos      map[string][]time.Time
	stats    Stats
	exports  []Export
}

type token struct {
	account string // "" for the admin
	expires time.Time
}

// NewServer starts a fake Zimbra, closed when the test ends.
func NewServer(t testing.TB, o ServerOptions) *Server {
	if o.AdminName == "" {
		o.AdminName = "admin@example.test"
	}
	if o.AdminPassword == "" {
		o.AdminPassword = "admin-secret"
	}
	if o.AdminLifetime <= 0 {
		o.AdminLifetime = 12 * time.Hour
	}
	if o.DelegateLifetime <= 0 {
		o.DelegateLifetime = time.Hour
	}
	if o.SearchCap <= 0 {
		o.SearchCap = 5000
	}
	if o.MailHost == "" {
		o.MailHost = "mbox1.example.test"
	}
	if o.DoSStatus == 0 {
		o.DoSStatus = http.StatusTooManyRequests
	}
	s := &Server{o: o, accounts: map[string]*Account{}, tokens: map[string]token{},
		dos: map[string][]time.Time{}, stats: Stats{SOAP: map[string]int{}}}
	mux := func(adminPort bool) http.Handler {
		mux := http.NewServeMux()
		if adminPort {
			mux.HandleFunc("POST /service/admin/soap/", s.soap(true))
			mux.HandleFunc("POST /service/admin/soap", s.soap(true))
		}
		mux.HandleFunc("POST /service/soap/", s.soap(false))
		mux.HandleFunc("POST /service/soap", s.soap(false))
		mux.HandleFunc("GET /service/home/", s.rest(adminPort))
		mux.HandleFunc("GET /home/", s.rest(adminPort))
		return s.dosFilter(mux)
	}
	s.ts = httptest.NewUnstartedServer(mux(true))
	s.ts.StartTLS()
	s.URL = s.ts.URL
	t.Cleanup(s.ts.Close)
	s.mail = httptest.NewUnstartedServer(mux(false)) // the same test certificate
	s.mail.StartTLS()
	s.MailURL = s.mail.URL
	t.Cleanup(s.mail.Close)
	s.quit = make(chan struct{})
	t.Cleanup(func() { close(s.quit) }) // runs before Close
	return s
}

// RootCAs trusts the fake's certificate.
func (s *Server) RootCAs() *x509.CertPool {
	return s.ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
}

// AddAccount adds a mailbox (replacing one of the same name).
func (s *Server) AddAccount(a Account) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.ID == "" {
		a.ID = newID()
	}
	if a.Folders == nil {
		a.Folders = DefaultFolders()
	}
	if a.Identities == nil {
		a.Identities = []Identity{{Name: "DEFAULT", Attrs: map[string][]string{"zimbraPrefFromAddress": {a.Name}}}}
	}
	s.accounts[strings.ToLower(a.Name)] = &a
}

// SetFolders replaces an account's folder tree (and its counts), as the
// store changes while an export runs.
func (s *Server) SetFolders(name string, folders []*Folder) {
	s.locked(func() {
		if a := s.accounts[strings.ToLower(name)]; a != nil {
			a.Folders = folders
		}
	})
}

// RemoveAccount deletes a mailbox, as zmprov da does.
func (s *Server) RemoveAccount(name string) {
	s.locked(func() { delete(s.accounts, strings.ToLower(name)) })
}

// locked runs f under the server's lock.
func (s *Server) locked(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

// Advance moves the clock that tokens expire by.
func (s *Server) Advance(d time.Duration) {
	s.locked(func() { s.offset += d })
}

// FailREST makes the next REST requests answer these statuses (a 503 of
// an overloaded proxy, a 500) before any body.
func (s *Server) FailREST(status ...int) {
	s.locked(func() { s.restFail = append(s.restFail, status...) })
}

// FailSOAP does the same for the next SOAP requests.
func (s *Server) FailSOAP(status ...int) {
	s.locked(func() { s.soapFail = append(s.soapFail, status...) })
}

// DropREST makes the next n REST requests end with the connection closed
// before any answer, as a proxy that restarts does.
func (s *Server) DropREST(n int) {
	s.locked(func() { s.drops += n })
}

// CutREST makes the next REST exports with content send 200 and that
// many bytes of their body, then drop the connection.
func (s *Server) CutREST(after ...int64) {
	s.locked(func() { s.cuts = append(s.cuts, after...) })
}

// EndREST makes the next REST exports with content send 200 and that
// many bytes of their body, then end the answer normally: what a client
// sees when mailboxd dies mid-export behind Zimbra's nginx (which speaks
// HTTP/1.0 upstream, where the close marks the end, and so closes its
// own reply properly), or when zmmailbox exits 0 after a short copy.
func (s *Server) EndREST(after ...int64) {
	s.locked(func() { s.ends = append(s.ends, after...) })
}

// StallREST makes the next REST exports with content send 200 and that
// many bytes of their body, then go silent with the connection open
// until the client gives up (or the test ends).
func (s *Server) StallREST(after ...int64) {
	s.locked(func() { s.stalls = append(s.stalls, after...) })
}

// StallSOAP makes the next SOAP answers send their headers and that
// many bytes of their JSON body, then go silent with the connection open
// until the client hangs up (or the test ends).
func (s *Server) StallSOAP(after ...int64) {
	s.locked(func() { s.soapHold = append(s.soapHold, after...) })
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.stats
	c.SOAP = map[string]int{}
	for k, v := range s.stats.SOAP {
		c.SOAP[k] = v
	}
	return c
}

// Exports lists the REST exports asked for, in order.
func (s *Server) Exports() []Export {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Export(nil), s.exports...)
}

// Secrets lists every secret the fake knows: the admin password and all
// tokens issued, for tests that check none leaks into logs or errors.
func (s *Server) Secrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string{s.o.AdminPassword}, s.issued...)
}

func (s *Server) now() time.Time { return time.Now().Add(s.offset) }

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// issue makes a token for account ("" = the admin) living d.
func (s *Server) issue(account string, d time.Duration) string {
	var b [24]byte
	rand.Read(b[:])
	tok := "0_" + hex.EncodeToString(b[:])
	s.tokens[tok] = token{account: account, expires: s.now().Add(d)}
	s.issued = append(s.issued, tok)
	return tok
}

// check resolves a token; the fault code says why it is refused.
func (s *Server) check(tok string) (token, string) {
	t, ok := s.tokens[tok]
	switch {
	case tok == "" || !ok:
		return t, "service.AUTH_REQUIRED"
	case !s.now().Before(t.expires):
		return t, "service.AUTH_EXPIRED"
	}
	return t, ""
}

// dosFilter refuses a client's request when it already made DoSLimit
// requests within the last second, as Jetty's DoSFilter does (the
// refused request counts too, so a client that does not slow down stays
// refused).
func (s *Server) dosFilter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.o.DoSLimit > 0 {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			now := time.Now()
			s.mu.Lock()
			seen := append(s.dos[host], now)
			if len(seen) > s.o.DoSLimit {
				seen = seen[len(seen)-s.o.DoSLimit-1:]
			}
			s.dos[host] = seen
			refuse := len(seen) > s.o.DoSLimit && now.Sub(seen[0]) < time.Second
			if refuse {
				s.stats.Refused++
			}
			s.mu.Unlock()
			if refuse {
				http.Error(w, "Too Many Requests", s.o.DoSStatus)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// takeFault pops the next queued status from q.
func (s *Server) takeFault(q *[]int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(*q) == 0 {
		return 0
	}
	st := (*q)[0]
	*q = (*q)[1:]
	return st
}

// sortedAccounts lists the accounts by name.
func (s *Server) sortedAccounts() []*Account {
	out := make([]*Account, 0, len(s.accounts))
	for _, a := range s.accounts {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ms formats a duration as Zimbra's lifetime, in milliseconds.
func ms(d time.Duration) int64 { return d.Milliseconds() }
