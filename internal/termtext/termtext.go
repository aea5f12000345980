// Package termtext makes strings from archives and servers safe to print
// on a terminal: a folder name holding ESC, CR or LF must not erase or
// forge the lines around it.
package termtext

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Escape returns s with C0 controls (tab, CR and LF as \t, \r, \n, the
// others as \x..), DEL as \x7f, C1 controls as \u0080-\u009f and each
// invalid UTF-8 byte as \x..; everything else is unchanged. A backslash
// stays as it is: the result is for people to read, not to parse back.
func Escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x20 || r == 0x7f:
			switch r {
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			default:
				fmt.Fprintf(&b, `\x%02x`, r)
			}
		case r >= 0x80 && r <= 0x9f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n <= 1) || r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return true
		}
		i += n
	}
	return false
}
