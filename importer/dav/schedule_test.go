package dav

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/internal/contentline"
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

// FuzzScheduleAgentClient: the guard is idempotent, changes only
// ORGANIZER and ATTENDEE lines outside alarms, and leaves each of them
// with SCHEDULE-AGENT=CLIENT or NONE and its value unchanged.
func FuzzScheduleAgentClient(f *testing.F) {
	f.Add([]byte("BEGIN:VEVENT\r\nATTENDEE;CN=\"a;b\":mailto:a\r\nORGANIZER;SCHEDULE-AGENT=SERVER:m\r\nBEGIN:VALARM\r\nATTENDEE:x\r\nEND:VALARM\r\nEND:VEVENT\r\n"))
	f.Add([]byte("ATTEN\n DEE:x\nattendee;schedule-agent=\"server\";X=1:y\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, changed := scheduleAgentClient(in)
		if !changed {
			if !bytes.Equal(out, in) {
				t.Fatalf("unchanged, yet %q became %q", in, out)
			}
			return
		}
		if again, changed := scheduleAgentClient(out); changed {
			t.Fatalf("not idempotent: %q, then %q", out, again)
		}
		before, after := contentline.Unfold(in), contentline.Unfold(out)
		if len(before) != len(after) {
			t.Fatalf("%d lines became %d: %q", len(before), len(after), out)
		}
		for i := range before {
			if before[i] == after[i] {
				continue
			}
			a, b := contentline.Split([]byte(before[i])), contentline.Split([]byte(after[i]))
			v, _ := b.Param("SCHEDULE-AGENT")
			if !(b.Is("ATTENDEE") || b.Is("ORGANIZER")) || !bytes.Equal(a.Value, b.Value) ||
				!(bytes.EqualFold(v, []byte("CLIENT")) || bytes.EqualFold(v, []byte("NONE"))) {
				t.Fatalf("line %q became %q", before[i], after[i])
			}
		}
	})
}
