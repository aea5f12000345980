// Package mutf7 is modified UTF-7 (RFC 3501 §5.1.3): how an IMAP mailbox
// name travels when UTF8=ACCEPT is not enabled, and how Dovecot and
// Courier name folders on disk. go-imap v2 keeps its codec internal.
package mutf7

import (
	"encoding/base64"
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrInvalid is Decode's answer to a name that is not modified UTF-7.
var ErrInvalid = errors.New("not valid modified UTF-7")

// Modified UTF-7 (RFC 3501 section 5.1.3) is how a mailbox name travels when
// UTF8=ACCEPT is not enabled. go-imap keeps its codec internal, so mailhaul
// carries its own: printable ASCII stands for itself ("&" as
// "&-"), anything else is UTF-16 in base64 with "," for "/" between "&"
// and "-".
var encoding = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,").WithPadding(base64.NoPadding)

// Encode encodes a mailbox name in modified UTF-7.
func Encode(name string) string {
	var b strings.Builder
	var run []uint16
	flush := func() {
		if len(run) == 0 {
			return
		}
		buf := make([]byte, 0, 2*len(run))
		for _, u := range run {
			buf = append(buf, byte(u>>8), byte(u))
		}
		b.WriteByte('&')
		b.WriteString(encoding.EncodeToString(buf))
		b.WriteByte('-')
		run = run[:0]
	}
	for _, r := range name {
		if r >= 0x20 && r <= 0x7e {
			flush()
			if r == '&' {
				b.WriteString("&-")
			} else {
				b.WriteRune(r)
			}
			continue
		}
		if r == utf8.RuneError {
			r = '\uFFFD'
		}
		run = utf16.AppendRune(run, r)
	}
	flush()
	return b.String()
}

var errMUTF7 = errors.New("appender: not valid modified UTF-7")

// Decode decodes an IMAP mailbox name from modified UTF-7 (RFC 3501
// §5.1.3), the encoding Dovecot and Courier use for folder names on disk.
// It fails when s is not valid modified UTF-7 (a caller reading names from
// disk then keeps the raw name).
//
// Rules enforced: printable US-ASCII other than "&" stands for itself;
// "&-" is "&"; "&...-" is modified base64 (",", not "/") of UTF-16BE with
// zero padding bits and no lone surrogates; a shift must not encode
// printable ASCII (which would let "/" or "." hide in a name); any other
// byte (controls, 8-bit) is invalid.
func Decode(s string) (string, error) {
	if plainASCII(s) {
		return s, nil
	}
	out := make([]byte, 0, len(s)+len(s)/2)
	for i := 0; i < len(s); {
		c := s[i]
		if c != '&' {
			if c < 0x20 || c > 0x7e {
				return "", ErrInvalid
			}
			out = append(out, c)
			i++
			continue
		}
		end := i + 1
		for end < len(s) && s[end] != '-' {
			end++
		}
		if end == len(s) {
			return "", ErrInvalid // shift never closed
		}
		if end == i+1 {
			out = append(out, '&')
		} else {
			var ok bool
			if out, ok = appendBase64UTF16(out, s[i+1:end]); !ok {
				return "", ErrInvalid
			}
		}
		i = end + 1
	}
	return string(out), nil
}

// plainASCII reports whether s holds only printable ASCII without "&", the
// common case in which the encoded and decoded names are the same.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '&' {
			return false
		}
	}
	return true
}

// appendBase64UTF16 decodes one shifted run (between "&" and "-") and
// appends its UTF-8 form to out.
func appendBase64UTF16(out []byte, b64 string) ([]byte, bool) {
	var (
		bits  uint32 // pending bits, most significant first
		nbits uint
		high  rune // a pending high surrogate, or 0
	)
	for i := 0; i < len(b64); i++ {
		v, ok := base64Value(b64[i])
		if !ok {
			return out, false
		}
		bits = bits<<6 | uint32(v)
		nbits += 6
		if nbits < 16 {
			continue
		}
		nbits -= 16
		unit := rune(bits >> nbits & 0xffff)
		bits &= 1<<nbits - 1
		switch {
		case high != 0:
			if !utf16.IsSurrogate(unit) || unit < 0xdc00 {
				return out, false // high surrogate not followed by a low one
			}
			out = utf8.AppendRune(out, utf16.DecodeRune(high, unit))
			high = 0
		case unit >= 0xd800 && unit < 0xdc00:
			high = unit
		case unit >= 0xdc00 && unit < 0xe000:
			return out, false // lone low surrogate
		case unit >= 0x20 && unit <= 0x7e:
			return out, false // printable ASCII must not be shifted
		default:
			out = utf8.AppendRune(out, unit)
		}
	}
	// A well-formed run leaves fewer than 6 bits over, all zero.
	if high != 0 || nbits >= 6 || bits != 0 {
		return out, false
	}
	return out, true
}

// base64Value maps one modified-base64 character to its value.
func base64Value(c byte) (byte, bool) {
	switch {
	case c >= 'A' && c <= 'Z':
		return c - 'A', true
	case c >= 'a' && c <= 'z':
		return c - 'a' + 26, true
	case c >= '0' && c <= '9':
		return c - '0' + 52, true
	case c == '+':
		return 62, true
	case c == ',':
		return 63, true
	}
	return 0, false
}
