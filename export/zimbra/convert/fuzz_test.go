package convert

import (
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/export/zimbra/metadata"
)

// foldedWithin reports whether every line of b fits 75 octets.
func foldedWithin(b []byte) bool {
	for _, line := range strings.SplitAfter(string(b), "\r\n") {
		if len(strings.TrimSuffix(line, "\r\n")) > 75 {
			return false
		}
	}
	return true
}

// FuzzContact checks that any metadata and blob give a card that reads
// back, or an error, never a panic.
func FuzzContact(f *testing.F) {
	f.Add(metadata.Encode(metadata.Map{"fld": metadata.Map{"firstName": "Josée", "email": "j@example.org", "type": "group",
		"groupMember": metadata.Encode(metadata.Map{"m": metadata.List{metadata.Map{"t": "I", "v": "a <a@b>"}}}),
		"vcardXProps": `{"X-A":"{\"ZMPROP\":[{\"ZMVAL\":\"v\",\"PAR\":[\"TYPE=HOME\"]}]}"}`, "notes": "a\r\nb;c,d"},
		"att": metadata.List{metadata.Map{"field": "image", "part": "1"}}}),
		contactBlob([3]string{"image", "a.png", "image/png"}))
	f.Add("email=1:x;", "")
	f.Fuzz(func(t *testing.T, md, blob string) {
		m, err := metadata.Decode(md)
		if err != nil {
			return
		}
		var r *strings.Reader
		if blob != "" {
			r = strings.NewReader(blob)
		}
		var card []byte
		if r == nil {
			card, _, _, err = Contact(m, nil, ContactOptions{ItemID: 1})
		} else {
			card, _, _, err = Contact(m, r, ContactOptions{ItemID: 1})
		}
		if err != nil {
			return
		}
		if !foldedWithin(card) {
			t.Fatalf("unfolded line in\n%s", card)
		}
		if _, err := CheckContact(strings.NewReader(string(card))); err != nil {
			t.Fatalf("card does not read back: %v\n%s", err, card)
		}
	})
}

// FuzzCalendarFromBlob checks that any blob gives one calendar object
// that reads back, or an error, never a panic.
func FuzzCalendarFromBlob(f *testing.F) {
	f.Add(digestBlob([2]string{"1", inviteMessage(vcalendar(berlin+"BEGIN:VEVENT\r\nUID:u\r\nDTSTAMP:20240101T000000Z\r\nEND:VEVENT\r\n"),
		"base64", [3]string{"a.txt", "text/plain", "x"})}))
	f.Fuzz(func(t *testing.T, blob string) {
		ics, _, err := CalendarFromBlob(strings.NewReader(blob))
		if err != nil {
			return
		}
		if !foldedWithin(ics) {
			t.Fatalf("unfolded line in\n%s", ics)
		}
		if _, err := CheckCalendar(strings.NewReader(string(ics))); err != nil {
			t.Fatalf("calendar does not read back: %v\n%s", err, ics)
		}
	})
}

// FuzzCalendarFromMetadata does the same for the rebuild from metadata.
func FuzzCalendarFromMetadata(f *testing.F) {
	f.Add(metadata.Encode(metadata.Map{"inv": metadata.List{metadata.Map{"u": "x", "st": "TZID=Europe/Berlin:20240101T100000",
		"n": "a;b", "org": metadata.Map{"a": "o@x", "cn": "O"}, "at0": metadata.Map{"a": "a@x", "ptst": "AC"}}}}))
	f.Fuzz(func(t *testing.T, md string) {
		m, err := metadata.Decode(md)
		if err != nil {
			return
		}
		ics, _, err := CalendarFromMetadata(m)
		if err != nil {
			return
		}
		if _, err := CheckCalendar(strings.NewReader(string(ics))); err != nil {
			t.Fatalf("calendar does not read back: %v\n%s", err, ics)
		}
	})
}
