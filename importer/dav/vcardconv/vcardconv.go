// Package vcardconv converts vCard 2.1 cards to vCard 3.0, which CardDAV
// servers take (RFC 6352 requires 3.0 support; 2.1 is not a CardDAV
// format). The conversion keeps every property, group and parameter:
//
//   - QUOTED-PRINTABLE values are decoded, CHARSET values turned into
//     UTF-8, and both parameters dropped;
//   - bare parameters (TEL;HOME;VOICE) become TYPE= parameters;
//   - ENCODING=BASE64 becomes ENCODING=b, VALUE=URL becomes VALUE=uri, and
//     8BIT/7BIT encodings are dropped (UTF-8 needs no marker);
//   - text values are escaped the 3.0 way: line breaks become \n, commas
//     \, and a backslash that does not escape a semicolon \\;
//   - GEO's "lat,lon" becomes "lat;lon";
//   - a nested AGENT card is converted too and becomes an escaped value;
//   - FN, required by 3.0, is derived from N, ORG or EMAIL when missing,
//     and an empty N added when there is none;
//   - lines are folded at 75 octets with CRLF.
//
// Cards of other versions are returned unchanged.
package vcardconv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"

	"github.com/mailhaul/mailhaul/internal/contentline"
)

// ErrNotLossless is returned when a card cannot be converted without
// losing information (an unknown charset, undecodable quoted-printable).
// The caller should send the original and report it.
var ErrNotLossless = errors.New("vcardconv: the card cannot be converted to vCard 3.0 without loss")

// maxDepth bounds AGENT nesting, so a hostile card cannot exhaust the stack.
const maxDepth = 8

// Convert returns card as vCard 3.0 when it is a 2.1 card, and whether it
// changed, with notes on what was added (a derived FN). Other versions,
// and bytes that are not one vCard, come back unchanged with false.
func Convert(card []byte) ([]byte, bool, []string, error) {
	lines := logicalLines(card)
	if !isV21(lines) {
		return card, false, nil, nil
	}
	var out bytes.Buffer
	var notes []string
	if _, err := convertCard(&out, lines, 0, &notes); err != nil {
		return card, false, nil, err
	}
	return out.Bytes(), true, notes, nil
}

func isV21(lines []line) bool {
	if len(lines) < 2 || !strings.EqualFold(strings.TrimSpace(lines[0].text), "BEGIN:VCARD") {
		return false
	}
	for _, l := range lines[1:] {
		p, ok := parseLine(l.text)
		if ok && strings.EqualFold(p.name, "VERSION") {
			return strings.TrimSpace(p.value) == "2.1"
		}
		if ok && strings.EqualFold(p.name, "END") {
			break
		}
	}
	return false
}

