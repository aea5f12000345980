package imapconn

import (
	"fmt"
	"sort"
	"strings"
)

// Limits are what a provider allows one user's connections. How the
// provider names folders is the importer's business, not the
// connection's.
type Limits struct {
	// Connections is the default and MaxConnections the cap of parallel
	// connections per user (Gmail allows 15, Exchange 16 by default).
	Connections, MaxConnections int
	// MaxMessageSize refuses larger messages up front (0: only the
	// server's APPENDLIMIT, if it announces one).
	MaxMessageSize int64
	// UploadCap is the most bytes the provider accepts per day over IMAP
	// (Gmail: about 500 MB); a run stops sending there and says so.
	UploadCap int64
	// ErrorBudget is how many NO/BAD answers a connection may collect
	// before it is replaced; Exchange drops it at the 10th.
	ErrorBudget int
}

var limits = map[string]Limits{
	"generic": {Connections: 4, MaxConnections: 8, ErrorBudget: 9},
	// Dovecot's mail_max_userip_connections defaults to 10.
	"dovecot":   {Connections: 4, MaxConnections: 8, ErrorBudget: 9},
	"gmail":     {Connections: 8, MaxConnections: 15, ErrorBudget: 9, MaxMessageSize: 35651584, UploadCap: 500 << 20},
	"office365": {Connections: 8, MaxConnections: 16, ErrorBudget: 9, MaxMessageSize: 35 << 20},
	"exchange":  {Connections: 8, MaxConnections: 16, ErrorBudget: 9, MaxMessageSize: 35 << 20},
	"zimbra":    {Connections: 4, MaxConnections: 8, ErrorBudget: 9},
}

// ProviderLimits returns a provider's connection limits; "" is
// "generic".
func ProviderLimits(provider string) (Limits, error) {
	if provider == "" {
		provider = "generic"
	}
	l, ok := limits[strings.ToLower(provider)]
	if !ok {
		return Limits{}, fmt.Errorf("imap: unknown provider %q (known: %s)", provider, strings.Join(Providers(), ", "))
	}
	return l, nil
}

// Providers lists the known providers.
func Providers() []string {
	var names []string
	for n := range limits {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
