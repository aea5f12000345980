package dav

import (
	"bytes"
	"slices"
	"strings"
)

// sameContent reports whether two vCards or iCalendar objects hold the
// same content lines, allowing for line folding, line endings and the
// order of properties and of sibling components. --update uses it so that
// a server that stores its own re-serialisation (Radicale reorders
// properties) does not make every unchanged object look changed. Any
// other difference, even an equivalent one (escaping, quoting), counts
// as a change.
func sameContent(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	ca, okA := canonical(a)
	cb, okB := canonical(b)
	return okA && okB && ca == cb
}

// canonical renders an object with each component's property lines and
// sub-components sorted; false when BEGIN and END lines do not nest.
func canonical(b []byte) (string, bool) {
	type comp struct {
		name  string
		lines []string
	}
	stack := []*comp{{}}
	for _, line := range unfoldLines(b) {
		upper := strings.ToUpper(line)
		switch {
		case strings.HasPrefix(upper, "BEGIN:"):
			stack = append(stack, &comp{name: upper})
		case strings.HasPrefix(upper, "END:"):
			top := stack[len(stack)-1]
			if len(stack) == 1 || "END:"+strings.TrimPrefix(top.name, "BEGIN:") != upper {
				return "", false
			}
			stack = stack[:len(stack)-1]
			slices.Sort(top.lines)
			// A sub-component sorts among its parent's lines as one block.
			parent := stack[len(stack)-1]
			parent.lines = append(parent.lines, top.name+"\n"+strings.Join(top.lines, "\n")+"\n"+upper)
		default:
			stack[len(stack)-1].lines = append(stack[len(stack)-1].lines, line)
		}
	}
	if len(stack) != 1 {
		return "", false
	}
	slices.Sort(stack[0].lines)
	return strings.Join(stack[0].lines, "\n"), true
}

// unfoldLines splits an object into content lines: CRLF or LF endings, a
// line starting with a space or tab continues the previous one (RFC 5545
// §3.1, RFC 6350 §3.2), and empty lines are dropped.
func unfoldLines(b []byte) []string {
	var out []string
	for _, raw := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n") {
		raw = strings.TrimSuffix(raw, "\r")
		switch {
		case raw == "":
		case (raw[0] == ' ' || raw[0] == '\t') && len(out) > 0:
			out[len(out)-1] += raw[1:]
		default:
			out = append(out, raw)
		}
	}
	return out
}
