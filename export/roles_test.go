package export_test

import (
	"testing"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/format"
)

func TestRoleForName(t *testing.T) {
	for name, want := range map[string]format.Role{
		"Inbox": format.RoleInbox, " Sent Items ": format.RoleSent, "GELÖSCHTE OBJEKTE": format.RoleTrash,
		"Spam": format.RoleJunk, "Archiv": format.RoleArchive, "Bozze": format.RoleDrafts,
		"Work": format.RoleNone, "Sent/2024": format.RoleNone,
	} {
		if got := export.RoleForName(name); got != want {
			t.Errorf("RoleForName(%q) = %q, want %q", name, got, want)
		}
	}
}
