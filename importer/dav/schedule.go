package dav

import (
	"bytes"
	"strings"
)

// scheduleAgentClient guards against server-side scheduling (RFC 6638):
// every ORGANIZER and ATTENDEE of the object's components gets
// SCHEDULE-AGENT=CLIENT, telling the server that the client handles
// invitations, so that importing an event does not e-mail its attendees.
// A SCHEDULE-AGENT already set to CLIENT or NONE is kept; SERVER becomes
// CLIENT. Alarm ATTENDEEs (e-mail alarms) are left as they are. It
// returns ics unchanged, and false, when there was nothing to guard.
func scheduleAgentClient(ics []byte) ([]byte, bool) {
	if !bytes.Contains(ics, []byte("ATTENDEE")) && !bytes.Contains(ics, []byte("ORGANIZER")) &&
		!bytes.Contains(bytes.ToUpper(ics), []byte("ATTENDEE")) && !bytes.Contains(bytes.ToUpper(ics), []byte("ORGANIZER")) {
		return ics, false
	}
	inAlarm := 0
	return rewriteLines(ics, func(lines [][]byte) ([]byte, bool) {
		upper := strings.ToUpper(string(lines[0]))
		switch {
		case strings.HasPrefix(upper, "BEGIN:VALARM"):
			inAlarm++
		case strings.HasPrefix(upper, "END:VALARM") && inAlarm > 0:
			inAlarm--
		}
		name := propName(upper)
		if inAlarm > 0 || (name != "ATTENDEE" && name != "ORGANIZER") {
			return nil, false
		}
		return guardProperty(lines, len(name))
	})
}

// rewriteLines passes each logical line of b (a physical line with its
// continuations) to rewrite, which returns its replacement, or false to
// keep it as it is. It returns b itself, and false, when nothing changed.
func rewriteLines(b []byte, rewrite func(lines [][]byte) ([]byte, bool)) ([]byte, bool) {
	lines := physicalLines(b)
	var out bytes.Buffer
	out.Grow(len(b) + 256)
	changed := false
	for i := 0; i < len(lines); {
		j := i + 1
		for j < len(lines) && len(lines[j]) > 0 && (lines[j][0] == ' ' || lines[j][0] == '\t') {
			j++
		}
		if rewritten, ok := rewrite(lines[i:j]); ok {
			out.Write(rewritten)
			changed = true
		} else {
			for _, l := range lines[i:j] {
				out.Write(l)
			}
		}
		i = j
	}
	if !changed {
		return b, false
	}
	return out.Bytes(), true
}

// physicalLines splits b after each '\n', keeping the terminators.
func physicalLines(b []byte) [][]byte {
	var lines [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			lines = append(lines, b)
			break
		}
		lines = append(lines, b[:i+1])
		b = b[i+1:]
	}
	return lines
}

// propName is the property name at the start of an upper-cased line.
func propName(upper string) string {
	i := strings.IndexAny(upper, ";:")
	if i <= 0 {
		return ""
	}
	return upper[:i]
}

// guardProperty adds or fixes SCHEDULE-AGENT in one logical line (its
// physical lines). The parameter goes right after the name on the first
// physical line, so the rest of the bytes stay as they were.
func guardProperty(phys [][]byte, nameLen int) ([]byte, bool) {
	var logical bytes.Buffer
	for k, l := range phys {
		l = bytes.TrimRight(l, "\r\n")
		if k > 0 {
			l = l[1:]
		}
		logical.Write(l)
	}
	params := paramSection(logical.String())
	upperParams := strings.ToUpper(params)
	if idx := strings.Index(upperParams, ";SCHEDULE-AGENT="); idx >= 0 {
		v := upperParams[idx+len(";SCHEDULE-AGENT="):]
		if k := strings.IndexByte(v, ';'); k >= 0 {
			v = v[:k]
		}
		v = strings.Trim(v, `"`)
		if v == "CLIENT" || v == "NONE" {
			return nil, false
		}
		// SERVER or an unknown value: replace it, on the unfolded line.
		line := logical.String()
		start := idx + len(";SCHEDULE-AGENT=")
		end := start + len(upperParams[start:])
		if k := strings.IndexByte(upperParams[start:], ';'); k >= 0 {
			end = start + k
		}
		line = line[:start] + "CLIENT" + line[end:]
		return []byte(fold(line, lineEnd(phys[0]))), true
	}
	var out bytes.Buffer
	out.Write(phys[0][:nameLen])
	out.WriteString(";SCHEDULE-AGENT=CLIENT")
	out.Write(phys[0][nameLen:])
	for _, l := range phys[1:] {
		out.Write(l)
	}
	return out.Bytes(), true
}

// paramSection is the part of a content line between the name and the
// colon that starts the value, skipping colons inside quoted values.
func paramSection(line string) string {
	quoted := false
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '"':
			quoted = !quoted
		case ':':
			if !quoted {
				return line[:i]
			}
		}
	}
	return line
}

func lineEnd(l []byte) string {
	if bytes.HasSuffix(l, []byte("\r\n")) {
		return "\r\n"
	}
	return "\n"
}

// fold splits a content line into physical lines of at most 75 octets,
// never inside a UTF-8 sequence (RFC 5545 §3.1, RFC 6350 §3.2).
func fold(line, eol string) string {
	var b strings.Builder
	limit := 75
	for len(line) > limit {
		cut := limit
		for cut > 1 && line[cut]&0xC0 == 0x80 {
			cut--
		}
		b.WriteString(line[:cut])
		b.WriteString(eol + " ")
		line = line[cut:]
		limit = 74
	}
	b.WriteString(line)
	b.WriteString(eol)
	return b.String()
}