// convertCard writes the card starting at lines[0] (BEGIN:VCARD) and
// returns how many lines it used.
func convertCard(out *bytes.Buffer, lines []line, depth int, notes *[]string) (int, error) {
	if depth > maxDepth {
		return 0, fmt.Errorf("%w: AGENT cards nested more than %d deep", ErrNotLossless, maxDepth)
	}
	var props []string
	hasFN, hasN := false, false
	var nValue, orgValue, emailValue, telValue string
	i := 1
	for ; i < len(lines); i++ {
		p, ok := parseLine(lines[i].text)
		if !ok {
			if strings.TrimSpace(lines[i].text) == "" {
				continue
			}
			return 0, fmt.Errorf("%w: line %d %q is not a property", ErrNotLossless, lines[i].num, clip(lines[i].text))
		}
		upper := strings.ToUpper(p.name)
		if upper == "END" && strings.EqualFold(strings.TrimSpace(p.value), "VCARD") {
			break
		}
		if upper == "VERSION" {
			continue
		}
		if inline, ok := nestedCard(p, upper, lines, i); ok {
			// An AGENT's card (on this line or the next), or a bare nested
			// card, which 2.1 only allows as an AGENT: convert it and keep
			// it as an escaped AGENT value.
			var sub []line
			if inline {
				sub = append([]line{{text: "BEGIN:VCARD", num: lines[i].num}}, lines[i+1:]...)
			} else if upper == "AGENT" {
				sub = lines[i+1:]
			} else {
				sub = lines[i:]
			}
			var nested bytes.Buffer
			n, err := convertCard(&nested, sub, depth+1, notes)
			if err != nil {
				return 0, err
			}
			switch {
			case inline:
				i += n - 1
			case upper == "AGENT":
				i += n
			default:
				i += n - 1
				p = property{name: "AGENT"}
			}
			text := strings.TrimRight(strings.ReplaceAll(nested.String(), "\r\n ", ""), "\r\n")
			text = strings.ReplaceAll(text, "\r\n", "\n")
			p.value = escapeAll(text)
			p.params = convertParamsNoValue(p.params)
			props = append(props, p.header()+":"+p.value)
			continue
		}
		prop, err := convertProperty(p)
		if err != nil {
			return 0, fmt.Errorf("line %d: %w", lines[i].num, err)
		}
		switch upper {
		case "FN":
			if strings.TrimSpace(prop.value) == "" {
				// 2.1 writers emit an empty FN; 3.0 needs a name there.
				continue
			}
			hasFN = true
		case "N":
			hasN, nValue = true, prop.value
		case "ORG":
			orgValue = prop.value
		case "EMAIL":
			if emailValue == "" {
				emailValue = prop.value
			}
		case "TEL":
			if telValue == "" {
				telValue = prop.value
			}
		}
		props = append(props, prop.header()+":"+prop.value)
	}
	if i >= len(lines) {
		return 0, fmt.Errorf("%w: no END:VCARD", ErrNotLossless)
	}
	writeLine(out, "BEGIN:VCARD")
	writeLine(out, "VERSION:3.0")
	if !hasN {
		writeLine(out, "N:;;;;")
	}
	if !hasFN {
		fn, from := deriveFN(nValue, orgValue, emailValue, telValue)
		writeLine(out, "FN:"+fn)
		if from != "" {
			*notes = append(*notes, fmt.Sprintf("the vCard 2.1 card had no formatted name (FN), which vCard 3.0 requires; FN %q was built from %s", fn, from))
		} else {
			*notes = append(*notes, "the vCard 2.1 card had no formatted name (FN), which vCard 3.0 requires, and no N, ORG, EMAIL or TEL to build one from; an empty FN was added")
		}
	}
	for _, p := range props {
		writeLine(out, p)
	}
	writeLine(out, "END:VCARD")
	return i + 1, nil
}

// nestedCard reports whether line i starts a nested card: an AGENT whose
// value is BEGIN:VCARD (inline true), an AGENT with an empty value followed
// by BEGIN:VCARD, or a BEGIN:VCARD line of its own.
func nestedCard(p property, upper string, lines []line, i int) (inline, ok bool) {
	v := strings.TrimSpace(p.value)
	switch {
	case upper == "BEGIN" && strings.EqualFold(v, "VCARD"):
		return false, true
	case upper != "AGENT":
		return false, false
	case strings.EqualFold(v, "BEGIN:VCARD"):
		return true, true
	}
	return false, v == "" && i+1 < len(lines) && strings.EqualFold(strings.TrimSpace(lines[i+1].text), "BEGIN:VCARD")
}

// deriveFN builds a formatted name from N (prefix, given, additional,
// family, suffix), or else ORG, EMAIL or TEL, already in 3.0 escaping,
// and says which it used ("" when none had a value).
func deriveFN(n, org, email, tel string) (string, string) {
	if n != "" {
		parts := contentline.SplitValue(n, ';')
		var words []string
		for _, k := range []int{3, 1, 2, 0, 4} { // prefix, given, additional, family, suffix
			if k < len(parts) && parts[k] != "" {
				words = append(words, parts[k])
			}
		}
		if len(words) > 0 {
			return strings.Join(words, " "), "N"
		}
	}
	if o := contentline.SplitValue(org, ';')[0]; o != "" {
		return o, "ORG"
	}
	if email != "" {
		return email, "EMAIL"
	}
	if tel != "" {
		return tel, "TEL"
	}
	return "", ""
}

