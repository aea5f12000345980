package export

import (
	"strconv"

	"github.com/mailhaul/mailhaul/format"
)

// SafeFolderPath turns a folder path as a source names it into one the
// archive accepts, with format.SafeFolderPath's mapping (FORMAT.md,
// "Folder paths"). The names come from the user (a Maildir++ directory
// "...", a Thunderbird file "..mbox", a Gmail label "../etc"), and one
// refused name must not end the whole export. n names all folders of one
// export, so two source folders never share a path: the later one gets
// "~2" (format.FolderNamer, the reader's rule); callers name folders in a
// stable order. A nil n names path alone. note is "" when path is kept;
// otherwise it names the original, for the folder's notes and a warning.
// Every exporter calls this, so one name maps the same way from any source.
func SafeFolderPath(n *format.FolderNamer, path string) (safe, note string) {
	if n == nil {
		n = &format.FolderNamer{}
	}
	safe = n.Name(path)
	if safe == path {
		return path, ""
	}
	if _, changed := format.SafeFolderPath(path); !changed {
		return safe, "folder name " + strconv.Quote(path) + " is the archive path another folder's name was mapped to; exported as " + strconv.Quote(safe)
	}
	return safe, "folder name " + strconv.Quote(path) + " cannot be an archive folder path (an empty, \".\" or \"..\" level, or a NUL); exported as " + strconv.Quote(safe)
}
