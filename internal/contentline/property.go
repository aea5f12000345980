package contentline

import (
	"bytes"
	"strings"
)

// Property is a content line cut into its parts (RFC 5545 §3.1, RFC 6350
// §3.3): [group "."] name *(";" param) ":" value. Every field is a slice
// of the line, so nothing is copied and nothing is lost: the line is Head,
// then ":" and Value when HasValue.
type Property struct {
	Head     []byte // the line up to the colon that starts the value
	Group    []byte // "item1" of "item1.TEL", or empty
	Name     []byte // without the group and surrounding white space
	Params   []byte // ";TYPE=HOME;PREF=1" as written, or empty
	Value    []byte
	HasValue bool // false on a broken line with no colon after the name
	v21      bool
}

// Split cuts a logical line into its parts. A colon inside a quoted
// parameter value does not end the parameters. A line with neither ';'
// nor ':' is all name.
func Split(line []byte) Property { return split(line, false) }

// SplitV21 cuts a vCard 2.1 line, whose parameter values cannot be
// quoted: the first colon ends the parameters, and a '"' is a character
// like any other.
func SplitV21(line []byte) Property { return split(line, true) }

func split(line []byte, v21 bool) Property {
	end := bytes.IndexAny(line, ";:")
	if end < 0 {
		return Property{Head: line, Name: bytes.TrimSpace(line), v21: v21}
	}
	p := Property{Head: line, v21: v21}
	p.Group, p.Name = splitName(line[:end])
	rest := line[end:]
	inQuote := false
	for i, c := range rest {
		switch {
		case c == '"' && !v21:
			inQuote = !inQuote
		case c == ':' && !inQuote:
			p.Head, p.Params, p.Value, p.HasValue = line[:end+i], rest[:i], rest[i+1:], true
			return p
		}
	}
	p.Params = rest
	return p
}

// splitName cuts "item1.TEL" at its last dot.
func splitName(s []byte) (group, name []byte) {
	s = bytes.TrimSpace(s)
	if i := bytes.LastIndexByte(s, '.'); i >= 0 {
		return s[:i], bytes.TrimSpace(s[i+1:])
	}
	return nil, s
}

// Is reports whether the property is called name, ignoring case.
func (p Property) Is(name string) bool { return bytes.EqualFold(p.Name, []byte(name)) }

// NameEnd is the offset in the line where the name (and group) ends and
// the parameters start: where a new parameter goes.
func (p Property) NameEnd() int { return len(p.Head) - len(p.Params) }

// Param is one parameter of a property.
type Param struct {
	Name  []byte // without surrounding white space; empty for a bare vCard 2.1 parameter such as "HOME"
	Value []byte // as written: quotes, several comma-separated values and white space included
	At    int    // offset of Value in the property's Params, to replace it in place
}

// Is reports whether the parameter is called name, ignoring case.
func (pr Param) Is(name string) bool { return bytes.EqualFold(pr.Name, []byte(name)) }

// Unquoted is the value without the quotes around it; nil when a quote
// is not closed. For a value with several quoted parts it is the first.
func (pr Param) Unquoted() []byte {
	v := pr.Value
	if len(v) == 0 || v[0] != '"' {
		return v
	}
	end := bytes.IndexByte(v[1:], '"')
	if end < 0 {
		return nil
	}
	return v[1 : 1+end]
}

// ParamList returns the parameters in the order written. Empty ones
// (";;") are skipped. In a vCard 2.1 line every ';' ends a parameter; in
// others a ';' inside quotes does not.
func (p Property) ParamList() []Param {
	var out []Param
	s := p.Params
	for i := 0; i < len(s); {
		if s[i] != ';' {
			// Text before the first ';' cannot occur after Split; stop
			// rather than misread it.
			return out
		}
		start := i + 1
		end, inQuote := start, false
		for ; end < len(s); end++ {
			c := s[end]
			if c == '"' && !p.v21 {
				inQuote = !inQuote
			} else if c == ';' && !inQuote {
				break
			}
		}
		seg := s[start:end]
		i = end
		if len(bytes.TrimSpace(seg)) == 0 {
			continue
		}
		eq := bytes.IndexByte(seg, '=')
		if eq < 0 {
			out = append(out, Param{Value: seg, At: start})
			continue
		}
		out = append(out, Param{Name: bytes.TrimSpace(seg[:eq]), Value: seg[eq+1:], At: start + eq + 1})
	}
	return out
}

// Param returns the unquoted value of the first parameter called name
// (ignoring case), and whether there is one.
func (p Property) Param(name string) ([]byte, bool) {
	for _, pr := range p.ParamList() {
		if len(pr.Name) > 0 && pr.Is(name) {
			return pr.Unquoted(), true
		}
	}
	return nil, false
}

// ValidName reports whether s can be a property, parameter or group name:
// letters, digits and '-' (RFC 5545 §3.1, RFC 6350 §3.3), and '_', which
// writers use though the RFCs do not allow it.
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// QuoteParam writes a parameter value for a line: quoted when it holds
// ':', ';' or ',', which would end it otherwise. A quoted value cannot
// hold '"', so those are dropped.
func QuoteParam(v string) string {
	if !strings.ContainsAny(v, ":;,") {
		return v
	}
	return `"` + strings.ReplaceAll(v, `"`, "") + `"`
}

// SplitValue splits a value at each sep (';' in a structured value such
// as N or ADR, ',' in a list) that no backslash escapes. The parts stay
// escaped.
func SplitValue(s string, sep byte) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == sep {
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}
