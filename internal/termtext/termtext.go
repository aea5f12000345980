// Package termtext makes strings from mailboxes and archives safe to print
// on a terminal: a folder name holding ESC, CR or LF could otherwise erase
// or forge the lines a person reads. JSON output needs none of this, as
// encoding/json escapes control characters itself.
package termtext

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Escape returns s with every character a terminal would act on spelled
// out: C0 controls (ESC, CR, LF, TAB and the rest) and DEL as \xNN, C1
// controls (U+0080..U+009F) as \u00NN, and each byte of invalid UTF-8 as
// \xNN. A backslash is left alone, so ordinary paths read as before; the
// result is for people, not meant to be parsed back. Text without any of
// these comes back unchanged, without allocating.
func Escape(s string) string {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if needsEscape(r, n) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x80 && r <= 0x9f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func needsEscape(r rune, n int) bool {
	return r == utf8.RuneError && n <= 1 || r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f
}
