package migrate

import (
	"sync"

	"golang.org/x/sync/semaphore"

	imapimport "github.com/mailhaul/mailhaul/importer/imap"
	"github.com/mailhaul/mailhaul/internal/ratelimit"
)

// Servers hands out the limits every user's import into one target server
// shares: one cap on append connections per server (a server limits
// them all together, not per user), and one byte pacer for the whole run.
// The throttling window stays each user's (a provider throttles an
// account). Without it, eight users each open their own connections and
// nothing holds the server's cap.
type Servers struct {
	// ConnsPerServer caps the append connections open at once to one
	// server, over all users (0: no shared cap). Each user importing
	// holds one control connection besides, so UsersAtOnce bounds those.
	ConnsPerServer int
	// Pacer, when set, paces every user's upload together (bandwidth).
	Pacer *ratelimit.Pacer

	mu   sync.Mutex
	imap map[string]imapimport.Limits
}

// IMAP returns the limits of the IMAP server at addr (host:port), the
// same for every caller: put them in each user's imap.Options.Limits.
func (s *Servers) IMAP(addr string) imapimport.Limits {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.imap[addr]; ok {
		return l
	}
	if s.imap == nil {
		s.imap = map[string]imapimport.Limits{}
	}
	l := imapimport.Limits{Pacer: s.Pacer}
	if s.ConnsPerServer > 0 {
		l.Conns = semaphore.NewWeighted(int64(s.ConnsPerServer))
	}
	s.imap[addr] = l
	return l
}
