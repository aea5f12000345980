package pim

import (
	"bytes"
	"strings"
)

// prop is a content line cut into its parts (RFC 5545 §3.1, RFC 6350
// §3.3): name, the parameters between the name and the value, and the
// value. The slices point into the line.
type prop struct {
	name   []byte // without a vCard group prefix ("item1.")
	params []byte // ";TZID=Europe/Paris;VALUE=DATE-TIME", or empty
	value  []byte
}

func splitProp(line []byte) prop {
	end := bytes.IndexAny(line, ";:")
	if end < 0 {
		return prop{name: line}
	}
	p := prop{name: line[:end]}
	if i := bytes.LastIndexByte(p.name, '.'); i >= 0 {
		p.name = p.name[i+1:]
	}
	rest := line[end:]
	inQuote := false
	for i, c := range rest {
		switch {
		case c == '"':
			inQuote = !inQuote
		case c == ':' && !inQuote:
			p.params, p.value = rest[:i], rest[i+1:]
			return p
		}
	}
	p.params = rest // no value at all: a broken line, left for the validator
	return p
}

func (p prop) is(name string) bool { return bytes.EqualFold(bytes.TrimSpace(p.name), []byte(name)) }

// param returns the value of parameter name, without quotes, or "".
func (p prop) param(name string) string {
	rest := p.params
	for len(rest) > 0 {
		if rest[0] != ';' {
			return ""
		}
		rest = rest[1:]
		eq := bytes.IndexByte(rest, '=')
		semi := bytes.IndexByte(rest, ';')
		if eq < 0 || (semi >= 0 && semi < eq) {
			if semi < 0 {
				return ""
			}
			rest = rest[semi:] // a bare vCard 2.1 parameter such as ";HOME"
			continue
		}
		key := bytes.TrimSpace(rest[:eq])
		rest = rest[eq+1:]
		var val []byte
		if len(rest) > 0 && rest[0] == '"' {
			end := bytes.IndexByte(rest[1:], '"')
			if end < 0 {
				return ""
			}
			val, rest = rest[1:1+end], rest[2+end:]
		} else {
			end := bytes.IndexByte(rest, ';')
			if end < 0 {
				end = len(rest)
			}
			val, rest = rest[:end], rest[end:]
		}
		if bytes.EqualFold(key, []byte(name)) {
			return string(val)
		}
	}
	return ""
}

// unescapeText undoes TEXT escaping (RFC 5545 §3.3.11) for display names
// and descriptions.
func unescapeText(v []byte) string {
	var sb strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' || i+1 == len(v) {
			sb.WriteByte(v[i])
			continue
		}
		i++
		switch v[i] {
		case 'n', 'N':
			sb.WriteByte('\n')
		default:
			sb.WriteByte(v[i])
		}
	}
	return strings.TrimSpace(sb.String())
}