// convertProperty converts one 2.1 property to 3.0.
func convertProperty(p property) (property, error) {
	var enc, cs string
	var params []param
	for _, pr := range p.params {
		name := strings.ToUpper(pr.name)
		switch {
		case name == "ENCODING":
			enc = strings.ToUpper(pr.value)
		case name == "CHARSET":
			cs = pr.value
		case name == "" && isEncoding(pr.value):
			enc = strings.ToUpper(pr.value)
		case name == "":
			params = append(params, param{name: "TYPE", value: pr.value})
		case name == "VALUE" && strings.EqualFold(pr.value, "URL"):
			params = append(params, param{name: "VALUE", value: "uri"})
		default:
			params = append(params, pr)
		}
	}
	for _, pr := range params {
		if !utf8.ValidString(pr.value) || strings.ContainsAny(pr.value, "\"\r\n") {
			return p, fmt.Errorf("%w: %s: parameter value %q is not UTF-8 text", ErrNotLossless, p.name, clip(pr.value))
		}
	}
	value := p.value
	binary := false
	switch enc {
	case "", "7BIT", "8BIT":
	case "QUOTED-PRINTABLE", "QP":
		dec, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(value)))
		if err != nil {
			return p, fmt.Errorf("%w: %s: quoted-printable: %v", ErrNotLossless, p.name, err)
		}
		value = string(dec)
	case "BASE64", "B":
		binary = true
		params = append(params, param{name: "ENCODING", value: "b"})
		value = strings.Join(strings.Fields(value), "")
		if !utf8.ValidString(value) {
			return p, fmt.Errorf("%w: %s: base64 value holds non-ASCII bytes", ErrNotLossless, p.name)
		}
	default:
		return p, fmt.Errorf("%w: %s: unknown ENCODING=%s", ErrNotLossless, p.name, enc)
	}
	if !binary {
		var err error
		value, err = toUTF8(value, cs)
		if err != nil {
			return p, fmt.Errorf("%s: %w", p.name, err)
		}
		value = escape21(value, listValued(p.name, params))
		if strings.EqualFold(p.name, "GEO") {
			// 2.1 writes GEO as "lat,lon"; 3.0 as "lat;lon".
			value = strings.Replace(value, ",", ";", 1)
		}
	}
	return property{group: p.group, name: p.name, params: params, value: value}, nil
}

func isEncoding(v string) bool {
	switch strings.ToUpper(v) {
	case "QUOTED-PRINTABLE", "BASE64", "8BIT", "7BIT", "B":
		return true
	}
	return false
}

// convertParamsNoValue turns bare parameters into TYPE= ones.
func convertParamsNoValue(ps []param) []param {
	out := make([]param, 0, len(ps))
	for _, p := range ps {
		if p.name == "" {
			p.name = "TYPE"
		}
		out = append(out, p)
	}
	return out
}

// listValued reports whether commas in the value separate values (so must
// stay as they are) rather than being text.
func listValued(name string, params []param) bool {
	switch strings.ToUpper(name) {
	case "CATEGORIES", "NICKNAME", "GEO", "URL", "PHOTO", "LOGO", "SOUND", "KEY":
		return true
	}
	for _, p := range params {
		if strings.EqualFold(p.name, "VALUE") && strings.EqualFold(p.value, "uri") {
			return true
		}
	}
	return false
}

// toUTF8 decodes value from charset cs ("" meaning the 2.1 default). Bytes
// that are not UTF-8 without a charset are read as ISO-8859-1, the usual
// default of 2.1 writers; that is lossless since every byte maps to one
// code point.
func toUTF8(value, cs string) (string, error) {
	if cs == "" || strings.EqualFold(cs, "UTF-8") || strings.EqualFold(cs, "US-ASCII") {
		if utf8.ValidString(value) {
			return value, nil
		}
		if cs != "" && !strings.EqualFold(cs, "US-ASCII") {
			return "", fmt.Errorf("%w: value is not valid %s", ErrNotLossless, cs)
		}
		cs = "ISO-8859-1"
	}
	r, err := charset.Reader(cs, strings.NewReader(value))
	if err != nil {
		return "", fmt.Errorf("%w: CHARSET=%s: %v", ErrNotLossless, cs, err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return "", fmt.Errorf("%w: CHARSET=%s: %v", ErrNotLossless, cs, err)
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("%w: CHARSET=%s did not decode to UTF-8", ErrNotLossless, cs)
	}
	return string(b), nil
}

// escape21 re-escapes a decoded 2.1 value for 3.0. In 2.1 a backslash
// only escapes a semicolon; every other backslash is literal.
func escape21(v string, list bool) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && i+1 < len(v) && v[i+1] == ';':
			b.WriteString(`\;`)
			i++
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\r' && i+1 < len(v) && v[i+1] == '\n':
			b.WriteString(`\n`)
			i++
		case c == '\r' || c == '\n':
			b.WriteString(`\n`)
		case c == ',' && !list:
			b.WriteString(`\,`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// escapeAll escapes a whole text, semicolons included, as one 3.0 value.
func escapeAll(v string) string {
	r := strings.NewReplacer(`\`, `\\`, "\n", `\n`, ",", `\,`, ";", `\;`)
	return r.Replace(v)
}

func writeLine(out *bytes.Buffer, l string) { out.WriteString(contentline.Fold(l, "\r\n")) }

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
