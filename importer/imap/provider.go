package imap

import (
	"strings"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/imapconn"
)

// Profile is what the importer knows about a kind of target server: its
// connection limits (imapconn's) and how it names folders.
type Profile struct {
	Name string
	imapconn.Limits
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

// naming is each provider's folder naming; its connection limits are
// imapconn.ProviderLimits, under the same names. A provider without an
// entry here names folders the standard way.
var naming = map[string]Profile{
	"gmail": {CaseInsensitive: true, RefusesPadding: true, Reserved: []string{"[Gmail]"},
		RoleNames: map[format.Role]string{format.RoleSent: "[Gmail]/Sent Mail", format.RoleDrafts: "[Gmail]/Drafts",
			format.RoleTrash: "[Gmail]/Trash", format.RoleJunk: "[Gmail]/Spam", format.RoleArchive: "Archive"}},
	"office365": {CaseInsensitive: true, RoleNames: exchangeRoles},
	"exchange":  {CaseInsensitive: true, RoleNames: exchangeRoles},
}

var exchangeRoles = map[format.Role]string{
	format.RoleSent: "Sent Items", format.RoleDrafts: "Drafts", format.RoleTrash: "Deleted Items",
	format.RoleJunk: "Junk Email", format.RoleArchive: "Archive",
}

// LookupProfile returns the named provider profile.
func LookupProfile(name string) (Profile, error) {
	lim, err := imapconn.ProviderLimits(name)
	if err != nil {
		return Profile{}, err
	}
	if name == "" {
		name = "generic"
	}
	name = strings.ToLower(name)
	p, ok := naming[name]
	if !ok {
		p = Profile{RoleNames: standardRoles}
	}
	p.Name, p.Limits = name, lim
	return p, nil
}

// ProfileNames lists the known providers.
func ProfileNames() []string { return imapconn.Providers() }
