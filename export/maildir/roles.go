package maildir

import (
	"strings"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/format"
)

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
	return export.RoleForName(name)
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
