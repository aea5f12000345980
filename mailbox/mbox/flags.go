package mbox

import (
	"bytes"
	"slices"
	"strings"

	"github.com/mailhaul/mailhaul/format"
)

// Flags are IMAP flags in order, without duplicates: system flags such
// as \Seen and keywords as the headers spell them. Keywords are
// case-insensitive in IMAP, so "$Label1" and "$label1" are one. Whether a
// keyword is a valid IMAP atom is the caller's business: this package
// keeps what the mbox says.
type Flags []string

// Has reports whether flag is in f.
func (f Flags) Has(flag string) bool {
	for _, x := range f {
		if strings.EqualFold(x, flag) {
			return true
		}
	}
	return false
}

// Add appends flag unless f has it already.
func (f *Flags) Add(flag string) {
	if flag != "" && !f.Has(flag) {
		*f = append(*f, flag)
	}
}

// Remove takes flag out of f.
func (f *Flags) Remove(flag string) {
	for i, x := range *f {
		if strings.EqualFold(x, flag) {
			*f = append((*f)[:i], (*f)[i+1:]...)
			return
		}
	}
}

// systemFlags are IMAP's system flags (RFC 9051): any other flag is a
// keyword, even one a header spells with a backslash.
var systemFlags = Flags{`\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`, `\Recent`}

// IsKeyword reports whether flag is a keyword rather than a system flag.
func IsKeyword(flag string) bool { return !systemFlags.Has(flag) }

// The letters of Status and X-Status (UW-IMAP, Dovecot, mutt) and the
// system flags they stand for. Status's O ("old", seen by the client
// but not read) has no IMAP flag.
var (
	statusLetters  = []flagLetter{{'R', `\Seen`}}
	xStatusLetters = []flagLetter{{'A', `\Answered`}, {'F', `\Flagged`}, {'T', `\Draft`}, {'D', `\Deleted`}}
)

type flagLetter struct {
	letter byte
	flag   string
}

// HeaderFlags turns the flag headers of mbox writers into IMAP flags:
// Status and X-Status (UW-IMAP, Dovecot, mutt), X-Keywords (Dovecot),
// X-Mozilla-Status and X-Mozilla-Keys (Thunderbird).
func HeaderFlags(h *Header) Flags {
	var f Flags
	for _, l := range statusLetters {
		if strings.IndexByte(h.Status, l.letter) >= 0 {
			f.Add(l.flag)
		}
	}
	for i := 0; i < len(h.XStatus); i++ {
		for _, l := range xStatusLetters {
			if h.XStatus[i] == l.letter {
				f.Add(l.flag)
			}
		}
	}
	if h.MozStatus&mozRead != 0 {
		f.Add(`\Seen`)
	}
	if h.MozStatus&mozReplied != 0 {
		f.Add(`\Answered`)
	}
	if h.MozStatus&mozMarked != 0 {
		f.Add(`\Flagged`)
	}
	if h.MozStatus&mozForwarded != 0 {
		f.Add("$Forwarded")
	}
	for _, k := range h.Keywords {
		f.Add(strings.TrimSpace(k))
	}
	return f
}

// flagFields are the header fields that carry flags: WithFlags replaces
// them all, so that none of them contradicts the flags written.
var flagFields = []string{"Status", "X-Status", "X-Keywords", "X-Mozilla-Status", "X-Mozilla-Keys"}

// FlagFields returns the Status, X-Status and X-Keywords fields that say
// flags, as Dovecot and mutt write them: "Status: RO" for a read message
// ("O" alone for an unread one), X-Status only with letters to carry, and
// X-Keywords only with keywords. eol is the message's line ending.
// Keywords holding a space or comma, and system flags with no letter
// (\Recent), cannot be written and are returned in lost. HeaderFlags
// gives back flags from these fields.
func FlagFields(flags []string, eol string) (fields []byte, lost []string) {
	var b bytes.Buffer
	status := "O"
	var xs []byte
	var kw []string
	for _, fl := range flags {
		switch {
		case strings.EqualFold(fl, `\Seen`):
			status = "RO"
		case IsKeyword(fl):
			if fl == "" || strings.ContainsAny(fl, " \t,\r\n") {
				lost = append(lost, fl)
				continue
			}
			kw = append(kw, fl)
		default:
			known := false
			for _, l := range xStatusLetters {
				if strings.EqualFold(fl, l.flag) {
					xs, known = append(xs, l.letter), true
				}
			}
			if !known {
				lost = append(lost, fl) // \Recent and the like: no letter for it
			}
		}
	}
	b.WriteString("Status: " + status + eol)
	if len(xs) > 0 {
		b.WriteString("X-Status: " + string(xs) + eol)
	}
	if len(kw) > 0 {
		b.WriteString("X-Keywords: " + strings.Join(kw, " ") + eol)
	}
	return b.Bytes(), lost
}

