package export

import (
	"strings"

	"github.com/mailhaul/mailhaul/format"
)

// roleNames maps lower-cased folder names to roles: the names IMAP servers
// and clients create (Dovecot's sample config, Thunderbird, Outlook, Apple
// Mail, Roundcube), in English and the most common localisations.
var roleNames = map[string]format.Role{
	"inbox":                format.RoleInbox,
	"sent":                 format.RoleSent,
	"sent items":           format.RoleSent,
	"sent messages":        format.RoleSent,
	"sent mail":            format.RoleSent,
	"gesendet":             format.RoleSent,
	"gesendete objekte":    format.RoleSent,
	"gesendete elemente":   format.RoleSent,
	"envoyés":              format.RoleSent,
	"éléments envoyés":     format.RoleSent,
	"enviados":             format.RoleSent,
	"elementos enviados":   format.RoleSent,
	"posta inviata":        format.RoleSent,
	"inviati":              format.RoleSent,
	"verzonden":            format.RoleSent,
	"verzonden items":      format.RoleSent,
	"drafts":               format.RoleDrafts,
	"draft":                format.RoleDrafts,
	"entwürfe":             format.RoleDrafts,
	"brouillons":           format.RoleDrafts,
	"borradores":           format.RoleDrafts,
	"bozze":                format.RoleDrafts,
	"concepten":            format.RoleDrafts,
	"trash":                format.RoleTrash,
	"deleted items":        format.RoleTrash,
	"deleted messages":     format.RoleTrash,
	"deleted":              format.RoleTrash,
	"papierkorb":           format.RoleTrash,
	"gelöschte objekte":    format.RoleTrash,
	"gelöschte elemente":   format.RoleTrash,
	"corbeille":            format.RoleTrash,
	"éléments supprimés":   format.RoleTrash,
	"papelera":             format.RoleTrash,
	"elementos eliminados": format.RoleTrash,
	"cestino":              format.RoleTrash,
	"prullenbak":           format.RoleTrash,
	"verwijderde items":    format.RoleTrash,
	"junk":                 format.RoleJunk,
	"spam":                 format.RoleJunk,
	"junk e-mail":          format.RoleJunk,
	"junk email":           format.RoleJunk,
	"junk mail":            format.RoleJunk,
	"bulk mail":            format.RoleJunk,
	"junk-e-mail":          format.RoleJunk,
	"courrier indésirable": format.RoleJunk,
	"indésirables":         format.RoleJunk,
	"correo no deseado":    format.RoleJunk,
	"posta indesiderata":   format.RoleJunk,
	"ongewenste e-mail":    format.RoleJunk,
	"archive":              format.RoleArchive,
	"archives":             format.RoleArchive,
	"archiv":               format.RoleArchive,
	"archief":              format.RoleArchive,
	"archivio":             format.RoleArchive,
	"archivo":              format.RoleArchive,
}

// RoleForName is the role a folder called name usually has ("Sent Items"
// is sent, "Papierkorb" is trash), or RoleNone. It looks at one level of a
// folder path; which levels may earn a role is the source's decision.
func RoleForName(name string) format.Role {
	return roleNames[strings.ToLower(strings.TrimSpace(name))]
}
