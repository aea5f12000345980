package export

import (
	"strconv"
	"strings"
)

// SafeFolderPath turns a folder path as a source names it into one the
// archive accepts (FORMAT.md, "Folder paths"). The names come from the
// user (a Maildir++ directory "...", a Thunderbird file "..mbox", a Gmail
// label "../etc", a subscriptions line), and one refused name must not end
// the whole export: a level that is empty, "." or ".." becomes "_", "_."
// or "_..", and NUL becomes "_". note is "" when path was safe already;
// otherwise it names the original, for the folder's notes and a warning.
// Every exporter calls this, so one name maps the same way from any source.
func SafeFolderPath(path string) (safe, note string) {
	levels := strings.Split(path, "/")
	changed := false
	for i, l := range levels {
		switch l {
		case "", ".", "..":
			levels[i] = "_" + l
			changed = true
		}
		if strings.IndexByte(levels[i], 0) >= 0 {
			levels[i] = strings.ReplaceAll(levels[i], "\x00", "_")
			changed = true
		}
	}
	if !changed {
		return path, ""
	}
	safe = strings.Join(levels, "/")
	return safe, "folder name " + strconv.Quote(path) + " cannot be an archive folder path (an empty, \".\" or \"..\" level, or a NUL); exported as " + strconv.Quote(safe)
}
