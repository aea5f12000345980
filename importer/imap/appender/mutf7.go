package appender

import (
	"encoding/base64"
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Modified UTF-7 (RFC 3501 section 5.1.3) is how a mailbox name travels when
// UTF8=ACCEPT is not enabled. go-imap keeps its codec internal, so the
// appender carries its own: printable ASCII stands for itself ("&" as
// "&-"), anything else is UTF-16 in base64 with "," for "/" between "&"
// and "-".
var mutf7 = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,").WithPadding(base64.NoPadding)

// EncodeMUTF7 encodes a mailbox name in modified UTF-7.
func EncodeMUTF7(name string) string {
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
		b.WriteString(mutf7.EncodeToString(buf))
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

// DecodeMUTF7 decodes a modified UTF-7 mailbox name.
func DecodeMUTF7(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return "", errMUTF7
		}
		if c != '&' {
			b.WriteByte(c)
			continue
		}
		end := strings.IndexByte(s[i+1:], '-')
		if end < 0 {
			return "", errMUTF7
		}
		enc := s[i+1 : i+1+end]
		i += end + 1
		if enc == "" {
			b.WriteByte('&')
			continue
		}
		raw, err := mutf7.DecodeString(enc)
		if err != nil || len(raw)%2 != 0 {
			return "", errMUTF7
		}
		units := make([]uint16, len(raw)/2)
		for j := range units {
			units[j] = uint16(raw[2*j])<<8 | uint16(raw[2*j+1])
		}
		for j := 0; j < len(units); j++ {
			// utf16.Decode would turn a lone surrogate into U+FFFD,
			// which is also a real character: check pairs here.
			u := units[j]
			switch {
			case utf16.IsSurrogate(rune(u)) && j+1 < len(units):
				r := utf16.DecodeRune(rune(u), rune(units[j+1]))
				if r == utf8.RuneError {
					return "", errMUTF7
				}
				b.WriteRune(r)
				j++
			case utf16.IsSurrogate(rune(u)):
				return "", errMUTF7
			default:
				b.WriteRune(rune(u))
			}
		}
	}
	return b.String(), nil
}
