package imap

import (
	"strings"
)

// systemFlags are the flags APPEND may set (\Recent may not be set).
var systemFlags = map[string]string{
	`\seen`: `\Seen`, `\answered`: `\Answered`, `\flagged`: `\Flagged`,
	`\deleted`: `\Deleted`, `\draft`: `\Draft`,
}

// permanentFlags is what a mailbox lets a client keep (PERMANENTFLAGS).
type permanentFlags struct {
	any     bool            // \* : new keywords allowed
	known   map[string]bool // lower-cased flags listed
	unknown bool            // the server sent no PERMANENTFLAGS: assume all
}

// allows reports whether a flag may go with an APPEND. System flags
// always may: a server that does not keep one merely drops it, and some
// (go-imap's memory server) list only flags already in use, or just \*,
// in an empty mailbox. Keywords need the server's leave, by name or \*,
// because a refused one can fail the whole APPEND.
func (p permanentFlags) allows(flag string) bool {
	if p.unknown || strings.HasPrefix(flag, `\`) {
		return true
	}
	if p.known[strings.ToLower(flag)] {
		return true
	}
	return p.any
}

// cleanFlags returns the flags safe to send and those refused, with the
// reason. One bad keyword in an APPEND can make a server (or go-imap's
// parser) break the connection, so anything that is not an IMAP atom is
// kept back and reported instead.
func cleanFlags(flags []string, perm permanentFlags) (ok []string, refused []string) {
	seen := map[string]bool{}
	for _, f := range flags {
		canon := f
		if strings.HasPrefix(f, `\`) {
			var sys bool
			if canon, sys = systemFlags[strings.ToLower(f)]; !sys {
				if !strings.EqualFold(f, `\Recent`) {
					refused = append(refused, f)
				}
				continue
			}
		} else if !isAtom(f) {
			refused = append(refused, f)
			continue
		}
		if seen[strings.ToLower(canon)] {
			continue
		}
		seen[strings.ToLower(canon)] = true
		if !perm.allows(canon) {
			refused = append(refused, f)
			continue
		}
		ok = append(ok, canon)
	}
	return ok, refused
}

// isAtom reports whether s is a valid keyword: printable ASCII without
// atom-specials (RFC 3501: ( ) { space % * " \ ]) and not too long.
func isAtom(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return true
}

// keywordsOnly reports whether flags carry any keyword (not a system flag).
func hasKeywords(flags []string) bool {
	for _, f := range flags {
		if !strings.HasPrefix(f, `\`) {
			return true
		}
	}
	return false
}

func systemOnly(flags []string) []string {
	var out []string
	for _, f := range flags {
		if strings.HasPrefix(f, `\`) {
			out = append(out, f)
		}
	}
	return out
}
