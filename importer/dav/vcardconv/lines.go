package vcardconv

import (
	"bytes"
	"strings"

	"github.com/mailhaul/mailhaul/internal/contentline"
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
	var out []line
	qp, b64 := false, false
	lr := contentline.NewReader(bytes.NewReader(card), len(card)+1)
	for {
		l, err := lr.Next()
		if err != nil {
			break
		}
		p := strings.TrimSuffix(string(l.Text), "\r")
		switch {
		case len(out) > 0 && qp:
			// The previous line ended in a soft break: join verbatim.
			last := &out[len(out)-1]
			last.text = strings.TrimSuffix(last.text, "=") + p
		case len(out) > 0 && contentline.IsContinuation([]byte(p)):
			out[len(out)-1].text += p[1:]
		case len(out) > 0 && b64 && p != "" && isBase64Line(p):
			out[len(out)-1].text += p
		case p == "":
			b64 = false
			continue
		default:
			out = append(out, line{text: p, num: l.Number})
			head := strings.ToUpper(headOf(p))
			b64 = strings.Contains(head, "BASE64")
		}
		last := out[len(out)-1].text
		qp = strings.HasSuffix(last, "=") && strings.Contains(strings.ToUpper(headOf(last)), "QUOTED-PRINTABLE")
	}
	return out
}

// headOf is a line's name and parameters, before the first colon.
func headOf(l string) string { return string(contentline.SplitV21([]byte(l)).Head) }

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
	cl := contentline.SplitV21([]byte(l))
	if !cl.HasValue {
		return property{}, false
	}
	p := property{group: string(cl.Group), name: string(cl.Name), value: string(cl.Value)}
	if !contentline.ValidName(p.name) || (p.group != "" && !contentline.ValidName(p.group)) {
		return property{}, false
	}
	for _, pr := range cl.ParamList() {
		v := strings.TrimSpace(string(pr.Value))
		if pr.Name == nil {
			p.params = append(p.params, param{value: v})
			continue
		}
		p.params = append(p.params, param{name: strings.ToUpper(string(pr.Name)), value: v})
	}
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
		b.WriteString(contentline.QuoteParam(pr.value))
	}
	return b.String()
}
