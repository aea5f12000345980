package migrate

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/mailhaul/mailhaul/internal/safename"
)

// The columns of the users CSV, the one place that names them: the plan
// (migrate/plan) reads the list with them, and the failures file, itself a
// users list to run again, writes them back (each user's own row, in the
// list's order). The header row names them, in any order; source is
// required, the others optional.
const (
	ColSource             = "source"               // the source address (User.Name)
	ColTarget             = "target"               // the target login (User.Login; default: the source address)
	ColSize               = "size"                 // estimated size ("2.5GB"; User.EstimatedBytes), for balancing shards
	ColSourcePath         = "source_path"          // overrides source.path for this user (below root)
	ColSourcePasswordFile = "source_password_file" // this user's source password
	ColIMAPPasswordFile   = "imap_password_file"   // this user's target IMAP password
	ColDAVPasswordFile    = "dav_password_file"    // this user's target DAV password
	ColIMAPTokenFile      = "imap_token_file"      // this user's OAuth token for the IMAP target
	ColDAVTokenFile       = "dav_token_file"       // this user's OAuth token for the DAV target
)

// Columns are every column a users CSV may have.
var Columns = []string{ColSource, ColTarget, ColSize, ColSourcePath, ColSourcePasswordFile, ColIMAPPasswordFile,
	ColDAVPasswordFile, ColIMAPTokenFile, ColDAVTokenFile}

// UserColumns are the columns of a users list made of the engine's own
// fields (User.Name, Login, EstimatedBytes): the failures file's header
// when the job names none.
var UserColumns = []string{ColSource, ColTarget, ColSize}

// maxKey keeps a key well under file systems' 255-byte name limit, with
// room for the suffixes archives and journals add.
const maxKey = 180

// Key is the file name a user's archives and state go by: the address
// without case (two addresses differing only in case are one user to a
// mail server, and to a case-insensitive file system), escaped reversibly
// (safename.Escape) so that two different addresses never share a key,
// whatever characters they hold. A key that would be longer than maxKey
// is cut and given a digest of the whole address, padded to maxKey+1
// bytes, a length no uncut key has.
func Key(address string) string {
	low := strings.ToLower(address)
	k := safename.Escape(low)
	if len(k) <= maxKey {
		return k
	}
	sum := sha256.Sum256([]byte(low))
	digest := "~" + hex.EncodeToString(sum[:8])
	cut := maxKey + 1 - len(digest)
	for cut > 0 && (k[cut-1] == '%' || cut > 1 && k[cut-2] == '%') {
		cut-- // never split an escape
	}
	return k[:cut] + strings.Repeat("~", maxKey+1-len(digest)-cut) + digest
}
