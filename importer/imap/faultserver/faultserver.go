// Package faultserver is an in-process IMAP server (go-imap's memory
// server) that misbehaves the way large providers do, for the importer's
// and the IMAP source's tests:
// Exchange's per-user budget of server time (micro-delays once the burst
// is spent, "Request is throttled. Suggested Backoff Time: N milliseconds"
// past the cutoff), the disconnect after 10 errors on one connection, and
// connections dropped at random (before or after the message is stored,
// so a client cannot know which); for reads, FETCH charged to the same
// budget and refused for chosen messages.
package faultserver

import (
	"errors"
	"fmt"
	"math/rand"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// Budget is Exchange's throttling budget, in milliseconds of server time,
// with the hour scaled down for tests.
type Budget struct {
	MaxBurst        float64       // balance a user starts with
	RechargePerHour float64       // balance added back per (scaled) hour
	Cutoff          float64       // overdraft at which requests are refused
	Hour            time.Duration // how long an hour lasts here
	CostPerAppend   float64       // server time one APPEND is charged
	MaxMicroDelay   time.Duration // delay per command at the cutoff
	// Pace, if set, caps the recharge one command earns while the user is
	// not refused: at most Pace's worth, however long ago the last one
	// came. A client slower than one command per Pace (a loaded machine)
	// is then throttled as one at that pace is, so a test sees the faults
	// whatever the machine's speed. While refused, the wall clock counts
	// in full: the client was told to wait. 0: the wall clock throughout.
	Pace time.Duration
}

// Office365 is the budget Office 365 configured (ImapMaxBurst 240000,
// ImapRechargeRate 360000, ImapCutoffBalance 600000), with an hour lasting
// hour, and each APPEND charged cost.
func Office365(hour time.Duration, cost float64) Budget {
	return Budget{MaxBurst: 240000, RechargePerHour: 360000, Cutoff: 600000, Hour: hour,
		CostPerAppend: cost, MaxMicroDelay: 20 * time.Millisecond}
}

// BestTime is the shortest time n APPENDs can take under the budget:
// the burst and the whole overdraft up to the cutoff spent at once, the
// rest at the recharge rate (micro-delays ignored, so no client reaches it).
func (b Budget) BestTime(n int) time.Duration {
	need := float64(n)*b.CostPerAppend - b.MaxBurst - b.Cutoff
	if need <= 0 {
		return 0
	}
	return time.Duration(need / b.RechargePerHour * float64(b.Hour))
}

// Options configure a Server.
type Options struct {
	Users      map[string]string // login → password; each gets an INBOX
	Budget     *Budget           // nil: no throttling
	ErrorLimit int               // NO/BAD answers after which a connection is closed (0: never)
	DropRate   float64           // chance that an APPEND's connection is cut
	Seed       int64
	// Hook, if set, is called as each APPEND arrives, with the number of
	// its connection (1 for the first accepted) and of the APPEND on that
	// connection. An error it returns is the answer; it may block to hold
	// the command (and every later one on that connection) in flight.
	Hook func(conn, n int) error
	// FetchHook, if set, is called as each FETCH arrives, with its
	// connection's number and the messages asked for. An error it
	// returns is the answer (a NO, as a server gives for a message it
	// cannot read), counted against ErrorLimit.
	FetchHook func(conn int, numSet imap.NumSet) error
	// CostPerFetch charges each FETCH to Budget as CostPerAppend charges
	// an APPEND: throttling applies to reads too (0: FETCH is free).
	CostPerFetch float64
}

// Stats count what the server did to its clients.
type Stats struct {
	Appends, Throttled, Delayed, ErrorDisconnects, Drops int64
}

// Server is a running fault server.
type Server struct {
	Addr  string
	opt   Options
	srv   *imapserver.Server
	ln    net.Listener
	mem   *imapmemserver.Server
	users map[string]*imapmemserver.User

	mu      sync.Mutex
	rnd     *rand.Rand
	balance map[string]float64
	updated map[string]time.Time
	refused map[string]bool // the user's last command was refused

	appends, throttled, delayed, errDisc, drops atomic.Int64
	sessions                                    atomic.Int64
}

// Start listens on a free port of 127.0.0.1.
func Start(opt Options) (*Server, error) {
	s := &Server{opt: opt, mem: imapmemserver.New(), users: map[string]*imapmemserver.User{},
		rnd: rand.New(rand.NewSource(opt.Seed)), balance: map[string]float64{}, updated: map[string]time.Time{}, refused: map[string]bool{}}
	for u, p := range opt.Users {
		user := imapmemserver.NewUser(u, p)
		if err := user.Create("INBOX", nil); err != nil {
			return nil, fmt.Errorf("faultserver: %w", err)
		}
		s.mem.AddUser(user)
		s.users[u] = user
	}
	s.srv = imapserver.New(&imapserver.Options{
		NewSession: func(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			id := int(s.sessions.Add(1))
			return &session{Session: s.mem.NewSession(), s: s, conn: c, id: id}, nil, nil
		},
		// Exchange offers LITERAL+ and UIDPLUS, not MULTIAPPEND. (MOVE and
		// NAMESPACE would need the wrapped session to expose them.)
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapLiteralPlus: {}, imap.CapUIDPlus: {}},
		InsecureAuth: true,
		Logger:       discardLogger{},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultserver: %w", err)
	}
	s.ln, s.Addr = ln, ln.Addr().String()
	go s.srv.Serve(ln)
	return s, nil
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// User returns a user's mailboxes, for checks.
func (s *Server) User(name string) *imapmemserver.User { return s.users[name] }

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{Appends: s.appends.Load(), Throttled: s.throttled.Load(), Delayed: s.delayed.Load(),
		ErrorDisconnects: s.errDisc.Load(), Drops: s.drops.Load()}
}

// charge spends a command's cost from the user's budget: nothing while
// the balance is positive, a delay growing with the overdraft after that,
// and a refusal past the cutoff, naming how long until the balance is
// back to half the cutoff.
func (s *Server) charge(user string, cost float64) (delay time.Duration, refuse time.Duration) {
	b := s.opt.Budget
	if b == nil {
		return 0, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	bal, seen := s.balance[user]
	if !seen {
		bal = b.MaxBurst
	} else {
		passed := now.Sub(s.updated[user])
		if b.Pace > 0 && !s.refused[user] {
			passed = min(passed, b.Pace)
		}
		perSec := b.RechargePerHour / b.Hour.Seconds()
		bal = min(b.MaxBurst, bal+passed.Seconds()*perSec)
	}
	s.updated[user] = now
	s.refused[user] = bal <= -b.Cutoff
	if bal <= -b.Cutoff {
		s.balance[user] = bal
		perSec := b.RechargePerHour / b.Hour.Seconds()
		return 0, time.Duration((-b.Cutoff/2 - bal) / perSec * float64(time.Second))
	}
	bal -= cost
	s.balance[user] = bal
	if bal < 0 {
		return time.Duration(float64(b.MaxMicroDelay) * (-bal / b.Cutoff)), 0
	}
	return 0, 0
}

func (s *Server) roll() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rnd.Float64()
}

// session wraps a memory-server session with the faults.
type session struct {
	imapserver.Session
	s    *Server
	conn *imapserver.Conn
	user string
	errs int
	id   int // connection number, for Hook
	n    int // APPENDs so far on this connection, for Hook
}

// count tallies an error answer and closes the connection at the limit,
// as Exchange does at the 10th.
func (ss *session) count(err error) error {
	if err == nil {
		return nil
	}
	ss.errs++
	if lim := ss.s.opt.ErrorLimit; lim > 0 && ss.errs >= lim {
		ss.s.errDisc.Add(1)
		nc := ss.conn.NetConn()
		// Let the NO reach the client, then hang up.
		time.AfterFunc(5*time.Millisecond, func() { nc.Close() })
	}
	return err
}

func (ss *session) Login(user, pass string) error {
	err := ss.Session.Login(user, pass)
	if err == nil {
		ss.user = user
	}
	return ss.count(err)
}

func (ss *session) Append(mailbox string, r imap.LiteralReader, opt *imap.AppendOptions) (*imap.AppendData, error) {
	if hook := ss.s.opt.Hook; hook != nil {
		ss.n++
		if err := hook(ss.id, ss.n); err != nil {
			return nil, ss.count(err)
		}
	}
	cost := 0.0
	if b := ss.s.opt.Budget; b != nil {
		cost = b.CostPerAppend
	}
	if err := ss.throttle(cost); err != nil {
		return nil, err
	}
	drop := ss.s.opt.DropRate > 0 && ss.s.roll() < ss.s.opt.DropRate
	after := drop && ss.s.roll() < 0.5
	if drop && !after {
		ss.s.drops.Add(1)
		ss.conn.NetConn().Close()
		return nil, errors.New("dropped")
	}
	data, err := ss.Session.Append(mailbox, r, opt)
	if err == nil {
		ss.s.appends.Add(1)
	}
	if after {
		// Stored, but the client never hears so.
		ss.s.drops.Add(1)
		ss.conn.NetConn().Close()
	}
	return data, ss.count(err)
}

func (ss *session) Select(mailbox string, opt *imap.SelectOptions) (*imap.SelectData, error) {
	d, err := ss.Session.Select(mailbox, opt)
	return d, ss.count(err)
}

func (ss *session) Create(mailbox string, opt *imap.CreateOptions) error {
	return ss.count(ss.Session.Create(mailbox, opt))
}

// throttle charges a command's cost: a micro-delay, or Office 365's
// refusal naming its backoff.
func (ss *session) throttle(cost float64) error {
	delay, refuse := ss.s.charge(ss.user, cost)
	if refuse > 0 {
		ss.s.throttled.Add(1)
		return ss.count(&imap.Error{Type: imap.StatusResponseTypeNo,
			Text: fmt.Sprintf("Request is throttled. Suggested Backoff Time: %d milliseconds", refuse.Milliseconds())})
	}
	if delay > 0 {
		ss.s.delayed.Add(1)
		time.Sleep(delay)
	}
	return nil
}

func (ss *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, opt *imap.FetchOptions) error {
	if hook := ss.s.opt.FetchHook; hook != nil {
		if err := hook(ss.id, numSet); err != nil {
			return ss.count(err)
		}
	}
	if ss.s.opt.CostPerFetch > 0 {
		if err := ss.throttle(ss.s.opt.CostPerFetch); err != nil {
			return err
		}
	}
	return ss.count(ss.Session.Fetch(w, numSet, opt))
}
