package export

import (
	"strconv"

	"github.com/mailhaul/mailhaul/format"
)

// SafeFolderPath turns a folder path as a source names it into one the
// archive accepts, with format.SafeFolderPath's mapping (FORMAT.md,
// "Folder paths"). The names come from the user (a Maildir++ directory
// "...", a Thunderbird file "..mbox", a Gmail label "../etc"), and one
// refused name must not end the whole export. note is "" when path was
// safe already; otherwise it names the original, for the folder's notes and
// a warning. Every exporter calls this, so one name maps the same way from
// any source.
func SafeFolderPath(path string) (safe, note string) {
	safe, changed := format.SafeFolderPath(path)
	if !changed {
		return path, ""
	}
	return safe, "folder name " + strconv.Quote(path) + " cannot be an archive folder path (an empty, \".\" or \"..\" level, or a NUL); exported as " + strconv.Quote(safe)
}
