package dav

import (
	"net/http"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	ms := func(inner string) string {
		return `<d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:response><d:href>/x</d:href><d:status>HTTP/1.1 412 Precondition Failed</d:status>` + inner + `</d:response></d:multistatus>`
	}
	tests := []struct {
		name   string
		status int
		body   string
		update bool
		want   outcome
		href   string
	}{
		{"created", 201, "", false, stored, ""},
		{"412 create", 412, "", false, exists, ""},
		{"412 update", 412, "", true, changed, ""},
		{"409 no-uid-conflict", 409, `<d:error xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><c:no-uid-conflict><d:href>/cal/a.ics</d:href></c:no-uid-conflict></d:error>`, false, uidElse, "/cal/a.ics"},
		{"409 other", 409, "nope", false, refused, ""},
		{"207 with 412", 207, ms(""), false, uidElse, ""},
		{"207 with 412 invalid data", 207, ms(`<d:error><c:valid-calendar-data/></d:error>`), false, refused, ""},
		{"413", 413, "", false, refused, ""},
	}
	for _, tc := range tests {
		r := classify(&answer{Status: tc.status, Header: http.Header{}, Body: []byte(tc.body)}, tc.update)
		if r.Outcome != tc.want || r.Href != tc.href {
			t.Errorf("%s: outcome %d href %q; want %d %q", tc.name, r.Outcome, r.Href, tc.want, tc.href)
		}
	}
}

func TestScheduleAgentClient(t *testing.T) {
	in := "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:1\r\nORGANIZER;CN=A:mailto:a@x\r\nATTENDEE;SCHEDULE-AGENT=SERVER;CN=B:mailto:b@x\r\nATTENDEE;SCHEDULE-AGENT=NONE:mailto:c@x\r\nATTENDEE:mailto:d@\r\n x\r\nBEGIN:VALARM\r\nATTENDEE:mailto:e@x\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	out, changed := scheduleAgentClient([]byte(in))
	if !changed {
		t.Fatal("nothing changed")
	}
	for _, want := range []string{
		"ORGANIZER;SCHEDULE-AGENT=CLIENT;CN=A:mailto:a@x\r\n",
		"ATTENDEE;SCHEDULE-AGENT=CLIENT;CN=B:mailto:b@x\r\n",
		"ATTENDEE;SCHEDULE-AGENT=NONE:mailto:c@x\r\n",
		"ATTENDEE;SCHEDULE-AGENT=CLIENT:mailto:d@\r\n x\r\n",
		"BEGIN:VALARM\r\nATTENDEE:mailto:e@x\r\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, changed := scheduleAgentClient([]byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")); changed {
		t.Error("an event without attendees was changed")
	}
}

func TestResourceName(t *testing.T) {
	tests := []struct{ uid, want string }{
		{"abc-123@example.com", "abc-123@example.com.ics"},
		{"http://wiki/Termin:X", "hash"},
		{"../etc", "hash"},
		{"", "hash"},
	}
	for _, tc := range tests {
		got := resourceName(tc.uid, ".ics")
		if tc.want == "hash" {
			if len(got) != 36 || strings.ContainsAny(got, "/:.") && !strings.HasSuffix(got, ".ics") {
				t.Errorf("resourceName(%q) = %q, want a 32-hex name", tc.uid, got)
			}
			if got != resourceName(tc.uid, ".ics") {
				t.Errorf("resourceName(%q) is not stable", tc.uid)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("resourceName(%q) = %q, want %q", tc.uid, got, tc.want)
		}
	}
	if slug("Mes Contacts — 2024") != "mes-contacts-2024" {
		t.Errorf("slug = %q", slug("Mes Contacts — 2024"))
	}
}