// MessageFlags are the flags a reader of this package finds in a message
// whose start (header) is hdr (HeaderRoute).
func MessageFlags(hdr []byte) Flags {
	h := ParseHeader(hdr)
	f, _, _ := HeaderRoute(&h)
	return f
}

// HeaderRoute gives the flags a message's header says and, for a Gmail
// Takeout message (one with X-Gmail-Labels), the folder its labels pick
// (RouteGmail). Takeout writes no Status field: a message that has one
// was written by an mbox writer that set its flags (SetFlags always
// writes Status), so its flag fields alone say its flags and the labels
// only pick the folder. That keeps SetFlags → MessageFlags the identity
// for a message restored from a Takeout archive.
func HeaderRoute(h *Header) (f Flags, path string, role format.Role) {
	f = HeaderFlags(h)
	if !h.HasLabels {
		return f, "", ""
	}
	if h.HasStatus {
		var ignored Flags
		path, role = RouteGmail(SplitLabels(h.GmailLabels), &ignored)
		return f, path, role
	}
	path, role = RouteGmail(SplitLabels(h.GmailLabels), &f)
	return f, path, role
}

// SameFlags reports whether an item's flags are those a message's header
// says (MessageFlags), in any order. An exporter may have made a keyword
// an IMAP atom, its offending characters replaced by '_': such a keyword
// matches the header's spelling.
func SameFlags(item, header []string) bool {
	if len(item) != len(header) {
		return false
	}
	for _, x := range item {
		if !slices.ContainsFunc(header, func(h string) bool { return keywordMatches(x, h) }) {
			return false
		}
	}
	return true
}

// keywordMatches reports whether flag is h, or h with some characters
// replaced by '_', ignoring case.
func keywordMatches(flag, h string) bool {
	if strings.EqualFold(flag, h) {
		return true
	}
	f, g := []rune(flag), []rune(h)
	if len(f) != len(g) {
		return false
	}
	for i := range f {
		if f[i] != '_' && !strings.EqualFold(string(f[i]), string(g[i])) {
			return false
		}
	}
	return true
}

// SetFlags returns the header hdr with its flag fields (Status, X-Status,
// X-Keywords and Thunderbird's X-Mozilla-Status and X-Mozilla-Keys)
// replaced by FlagFields(flags), placed before the blank line ending the
// header. Other fields keep their bytes and order. lost is as FlagFields.
func SetFlags(hdr []byte, flags []string) (out []byte, lost []string) {
	eol := "\n"
	if first, _ := cutLine(hdr); bytes.HasSuffix(first, []byte("\r\n")) {
		eol = "\r\n"
	}
	fields, lost := FlagFields(flags, eol)
	out = make([]byte, 0, len(hdr)+len(fields))
	skipping := false // inside a flag field, continuation lines included
	for rest := hdr; len(rest) > 0; {
		var line []byte
		line, rest = cutLine(rest)
		if len(trimEOL(line)) == 0 {
			out = append(out, fields...)
			out = append(out, line...)
			return append(out, rest...), lost
		}
		if line[0] == ' ' || line[0] == '\t' {
			if !skipping {
				out = append(out, line...)
			}
			continue
		}
		skipping = false
		if name, _, ok := bytes.Cut(line, []byte{':'}); ok {
			for _, f := range flagFields {
				if bytes.EqualFold(bytes.TrimRight(name, " \t"), []byte(f)) {
					skipping = true
				}
			}
		}
		if !skipping {
			out = append(out, line...)
		}
	}
	// A header with no blank line after it (a message that is all
	// header): the fields go at its end, after a line ending.
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, eol...)
	}
	return append(out, fields...), lost
}
