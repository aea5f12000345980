package maildir

import (
	"math/bits"
	"strings"
)

// A message file's name is "<unique>[:2,<flags>]". The unique part is what
// a message keeps for life; the info part after ":2," changes whenever its
// flags do. Copies made on Windows, where ":" cannot appear in a name, use
// ";" (mbsync's InfoDelimiter) or "!" instead, and some tools write the
// info part percent-encoded: "%3A2%2CS".

// splitInfo splits a file name into its unique part and the flag letters
// of its info part. hasInfo is false when the name has no "2," info (an
// experimental ":1," info is then part of the unique name, as nothing
// defines it).
func splitInfo(name string) (unique, flags string, hasInfo bool) {
	// Scan from the end: a host name in the unique part could in theory
	// hold "!2," but the info part is always last.
	for i := len(name) - 3; i >= 0; i-- {
		if name[i+1] == '2' && name[i+2] == ',' {
			switch name[i] {
			case ':', ';', '!':
				return name[:i], name[i+3:], true
			}
		}
		if name[i] == '%' && i+len(encodedInfo) <= len(name) && strings.EqualFold(name[i:i+len(encodedInfo)], encodedInfo) {
			return name[:i], name[i+len(encodedInfo):], true
		}
	}
	return name, "", false
}

// encodedInfo is ":2," percent-encoded (hex digits of either case).
const encodedInfo = "%3A2%2C"

// flagSet holds the letters of a Maildir info part: bit n of upper is
// 'A'+n, bit n of lower is 'a'+n.
type flagSet struct {
	upper, lower uint32
}

// parseFlags reads the flag letters of an info part. It never fails:
// duplicates collapse, and anything that is not a letter (a trailing comma,
// as real names have) is ignored.
func parseFlags(s string) flagSet {
	var f flagSet
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'A' && c <= 'Z':
			f.upper |= 1 << (c - 'A')
		case c >= 'a' && c <= 'z':
			f.lower |= 1 << (c - 'a')
		}
	}
	return f
}

// systemFlags maps the standard Maildir flag letters to IMAP flags, in the
// order they are emitted (alphabetical by letter, as Maildir writes them).
var systemFlags = [...]struct {
	letter byte
	flag   string
}{
	{'D', `\Draft`},
	{'F', `\Flagged`},
	{'P', `$Forwarded`}, // "passed": resent/forwarded/bounced
	{'R', `\Answered`},
	{'S', `\Seen`},
	{'T', `\Deleted`}, // "trashed"
}

// knownUpper is the set of upper-case letters systemFlags understands.
var knownUpper = func() uint32 {
	var m uint32
	for _, sf := range systemFlags {
		m |= 1 << (sf.letter - 'A')
	}
	return m
}()

// imapFlags turns f into IMAP flags, looking lower-case letters up in kw.
// It returns the letters it could not map (unknown upper-case letters,
// keyword letters with no name) as a bit set in the same layout as f.
func (f flagSet) imapFlags(kw *keywords) (flags []string, unknown flagSet) {
	n := bits.OnesCount32(f.upper&knownUpper) + bits.OnesCount32(f.lower)
	if n == 0 {
		return nil, flagSet{upper: f.upper &^ knownUpper}
	}
	flags = make([]string, 0, n)
	for _, sf := range systemFlags {
		if f.upper&(1<<(sf.letter-'A')) != 0 {
			flags = append(flags, sf.flag)
		}
	}
	unknown.upper = f.upper &^ knownUpper
	for i := 0; i < 26; i++ {
		if f.lower&(1<<i) == 0 {
			continue
		}
		name := kw.name(i)
		if name == "" {
			unknown.lower |= 1 << i
			continue
		}
		if !containsFold(flags, name) {
			flags = append(flags, name)
		}
	}
	return flags, unknown
}

// letters spells a flag set, upper-case letters first.
func (f flagSet) letters() string {
	var b strings.Builder
	for i := 0; i < 26; i++ {
		if f.upper&(1<<i) != 0 {
			b.WriteByte(byte('A' + i))
		}
	}
	for i := 0; i < 26; i++ {
		if f.lower&(1<<i) != 0 {
			b.WriteByte(byte('a' + i))
		}
	}
	return b.String()
}

func (f flagSet) empty() bool { return f.upper == 0 && f.lower == 0 }

// containsFold reports whether list holds s, ignoring case: IMAP keywords
// compare case-insensitively, so "Custom" and "custom" (or P and a
// "$Forwarded" keyword) must not be sent twice.
func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// maxUnixTime is 9999-12-31T23:59:59Z; larger leading numbers in a name
// are not timestamps.
const maxUnixTime = 253402300799

// nameTime reads the leading decimal Unix timestamp of a Maildir unique
// name ("1700000000.M123P4.host"). ok is false when the name does not
// start with digits followed by "." or the end of the name, or the number
// is zero or implausibly large; the caller then falls back to the mtime.
func nameTime(unique string) (sec int64, ok bool) {
	i := 0
	for ; i < len(unique) && unique[i] >= '0' && unique[i] <= '9'; i++ {
		sec = sec*10 + int64(unique[i]-'0')
		if sec > maxUnixTime {
			return 0, false
		}
	}
	if i == 0 || sec == 0 || (i < len(unique) && unique[i] != '.') {
		return 0, false
	}
	return sec, true
}
