package dav

import (
	"strings"
	"testing"
)

// TestScheduleAgentQuotedAndFolded: the guard reads parameters as
// parameters. A SCHEDULE-AGENT spelled inside another parameter's quoted
// value is no SCHEDULE-AGENT (the attendee must still be guarded, or the
// server mails the invitation), a quoted SERVER is replaced, and a name
// folded across lines is still recognised.
func TestScheduleAgentQuotedAndFolded(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ATTENDEE;CN=\"x;SCHEDULE-AGENT=CLIENT\":mailto:a@x\r\n",
			"ATTENDEE;SCHEDULE-AGENT=CLIENT;CN=\"x;SCHEDULE-AGENT=CLIENT\":mailto:a@x\r\n"},
		{"ATTENDEE;schedule-agent=\"SERVER\";CN=B:mailto:b@x\r\n",
			"ATTENDEE;schedule-agent=CLIENT;CN=B:mailto:b@x\r\n"},
		{"ATTEN\r\n DEE:mailto:c@x\r\n",
			"ATTENDEE;SCHEDULE-AGENT=CLIENT:mailto:c@x\r\n"},
		{"ORGANIZER;SCHEDULE-AGENT=\"NONE\":mailto:d@x\r\n", ""},
	} {
		ics := "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:1\r\n" + tc.in + "END:VEVENT\r\nEND:VCALENDAR\r\n"
		out, changed := scheduleAgentClient([]byte(ics))
		if tc.want == "" {
			if changed {
				t.Errorf("%q was changed to:\n%s", tc.in, out)
			}
			continue
		}
		if !changed || !strings.Contains(string(out), "UID:1\r\n"+tc.want+"END:VEVENT") {
			t.Errorf("%q: got (changed %v)\n%s\nwant the line\n%s", tc.in, changed, out, tc.want)
		}
	}
}
