package maildir

import (
	"strings"

	"github.com/mailhaul/mailhaul/format"
)

// roleNames maps lower-cased folder names to roles: the names IMAP servers
// and clients create (Dovecot's sample config, Thunderbird, Outlook, Apple
// Mail, Roundcube), in English and the most common localisations.
var roleNames = map[string]format.Role{
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

// nameRole guesses a folder's role from its path. Only top-level folders
// and direct children of INBOX (the Courier "INBOX." namespace) qualify:
// "Projects/Archive" is somebody's folder, not the archive.
func nameRole(path string) format.Role {
	if path == inboxPath {
		return format.RoleInbox
	}
	name := path
	if i := strings.IndexByte(path, '/'); i >= 0 {
		if path[:i] != inboxPath || strings.IndexByte(path[i+1:], '/') >= 0 {
			return format.RoleNone
		}
		name = path[i+1:]
	}
	return roleNames[strings.ToLower(strings.TrimSpace(name))]
}

// assignRoles sets each folder's role from its name; a role goes to the
// first folder (in export order) that earns it, because a role names one
// folder and an importer maps it to one target folder.
func assignRoles(folders []*folder) {
	taken := map[format.Role]bool{}
	for _, f := range folders {
		r := nameRole(f.path)
		if r == format.RoleNone || taken[r] {
			continue
		}
		taken[r] = true
		f.role = r
	}
}
