// Package safename turns a user, host or collection name into one path
// element that cannot climb out of, or reach across, the directory it is
// joined to. Journals, reports and restored files all name themselves
// through it, so one name always maps to the same file.
package safename

import "strings"

// Element replaces path separators, ':' (a drive or port on some systems)
// and control characters with '_', and prefixes "", "." and ".." so they
// name a file instead of the directory or its parent.
func Element(s string) string {
	out := strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ':' || r < ' ' || r == 0x7f {
			return '_'
		}
		return r
	}, s)
	if out == "" || out == "." || out == ".." {
		return "_" + out
	}
	return out
}
