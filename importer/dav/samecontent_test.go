package dav

import (
	"slices"
	"testing"
)

func TestSameContent(t *testing.T) {
	card := "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:Ann\r\nEMAIL:a@example.org\r\nEND:VCARD\r\n"
	tests := []struct {
		name string
		a, b string
		want bool
		diff []string // the properties named when they differ
	}{
		{"identical", card, card, true, nil},
		{"reordered (Radicale)", card, "BEGIN:VCARD\nVERSION:3.0\nUID:a\nEMAIL:a@example.org\nFN:Ann\nEND:VCARD\n", true, nil},
		{"folded", card, "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:A\r\n nn\r\nEMAIL:a@example.org\r\nEND:VCARD\r\n", true, nil},
		{"value changed", card, "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:Anne\r\nEMAIL:a@example.org\r\nEND:VCARD\r\n", false, []string{"FN"}},
		{"property dropped", card, "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:Ann\r\nEND:VCARD\r\n", false, []string{"EMAIL"}},
		{"names and parameters re-cased, merged and reordered (Radicale)",
			"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nfn:Ann\r\nemail;type=work;type=INTERNET;pref=1:a@x.org\r\ntel;TYPE=\"cell,voice\":1\r\nitem1.URL:http://x.org/a\r\nEND:VCARD\r\n",
			"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nEMAIL;PREF=1;TYPE=work,INTERNET:a@x.org\r\nFN:Ann\r\nITEM1.URL:http\\://x.org/a\r\nTEL;TYPE=CELL,VOICE:1\r\nEND:VCARD\r\n", true, nil},
		{"escaping and padding (Radicale)",
			"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:a\r\nFN:Doe\\, John\r\nN:Doe;John\r\nPHOTO:data:image/jpeg;base64\\,AAAA\r\nEND:VCARD\r\n",
			"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:a\r\nFN:Doe\\, John\r\nN:Doe;John;;;\r\nPHOTO:data:image/jpeg\\;base64\\,AAAA\r\nEND:VCARD\r\n", true, nil},
		{"data URI cut (Radicale's damage)",
			"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:a\r\nFN:A\r\nPHOTO:data:image/jpeg;base64,AAAA\r\nEND:VCARD\r\n",
			"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:a\r\nFN:A\r\nPHOTO:data:image/jpeg\\;base64\r\nEND:VCARD\r\n", false, []string{"PHOTO"}},
		{"structured separators are not text",
			"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:A\r\nN:Doe\\;Jr;John\r\nEND:VCARD\r\n",
			"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:A\r\nN:Doe;Jr;John\r\nEND:VCARD\r\n", false, []string{"N"}},
		{"list values lost",
			"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:a\r\nFN:A\r\nNICKNAME:Bob,Rob\r\nEND:VCARD\r\n",
			"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:a\r\nFN:A\r\nNICKNAME:Bob\r\nEND:VCARD\r\n", false, []string{"NICKNAME"}},
		{"property moved into a sub-component",
			"BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:e\nSUMMARY:x\nBEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT5M\nEND:VALARM\nEND:VEVENT\nEND:VCALENDAR\n",
			"BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:e\nBEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT5M\nSUMMARY:x\nEND:VALARM\nEND:VEVENT\nEND:VCALENDAR\n", false,
			[]string{"VEVENT SUMMARY", "VEVENT/VALARM SUMMARY"}},
		{"sub-components reordered, server stamps and durations",
			"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//a//EN\nBEGIN:VEVENT\nUID:e\nDTSTAMP:20240101T000000Z\nSUMMARY:a\\, b\nRRULE:FREQ=WEEKLY;COUNT=3\nBEGIN:VALARM\nTRIGGER:-P0DT0H10M0S\nEND:VALARM\nEND:VEVENT\nBEGIN:VEVENT\nUID:e\nRECURRENCE-ID:20240108T100000Z\nEND:VEVENT\nEND:VCALENDAR\n",
			"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Radicale//EN\nBEGIN:VEVENT\nUID:e\nRECURRENCE-ID:20240108T100000Z\nEND:VEVENT\nBEGIN:VEVENT\nUID:e\nDTSTAMP:20250101T000000Z\nSUMMARY:a\\, b\nRRULE:COUNT=3;FREQ=WEEKLY\nBEGIN:VALARM\nTRIGGER:-PT10M\nEND:VALARM\nEND:VEVENT\nEND:VCALENDAR\n", true, nil},
		{"unbalanced", "BEGIN:VCARD\nFN:x\n", "BEGIN:VCARD\nFN:x\nEND:VCARD\n", false, nil},
	}
	for _, tc := range tests {
		for i, pair := range [][2]string{{tc.a, tc.b}, {tc.b, tc.a}} {
			got, diff := sameContent([]byte(pair[0]), []byte(pair[1]))
			if got != tc.want {
				t.Errorf("%s (%d): sameContent = %v, want %v", tc.name, i, got, tc.want)
			}
			if !slices.Equal(diff, tc.diff) {
				t.Errorf("%s (%d): differing properties %q, want %q", tc.name, i, diff, tc.diff)
			}
		}
	}
}

// FuzzSameContent: an object is the same as itself and as its CRLF and
// LF forms; the comparison is symmetric and never panics.
func FuzzSameContent(f *testing.F) {
	f.Add([]byte("BEGIN:VCARD\r\nFN:x\r\nEND:VCARD\r\n"), []byte("BEGIN:VCARD\nFN:x\nEND:VCARD\n"))
	f.Add([]byte("BEGIN:A\nBEGIN:B\nEND:A\n"), []byte("END:B"))
	f.Add([]byte("BEGIN:VCALENDAR\nX;A=b\nEND:VCALENDAR\n"), []byte("BEGIN:VCALENDAR\nEND:VCALENDAR\n"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if same, _ := sameContent(a, a); !same {
			t.Errorf("%q differs from itself", a)
		}
		s1, _ := sameContent(a, b)
		s2, _ := sameContent(b, a)
		if s1 != s2 {
			t.Errorf("not symmetric for %q and %q", a, b)
		}
	})
}
