package importer

import (
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
)

// emptyArchive writes an archive of user (after marks a delta) into dir.
func emptyArchive(t *testing.T, dir, user string, after time.Time) string {
	t.Helper()
	f, err := format.Create(dir, format.Manifest{User: user, After: after, Source: format.Source{Kind: "test"}}, nil)
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return f.Path()
}

func TestArchivesUser(t *testing.T) {
	dir := t.TempDir()
	full := emptyArchive(t, dir, "alice@example.org", time.Time{})
	delta := emptyArchive(t, dir, "Alice@Example.org", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	bob := emptyArchive(t, t.TempDir(), "bob@example.org", time.Time{})
	if u, err := ArchivesUser([]string{full, delta}); err != nil || u != "alice@example.org" {
		t.Errorf("ArchivesUser = %q, %v; want the first archive's user", u, err)
	}
	_, err := ArchivesUser([]string{full, bob})
	if err == nil || !strings.Contains(err.Error(), "the archives belong to different users") ||
		!strings.Contains(err.Error(), "alice@example.org's") || !strings.Contains(err.Error(), "bob@example.org's") {
		t.Errorf("mixed users: %v", err)
	}
	if _, err := ArchivesUser(nil); err == nil {
		t.Error("no archives: no error")
	}
}

func TestCheckArchiveUser(t *testing.T) {
	a := []string{emptyArchive(t, t.TempDir(), "alice@example.org", time.Time{})}
	for _, c := range []struct {
		login, archiveUser, want string // want "": accepted
	}{
		{"alice@example.org", "", ""},
		{"ALICE@example.org", "", ""},
		{"alice", "", ""},
		{"alice@other.org", "", "holds the mailbox of alice@example.org, not of the login alice@other.org"},
		{"bob@example.org", "", "confirm with --archive-user alice@example.org"},
		{"bob@example.org", "alice@example.org", ""},
		{"bob@example.org", "carol@example.org", "--archive-user carol@example.org does not match the archives' user alice@example.org"},
	} {
		err := CheckArchiveUser(a, c.login, c.archiveUser)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("login %q, --archive-user %q: %v; want %q", c.login, c.archiveUser, err, c.want)
		}
	}
}
