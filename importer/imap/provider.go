package imap

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mailhaul/mailhaul/format"
)

// Profile is what the importer knows about a kind of target server.
type Profile struct {
	Name string
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
	// before the importer replaces it; Exchange drops it at the 10th.
	ErrorBudget int
	// RoleNames are the folder names the provider uses for special
	// folders when it does not announce SPECIAL-USE.
	RoleNames map[format.Role]string
	// Reserved are top-level names (case-insensitive) a user folder must
	// not take, besides INBOX.
	Reserved []string
	// CaseInsensitive targets merge names differing only in case.
	CaseInsensitive bool
	// RefusesPadding targets refuse names with leading, trailing or
	// doubled spaces (Gmail answers [CANNOT]).
	RefusesPadding bool
}

var standardRoles = map[format.Role]string{
	format.RoleSent: "Sent", format.RoleDrafts: "Drafts", format.RoleTrash: "Trash",
	format.RoleJunk: "Junk", format.RoleArchive: "Archive",
}

var profiles = map[string]Profile{
	"generic": {Connections: 4, MaxConnections: 8, ErrorBudget: 9, RoleNames: standardRoles},
	// Dovecot's mail_max_userip_connections defaults to 10.
	"dovecot": {Connections: 4, MaxConnections: 8, ErrorBudget: 9, RoleNames: standardRoles},
	"gmail": {Connections: 8, MaxConnections: 15, ErrorBudget: 9, MaxMessageSize: 35651584,
		UploadCap: 500 << 20, CaseInsensitive: true, RefusesPadding: true, Reserved: []string{"[Gmail]"},
		RoleNames: map[format.Role]string{format.RoleSent: "[Gmail]/Sent Mail", format.RoleDrafts: "[Gmail]/Drafts",
			format.RoleTrash: "[Gmail]/Trash", format.RoleJunk: "[Gmail]/Spam", format.RoleArchive: "Archive"}},
	"office365": {Connections: 8, MaxConnections: 16, ErrorBudget: 9, MaxMessageSize: 35 << 20, CaseInsensitive: true,
		RoleNames: exchangeRoles},
	"exchange": {Connections: 8, MaxConnections: 16, ErrorBudget: 9, MaxMessageSize: 35 << 20, CaseInsensitive: true,
		RoleNames: exchangeRoles},
	"zimbra": {Connections: 4, MaxConnections: 8, ErrorBudget: 9, RoleNames: standardRoles},
}

var exchangeRoles = map[format.Role]string{
	format.RoleSent: "Sent Items", format.RoleDrafts: "Drafts", format.RoleTrash: "Deleted Items",
	format.RoleJunk: "Junk Email", format.RoleArchive: "Archive",
}

// LookupProfile returns the named provider profile.
func LookupProfile(name string) (Profile, error) {
	if name == "" {
		name = "generic"
	}
	p, ok := profiles[strings.ToLower(name)]
	if !ok {
		return Profile{}, fmt.Errorf("imap: unknown provider %q (known: %s)", name, strings.Join(ProfileNames(), ", "))
	}
	p.Name = strings.ToLower(name)
	return p, nil
}

// ProfileNames lists the known providers.
func ProfileNames() []string {
	var names []string
	for n := range profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
