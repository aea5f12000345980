package pim

import (
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
)

// TestObjectTooLarge: a card or calendar component over MaxObjectSize is
// left out and reported as an error naming it, and the object after it
// is still exported.
func TestObjectTooLarge(t *testing.T) {
	big := strings.Repeat("A", MaxObjectSize)
	for _, tc := range []struct {
		file, in, names string
		add             func(*testing.T, string, string, export.Options) *exporttest.Sink
	}{
		{"big.vcf", "BEGIN:VCARD\nUID:big\nPHOTO:" + big + "\nEND:VCARD\nBEGIN:VCARD\nUID:small\nEND:VCARD\n",
			"card 1", addContacts},
		{"big.ics", "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:big\nATTACH:" + big + "\nEND:VEVENT\n" +
			"BEGIN:VEVENT\nUID:small\nEND:VEVENT\nEND:VCALENDAR\n", "UID big", addCalendar},
	} {
		s := tc.add(t, "b", writeFile(t, tc.file, tc.in), export.Options{})
		if len(s.Items) != 1 || s.Items[0].UID != "small" {
			t.Errorf("%s: %d items, want only the small object", tc.file, len(s.Items))
		}
		if len(s.Errors) != 1 || !strings.Contains(s.Errors[0].Item, tc.names) {
			t.Errorf("%s: errors %v, want one naming %s", tc.file, s.Errors, tc.names)
		}
	}
}
