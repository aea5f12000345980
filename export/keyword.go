package export

import "strings"

// KeywordAtom makes k a valid IMAP keyword: an atom (RFC 3501 §9: no SP,
// CTL, 8-bit or any of `(){%*"\]`), so also never a system flag, which
// starts with '\'. Each offending character becomes '_'. Sources keep a
// keyword this way rather than drop it, and note the change.
func KeywordAtom(k string) string {
	var b strings.Builder
	for _, r := range k {
		switch {
		case r <= ' ', r >= 0x7f, strings.ContainsRune(`(){%*"\]`, r):
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
