package dav

import "testing"

func TestSameContent(t *testing.T) {
	card := "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:Ann\r\nEMAIL:a@example.org\r\nEND:VCARD\r\n"
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"identical", card, card, true},
		{"reordered (Radicale)", card, "BEGIN:VCARD\nVERSION:3.0\nUID:a\nEMAIL:a@example.org\nFN:Ann\nEND:VCARD\n", true},
		{"folded", card, "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:A\r\n nn\r\nEMAIL:a@example.org\r\nEND:VCARD\r\n", true},
		{"value changed", card, "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:Anne\r\nEMAIL:a@example.org\r\nEND:VCARD\r\n", false},
		{"property dropped", card, "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:Ann\r\nEND:VCARD\r\n", false},
		{"property moved into a sub-component",
			"BEGIN:VEVENT\nUID:e\nSUMMARY:x\nBEGIN:VALARM\nACTION:DISPLAY\nEND:VALARM\nEND:VEVENT\n",
			"BEGIN:VEVENT\nUID:e\nBEGIN:VALARM\nACTION:DISPLAY\nSUMMARY:x\nEND:VALARM\nEND:VEVENT\n", false},
		{"sub-components reordered",
			"BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:e\nEND:VEVENT\nBEGIN:VEVENT\nUID:e\nRECURRENCE-ID:1\nEND:VEVENT\nEND:VCALENDAR\n",
			"BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:e\nRECURRENCE-ID:1\nEND:VEVENT\nBEGIN:VEVENT\nUID:e\nEND:VEVENT\nEND:VCALENDAR\n", true},
		{"unbalanced", "BEGIN:VCARD\nFN:x\n", "BEGIN:VCARD\nFN:x\nEND:VCARD\n", false},
	}
	for _, tc := range tests {
		if got := sameContent([]byte(tc.a), []byte(tc.b)); got != tc.want {
			t.Errorf("%s: sameContent = %v, want %v", tc.name, got, tc.want)
		}
		if got := sameContent([]byte(tc.b), []byte(tc.a)); got != tc.want {
			t.Errorf("%s (swapped): sameContent = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// FuzzSameContent: an object is the same as itself and as its CRLF and
// LF forms; the comparison is symmetric and never panics.
func FuzzSameContent(f *testing.F) {
	f.Add([]byte("BEGIN:VCARD\r\nFN:x\r\nEND:VCARD\r\n"), []byte("BEGIN:VCARD\nFN:x\nEND:VCARD\n"))
	f.Add([]byte("BEGIN:A\nBEGIN:B\nEND:A\n"), []byte("END:B"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if !sameContent(a, a) {
			t.Errorf("%q differs from itself", a)
		}
		if sameContent(a, b) != sameContent(b, a) {
			t.Errorf("not symmetric for %q and %q", a, b)
		}
	})
}
