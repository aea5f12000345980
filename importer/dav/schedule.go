package dav

import (
	"bytes"
	"strings"

	"github.com/mailhaul/mailhaul/internal/contentline"
)

// scheduleAgentClient guards against server-side scheduling (RFC 6638):
// every ORGANIZER and ATTENDEE of the object's components gets
// SCHEDULE-AGENT=CLIENT, telling the server that the client handles
// invitations, so that importing an event does not e-mail its attendees.
// A SCHEDULE-AGENT already set to CLIENT or NONE is kept; SERVER becomes
// CLIENT. Alarm ATTENDEEs (e-mail alarms) are left as they are. It
// returns ics unchanged, and false, when there was nothing to guard.
func scheduleAgentClient(ics []byte) ([]byte, bool) {
	inAlarm := 0
	return contentline.Rewrite(ics, func(f contentline.Folded) ([]byte, bool) {
		line := f.Unfold()
		p := contentline.Split(line)
		switch {
		case p.Is("BEGIN") && isAlarm(p.Value):
			inAlarm++
		case p.Is("END") && isAlarm(p.Value) && inAlarm > 0:
			inAlarm--
		}
		// A line whose name no ';' or ':' ends is no property to guard.
		if inAlarm > 0 || len(p.Group) > 0 || p.NameEnd() == len(line) || !(p.Is("ATTENDEE") || p.Is("ORGANIZER")) {
			return nil, false
		}
		return guardProperty(f, line, p)
	})
}

func isAlarm(v []byte) bool { return bytes.EqualFold(bytes.TrimSpace(v), []byte("VALARM")) }

// guardProperty adds or fixes SCHEDULE-AGENT in one logical line: f its
// physical lines, line and p the unfolded line and its parts. A new
// parameter goes right after the name on the first physical line, so the
// rest of the bytes stay as they were.
func guardProperty(f contentline.Folded, line []byte, p contentline.Property) ([]byte, bool) {
	for _, pr := range p.ParamList() {
		if !pr.Is("SCHEDULE-AGENT") {
			continue
		}
		if v := strings.ToUpper(string(pr.Unquoted())); v == "CLIENT" || v == "NONE" {
			return nil, false
		}
		// SERVER or an unknown value: replace it, on the unfolded line.
		at := p.NameEnd() + pr.At
		fixed := string(line[:at]) + "CLIENT" + string(line[at+len(pr.Value):])
		return f.Refold(fixed), true
	}
	const param = ";SCHEDULE-AGENT=CLIENT"
	at := p.NameEnd()
	if at > len(f[:1].Unfold()) {
		// The name itself is folded: refold the whole line.
		return f.Refold(string(line[:at]) + param + string(line[at:])), true
	}
	var out bytes.Buffer
	out.Write(f[0][:at])
	out.WriteString(param)
	out.Write(f[0][at:])
	for _, l := range f[1:] {
		out.Write(l)
	}
	return out.Bytes(), true
}
