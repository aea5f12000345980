// Package metadata reads and writes Zimbra's item metadata: the encoded
// string a Zimbra tgz carries in the "metadata" field of each .meta entry
// (contact fields, calendar invites, folder views and colours).
//
// The format is Zimbra's BEncoding, which looks like bencode (d…e maps,
// l…e lists, iNe integers, N:text strings) with one difference that breaks
// general-purpose bencode libraries: a string's length N is Java's
// String.length(), a count of UTF-16 code units, not of bytes. "Josée" is
// 5:Josée although it takes 6 bytes in UTF-8, and an emoji counts 2.
//
// Decode also accepts what Zimbra's own Metadata constructor accepts when
// the bencode does not parse: the same string after a wrong ISO-8859-1
// decoding of UTF-8 has been undone (Zimbra bug 87718), and the older
// name=<len>:<value>; form. Unlike Zimbra, it refuses text it cannot read
// whole instead of returning an empty map.
package metadata

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A Value is one of string, int64, Map or List.
type Value = any

// Map is a decoded metadata map. Zimbra writes booleans and floating point
// numbers as strings ("true", "1.5"), so the typed getters read numbers
// from strings too, as Zimbra's Metadata.getLong does.
type Map map[string]Value

// List is a decoded metadata list.
type List []Value

// MaxDepth bounds the nesting of maps and lists. Zimbra's deepest real
// metadata (a recurring invite with exceptions) nests about ten levels.
const MaxDepth = 100

// SyntaxError says where and why the text is not metadata.
type SyntaxError struct {
	Offset int    // byte offset in the input
	Msg    string // what was expected and what was found
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("metadata: at byte %d: %s", e.Offset, e.Msg)
}

// errDepth is returned when maps and lists nest deeper than MaxDepth.
var errDepth = errors.New("nested deeper than " + strconv.Itoa(MaxDepth) + " levels")

// Decode reads an encoded metadata string. An empty string is an empty
// map, as in Zimbra. The error of a string that is none of the accepted
// forms is a *SyntaxError naming the byte offset of the bencode failure.
func Decode(s string) (Map, error) {
	if s == "" {
		return Map{}, nil
	}
	m, err := decodeBencode(s)
	if err == nil {
		return m, nil
	}
	var se *bencodeError
	if errors.As(err, &se) && se.number {
		// Bug 87718: the UTF-8 bytes were once read as ISO-8859-1, so the
		// lengths no longer match; Zimbra retries with that undone.
		if m, err2 := decodeBencode(undoLatin1(s)); err2 == nil {
			return m, nil
		}
	}
	m, lerr := decodeLegacy(s, 0)
	if lerr != nil {
		return nil, fmt.Errorf("%w (nor the legacy name=len:value; form: %v)", err, lerr)
	}
	return m, nil
}

// bencodeError is a SyntaxError that also records whether Java would
// have failed with a NumberFormatException, the one case where Zimbra
// retries with the ISO-8859-1 fix-up.
type bencodeError struct {
	SyntaxError
	number bool
}

func (e *bencodeError) Unwrap() error { return &e.SyntaxError }

func decodeBencode(s string) (Map, error) {
	d := decoder{s: s}
	if len(s) == 0 || s[0] != 'd' {
		return nil, d.fail(0, false, "expected 'd' (a map) at the start, found %s", d.found(0))
	}
	v, end, err := d.value()
	if err != nil {
		return nil, err
	}
	if end {
		return nil, d.fail(0, false, "expected a map, found 'e'")
	}
	if d.pos != len(s) {
		return nil, d.fail(d.pos, false, "expected the end after the top-level map, found %s", d.found(d.pos))
	}
	return v.(Map), nil
}

type decoder struct {
	s     string
	pos   int
	depth int
}

func (d *decoder) fail(at int, number bool, format string, args ...any) error {
	return &bencodeError{SyntaxError{at, fmt.Sprintf(format, args...)}, number}
}

func (d *decoder) found(at int) string {
	if at >= len(d.s) {
		return "the end of the input"
	}
	r, _ := utf8.DecodeRuneInString(d.s[at:])
	return strconv.QuoteRune(r)
}

