package vcardconv

import (
	"strings"
)

// line is one logical line of a 2.1 card and the physical line it
// started on.
type line struct {
	text string
	num  int
}

// logicalLines unfolds a 2.1 card. Three kinds of continuation exist in
// the wild: a line starting with a space or tab (RFC-style folding), a
// quoted-printable soft break (a value line ending in "="), and base64
// data running over the following lines until a blank line.
func logicalLines(card []byte) []line {
	phys := strings.Split(strings.ReplaceAll(string(card), "\r\n", "\n"), "\n")
	var out []line
	qp, b64 := false, false
	for n, p := range phys {
		p = strings.TrimSuffix(p, "\r")
		switch {
		case len(out) > 0 && qp:
			// The previous line ended in a soft break: join verbatim.
			last := &out[len(out)-1]
			last.text = strings.TrimSuffix(last.text, "=") + p
		case len(out) > 0 && (strings.HasPrefix(p, " ") || strings.HasPrefix(p, "\t")):
			out[len(out)-1].text += p[1:]
		case len(out) > 0 && b64 && p != "" && isBase64Line(p):
			out[len(out)-1].text += p
		case p == "":
			b64 = false
			continue
		default:
			out = append(out, line{text: p, num: n + 1})
			head := strings.ToUpper(headOf(p))
			b64 = strings.Contains(head, "BASE64")
		}
		last := out[len(out)-1].text
		qp = strings.HasSuffix(last, "=") && strings.Contains(strings.ToUpper(headOf(last)), "QUOTED-PRINTABLE")
	}
	return out
}

// headOf is a line's name and parameters, before the first colon.
func headOf(l string) string {
	if i := strings.IndexByte(l, ':'); i >= 0 {
		return l[:i]
	}
	return l
}

func isBase64Line(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

// property is a parsed content line: group.name;params:value.
type property struct {
	group, name string
	params      []param
	value       string
}

// param is one parameter; name is "" for a bare 2.1 type such as HOME.
type param struct{ name, value string }

// parseLine splits a logical line. 2.1 parameters cannot be quoted, so
// the first colon ends them.
func parseLine(l string) (property, bool) {
	i := strings.IndexByte(l, ':')
	if i <= 0 {
		return property{}, false
	}
	head, value := l[:i], l[i+1:]
	parts := strings.Split(head, ";")
	var p property
	p.name = strings.TrimSpace(parts[0])
	if g := strings.LastIndexByte(p.name, '.'); g >= 0 {
		p.group, p.name = p.name[:g], p.name[g+1:]
	}
	if !token(p.name) || (p.group != "" && !token(p.group)) {
		return property{}, false
	}
	for _, s := range parts[1:] {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if k := strings.IndexByte(s, '='); k >= 0 {
			p.params = append(p.params, param{name: strings.ToUpper(strings.TrimSpace(s[:k])), value: strings.TrimSpace(s[k+1:])})
		} else {
			p.params = append(p.params, param{value: s})
		}
	}
	p.value = value
	return p, true
}

// header is the 3.0 name and parameters of p.
func (p property) header() string {
	var b strings.Builder
	if p.group != "" {
		b.WriteString(p.group + ".")
	}
	b.WriteString(p.name)
	for _, pr := range p.params {
		b.WriteByte(';')
		b.WriteString(pr.name)
		b.WriteByte('=')
		if strings.ContainsAny(pr.value, ":;,") {
			b.WriteString(`"` + strings.ReplaceAll(pr.value, `"`, "") + `"`)
		} else {
			b.WriteString(pr.value)
		}
	}
	return b.String()
}

// token reports whether s is a valid name: letters, digits and dashes.
func token(s string) bool {
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
