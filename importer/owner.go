package importer

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/report"
)

// ArchivesUser is the user whose archives these are, from their
// manifests only. Archives of different users are refused: one run loads
// one mailbox, and a shell glob or a slip of the hand must not mix two.
func ArchivesUser(archives []string) (string, error) {
	if len(archives) == 0 {
		return "", errors.New("no archives given")
	}
	owner, first := "", archives[0]
	for i, path := range archives {
		r, err := format.Open(path, nil)
		if err != nil {
			return "", err
		}
		u := r.Manifest().User
		r.Close()
		switch {
		case i == 0:
			owner = u
		case !strings.EqualFold(u, owner): // as the login is compared: SameUser
			return "", report.WithAdvice(fmt.Errorf("the archives belong to different users: %s is %s's, %s is %s's; import one user's archives in a run",
				filepath.Base(first), owner, filepath.Base(path), u), "import each user's archives in a run of their own")
		}
	}
	return owner, nil
}

// CheckArchiveUser refuses archives of different users in one run
// (ArchivesUser), and archives of a user other than the login unless
// archiveUser confirms it: one user's mail must not land in another's
// mailbox by mistake.
func CheckArchiveUser(archives []string, login, archiveUser string) error {
	owner, err := ArchivesUser(archives)
	if err != nil {
		return err
	}
	first := archives[0]
	switch {
	case archiveUser != "" && !strings.EqualFold(archiveUser, owner):
		return report.WithAdvice(fmt.Errorf("--archive-user %s does not match the archives' user %s (%s)", archiveUser, owner, filepath.Base(first)),
			"give the archives' user with --archive-user "+owner+", or import the archives of "+archiveUser)
	case archiveUser == "" && !SameUser(owner, login):
		return report.WithAdvice(fmt.Errorf("%s holds the mailbox of %s, not of the login %s; to load it into %s's account, confirm with --archive-user %s",
			filepath.Base(first), owner, login, login, owner),
			"the archives belong to another user: to load them into this account, confirm with --archive-user "+owner+"; else import them into "+owner+"'s account")
	}
	return nil
}

// SameUser reports whether an archive's user and a login name one person:
// equal ignoring case (domains are case-insensitive, and practically every
// server treats local parts so too; so are archive owners compared), or
// equal local parts where one side is a bare name (an archive of
// alice@example.org loaded with the login alice).
func SameUser(archiveUser, login string) bool {
	if strings.EqualFold(archiveUser, login) {
		return true
	}
	al, ad, aAt := strings.Cut(archiveUser, "@")
	ll, ld, lAt := strings.Cut(login, "@")
	if aAt && lAt && !strings.EqualFold(ad, ld) {
		return false
	}
	return strings.EqualFold(al, ll)
}