// value decodes the value at d.pos; end reports the 'e' that closes a map
// or list (Java's decoder returns null for it).
func (d *decoder) value() (v Value, end bool, err error) {
	if d.pos >= len(d.s) {
		return nil, false, d.fail(d.pos, false, "expected a value, found the end of the input")
	}
	start := d.pos
	switch d.s[d.pos] {
	case 'e':
		d.pos++
		return nil, true, nil
	case 'd':
		if err := d.enter(); err != nil {
			return nil, false, err
		}
		m := Map{}
		for {
			keyAt := d.pos
			k, end, err := d.value()
			if err != nil {
				return nil, false, err
			}
			if end {
				break
			}
			var key string
			switch k := k.(type) {
			case string:
				key = k
			case int64:
				key = strconv.FormatInt(k, 10) // Java takes key.toString()
			default:
				return nil, false, d.fail(keyAt, false, "expected a string key, found a %s", kind(k))
			}
			valAt := d.pos
			v, end, err := d.value()
			if err != nil {
				return nil, false, err
			}
			if end {
				return nil, false, d.fail(valAt, false, "expected a value for key %q, found 'e'", key)
			}
			m[key] = v // a repeated key keeps the last value, as Java's HashMap does
		}
		d.depth--
		return m, false, nil
	case 'l':
		if err := d.enter(); err != nil {
			return nil, false, err
		}
		l := List{}
		for {
			v, end, err := d.value()
			if err != nil {
				return nil, false, err
			}
			if end {
				break
			}
			l = append(l, v)
		}
		d.depth--
		return l, false, nil
	case 'i':
		d.pos++
		n, err := d.number('e', "an integer")
		if err != nil {
			return nil, false, err
		}
		return n, false, nil
	default:
		n, err := d.number(':', "a string length")
		if err != nil {
			return nil, false, err
		}
		if n < 0 {
			return nil, false, d.fail(start, false, "string length %d is negative", n)
		}
		from := d.pos
		to, ok := advanceUnits(d.s, from, n)
		if !ok {
			if to < 0 {
				// Java would split the pair and fail on the lone
				// surrogate that starts the next token.
				return nil, false, d.fail(from, true, "string length %d ends inside a character outside the BMP", n)
			}
			return nil, false, d.fail(start, false, "string length %d runs past the end of the input", n)
		}
		d.pos = to
		return d.s[from:to], false, nil
	}
}

// enter steps into a map or list, refusing to nest deeper than MaxDepth.
func (d *decoder) enter() error {
	if d.depth++; d.depth > MaxDepth {
		return &bencodeError{SyntaxError{d.pos, errDepth.Error()}, false}
	}
	d.pos++
	return nil
}

// number reads a decimal up to term, as Java's Long.parseLong does (an
// optional sign, ASCII digits). A bad number is a number-format failure;
// a missing terminator is not (Java runs off the end of its array).
func (d *decoder) number(term byte, what string) (int64, error) {
	start := d.pos
	i := strings.IndexByte(d.s[start:], term)
	if i < 0 {
		return 0, d.fail(start, false, "expected %s ended by %q, found the end of the input", what, term)
	}
	text := d.s[start : start+i]
	n, ok := parseJavaLong(text)
	if !ok {
		return 0, d.fail(start, true, "expected %s, found %q", what, clip(text))
	}
	d.pos = start + i + 1
	return n, nil
}

