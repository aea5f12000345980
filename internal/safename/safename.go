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

// Escape is Element made reversible, for names that must never meet: two
// different levels always give two different names. It writes '%' as
// "%25" and every byte a file name cannot hold ('/', '\\', ':', NUL and
// the other control characters, DEL) as '%' and two hex digits, as does
// a leading '.' (so neither "." nor ".." nor a hidden file comes out);
// "" is "%". A level ending in one of the reserved suffixes (compared
// without case; a format's own extensions) has the '.' of that suffix
// escaped too, so it cannot be read back as that format's file.
func Escape(level string, reserved ...string) string {
	if level == "" {
		return "%"
	}
	dot := -1
	low := strings.ToLower(level)
	for _, r := range reserved {
		if strings.HasSuffix(low, r) && strings.HasPrefix(r, ".") {
			dot = len(level) - len(r)
		}
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(level); i++ {
		c := level[i]
		if c == '%' || c == '/' || c == '\\' || c == ':' || c < ' ' || c == 0x7f || (c == '.' && (i == 0 || i == dot)) {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
