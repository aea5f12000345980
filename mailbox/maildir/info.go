package maildir

import (
	"math/bits"
	"strconv"
	"strings"
)

// A message file's name is "<unique>[:2,<flags>]". The unique part is what
// a message keeps for life; the info part after ":2," changes whenever its
// flags do. Copies made on Windows, where ":" cannot appear in a name, use
// ";" (mbsync's InfoDelimiter) or "!" instead, and some tools write the
// info part percent-encoded: "%3A2%2CS".

// SplitInfo splits a file name into its unique part and the flag letters
// of its info part. hasInfo is false when the name has no "2," info (an
// experimental ":1," info is then part of the unique name, as nothing
// defines it).
func SplitInfo(name string) (unique, flags string, hasInfo bool) {
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

// FileName is the name of a message file with unique name unique and the
// flags f, as Dovecot writes it: "<unique>:2,<letters>".
func FileName(unique string, f FlagSet) string {
	return unique + ":2," + f.Letters()
}

// FlagSet holds the letters of a Maildir info part: bit n of Upper is
// 'A'+n, bit n of Lower is 'a'+n.
type FlagSet struct {
	Upper, Lower uint32
}

// ParseFlags reads the flag letters of an info part. It never fails:
// duplicates collapse, and anything that is not a letter (a trailing comma,
// as real names have) is ignored.
func ParseFlags(s string) FlagSet {
	var f FlagSet
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'A' && c <= 'Z':
			f.Upper |= 1 << (c - 'A')
		case c >= 'a' && c <= 'z':
			f.Lower |= 1 << (c - 'a')
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

// IMAPFlags turns f into IMAP flags, looking lower-case letters up in kw.
// It returns the letters it could not map (unknown upper-case letters,
// keyword letters with no name) as a set in the same layout as f.
func (f FlagSet) IMAPFlags(kw *Keywords) (flags []string, unknown FlagSet) {
	n := bits.OnesCount32(f.Upper&knownUpper) + bits.OnesCount32(f.Lower)
	if n == 0 {
		return nil, FlagSet{Upper: f.Upper &^ knownUpper}
	}
	flags = make([]string, 0, n)
	for _, sf := range systemFlags {
		if f.Upper&(1<<(sf.letter-'A')) != 0 {
			flags = append(flags, sf.flag)
		}
	}
	unknown.Upper = f.Upper &^ knownUpper
	for i := 0; i < len(kw); i++ {
		if f.Lower&(1<<i) == 0 {
			continue
		}
		name := kw.Name(i)
		if name == "" {
			unknown.Lower |= 1 << i
			continue
		}
		if !containsFold(flags, name) {
			flags = append(flags, name)
		}
	}
	return flags, unknown
}

// FlagsFor is the reverse of IMAPFlags: the letters for IMAP flags, with
// a letter of kw given to each keyword that has none yet. \Recent is
// session state and has no letter. dropped are the keywords that found
// no letter (all 26 taken) or cannot be a dovecot-keywords name.
func FlagsFor(flags []string, kw *Keywords) (f FlagSet, dropped []string) {
	for _, fl := range flags {
		if l, ok := systemLetter(fl); ok {
			f.Upper |= 1 << (l - 'A')
			continue
		}
		if strings.EqualFold(fl, `\Recent`) {
			continue
		}
		i, ok := kw.Add(fl)
		if !ok {
			dropped = append(dropped, fl)
			continue
		}
		f.Lower |= 1 << i
	}
	return f, dropped
}

func systemLetter(flag string) (byte, bool) {
	for _, sf := range systemFlags {
		if strings.EqualFold(flag, sf.flag) {
			return sf.letter, true
		}
	}
	return 0, false
}

// Letters spells a flag set, upper-case letters first (ASCII order, as
// Dovecot writes them).
func (f FlagSet) Letters() string {
	var b strings.Builder
	for i := 0; i < 26; i++ {
		if f.Upper&(1<<i) != 0 {
			b.WriteByte(byte('A' + i))
		}
	}
	for i := 0; i < 26; i++ {
		if f.Lower&(1<<i) != 0 {
			b.WriteByte(byte('a' + i))
		}
	}
	return b.String()
}

// Empty reports whether f has no letter.
func (f FlagSet) Empty() bool { return f.Upper == 0 && f.Lower == 0 }

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

// NameTime reads the leading decimal Unix timestamp of a Maildir unique
// name ("1700000000.M123P4.host"). ok is false when the name does not
// start with digits followed by "." or the end of the name, or the number
// is zero or implausibly large; the caller then falls back to the mtime.
func NameTime(unique string) (sec int64, ok bool) {
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

// UniqueName is a unique name that NameTime reads sec back from:
// "<sec>.<id>.<host>". id must be unique among the folder's messages
// received in the same second and hold no "/", ":" or ","; host names
// the writer.
func UniqueName(sec int64, id, host string) string {
	return strconv.FormatInt(sec, 10) + "." + id + "." + host
}