func parseJavaLong(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	digits := s
	if s[0] == '+' || s[0] == '-' {
		digits = s[1:]
	}
	if digits == "" {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func kind(v Value) string {
	switch v.(type) {
	case Map:
		return "map"
	case List:
		return "list"
	case int64:
		return "integer"
	}
	return "string"
}

// units is the length of s as Java counts it: UTF-16 code units. A byte
// that is not UTF-8 counts one, like the replacement character it becomes.
func units(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// advanceUnits returns the byte offset n UTF-16 units after from. ok is
// false when the input ends first (to >= 0) or when the count ends inside
// a surrogate pair (to < 0).
func advanceUnits(s string, from int, n int64) (to int, ok bool) {
	i := from
	for n > 0 {
		if i >= len(s) {
			return i, false
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		w := int64(utf16.RuneLen(r))
		if w > n {
			return -1, false
		}
		n -= w
		i += size
	}
	return i, true
}

// undoLatin1 does what Zimbra does for bug 87718: it takes each character
// as an ISO-8859-1 byte ('?' for those that have none) and reads the bytes
// as UTF-8, each invalid byte becoming U+FFFD.
func undoLatin1(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xFF {
			r = '?'
		}
		b = append(b, byte(r))
	}
	var out strings.Builder
	out.Grow(len(b))
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		out.WriteRune(r) // RuneError for an invalid byte
		b = b[size:]
	}
	return out.String()
}

// decodeLegacy reads the form Zimbra wrote before BEncoding,
// name=<len>:<value>; repeated, the length counted in UTF-16 units. A value
// longer than 5 units holding '=' is itself tried as that form (Zimbra's
// BlobMetaData.decodeRecursive) and kept as text when it is not one.
// Unlike Zimbra, the whole input must parse.
func decodeLegacy(s string, depth int) (Map, error) {
	m := Map{}
	pos := 0
	for pos < len(s) {
		eq := strings.IndexByte(s[pos:], '=')
		if eq < 0 {
			return nil, &SyntaxError{pos, "expected name= in the legacy form"}
		}
		name := s[pos : pos+eq]
		p := pos + eq + 1
		q := p
		for q < len(s) && s[q] >= '0' && s[q] <= '9' {
			q++
		}
		if q >= len(s) || s[q] != ':' || q == p {
			return nil, &SyntaxError{p, fmt.Sprintf("expected a value length and ':' for %q in the legacy form", clip(name))}
		}
		n, err := strconv.ParseInt(s[p:q], 10, 32)
		if err != nil {
			return nil, &SyntaxError{p, fmt.Sprintf("value length of %q out of range", clip(name))}
		}
		from := q + 1
		to, ok := advanceUnits(s, from, n)
		if !ok {
			return nil, &SyntaxError{from, fmt.Sprintf("value length %d of %q runs past the input", n, clip(name))}
		}
		if to >= len(s) || s[to] != ';' {
			return nil, &SyntaxError{to, fmt.Sprintf("expected ';' after the value of %q", clip(name))}
		}
		val := s[from:to]
		m[name] = val
		if depth < MaxDepth && units(val) > 5 && strings.Contains(val, "=") {
			if nested, err := decodeLegacy(val, depth+1); err == nil {
				m[name] = nested
			}
		}
		pos = to + 1
	}
	return m, nil
}

// Encode writes m as Zimbra's BEncoding does: map keys in Java's String
// order (UTF-16 code units), string lengths in UTF-16 code units, nil
// values left out. Values may be string, any integer type, bool (written
// "true"/"false", as Java's Boolean.toString), Map, List,
// map[string]any, []any or []string; anything else is written as its
// fmt.Sprint text, as Java writes toString(). Zimbra adds "v": 10 to the
// top level of item metadata; put it in m for faithful fixtures.
func Encode(m Map) string {
	var b strings.Builder
	encodeValue(&b, m)
	return b.String()
}

func encodeValue(b *strings.Builder, v any) {
	switch v := v.(type) {
	case Map:
		encodeMap(b, v)
	case map[string]any:
		encodeMap(b, v)
	case List:
		encodeList(b, v)
	case []any:
		encodeList(b, v)
	case []string:
		b.WriteByte('l')
		for _, s := range v {
			encodeString(b, s)
		}
		b.WriteByte('e')
	case int64:
		b.WriteString("i" + strconv.FormatInt(v, 10) + "e")
	case int:
		b.WriteString("i" + strconv.Itoa(v) + "e")
	case int32:
		b.WriteString("i" + strconv.FormatInt(int64(v), 10) + "e")
	case int16:
		b.WriteString("i" + strconv.FormatInt(int64(v), 10) + "e")
	case int8:
		b.WriteString("i" + strconv.FormatInt(int64(v), 10) + "e")
	case string:
		encodeString(b, v)
	case bool:
		encodeString(b, strconv.FormatBool(v))
	default:
		encodeString(b, fmt.Sprint(v))
	}
}

func encodeMap[M ~map[string]any](b *strings.Builder, m M) {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if v != nil {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, compareUTF16)
	b.WriteByte('d')
	for _, k := range keys {
		encodeString(b, k)
		encodeValue(b, m[k])
	}
	b.WriteByte('e')
}

func encodeList[L ~[]any](b *strings.Builder, l L) {
	b.WriteByte('l')
	for _, v := range l {
		if v != nil {
			encodeValue(b, v)
		}
	}
	b.WriteByte('e')
}

func encodeString(b *strings.Builder, s string) {
	b.WriteString(strconv.Itoa(units(s)))
	b.WriteByte(':')
	b.WriteString(s)
}

// compareUTF16 orders strings as Java's String.compareTo: by UTF-16 code
// unit, which differs from Go's byte order for characters above U+FFFF
// against those in U+E000..U+FFFF.
func compareUTF16(a, b string) int {
	x, y := a, b
	for x != "" && y != "" {
		ra, na := utf8.DecodeRuneInString(x)
		rb, nb := utf8.DecodeRuneInString(y)
		if ra != rb {
			if ra >= 0x10000 && rb >= 0x10000 {
				return int(ra - rb) // same order unit by unit
			}
			return firstUnit(ra) - firstUnit(rb)
		}
		x, y = x[na:], y[nb:]
	}
	if c := len(x) - len(y); c != 0 {
		return c
	}
	return strings.Compare(a, b) // distinct invalid bytes: any fixed order
}

func firstUnit(r rune) int {
	if r >= 0x10000 {
		hi, _ := utf16.EncodeRune(r)
		return int(hi)
	}
	return int(r)
}
