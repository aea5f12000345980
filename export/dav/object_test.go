package dav

import (
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
)

// scan finds the UID, the kind and the last change of an object: the
// latest LAST-MODIFIED of its components (an override's counts), else
// DTSTAMP, never an alarm's or a time zone's; a card's REV.
func TestScan(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2024, 1, d, 0, 0, 0, 0, time.UTC) }
	for _, c := range []struct {
		name, data string
		uid        string
		kind       format.Kind
		mixed      bool
		stamp      time.Time
	}{
		{"card", "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:1\r\nREV:20240102T000000Z\r\nEND:VCARD\r\n", "urn:uuid:1", "", false, day(2)},
		{"overrides", "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:X\r\nLAST-MODIFIED:20240120T000000Z\r\nEND:VTIMEZONE\r\n" +
			"BEGIN:VEVENT\r\nUID:e\r\nDTSTAMP:20240109T000000Z\r\nLAST-MODIFIED:20240103T000000Z\r\nBEGIN:VALARM\r\nLAST-MODIFIED:20240125T000000Z\r\nEND:VALARM\r\nEND:VEVENT\r\n" +
			"BEGIN:VEVENT\r\nUID:e\r\nRECURRENCE-ID:20240105T000000Z\r\nLAST-MODIFIED:20240104T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", "e", format.KindEvent, false, day(4)},
		{"dtstamp only", "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:t\r\nDTSTAMP:20240106T000000Z\r\nCREATED:20240101T000000Z\r\nEND:VTODO\r\nEND:VCALENDAR\r\n", "t", format.KindTask, false, day(6)},
		{"mixed", "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:m\r\nEND:VTODO\r\nBEGIN:VEVENT\r\nUID:m\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", "m", format.KindEvent, true, time.Time{}},
		{"folded uid", "BEGIN:VCALENDAR\r\nBEGIN:VJOURNAL\r\nUID:long\r\n -uid\r\nEND:VJOURNAL\r\nEND:VCALENDAR\r\n", "long-uid", format.KindEvent, false, time.Time{}},
	} {
		o := scan([]byte(c.data))
		if o.uid != c.uid || !o.stamp.Equal(c.stamp) {
			t.Errorf("%s: uid %q stamp %s; want %q %s", c.name, o.uid, o.stamp, c.uid, c.stamp)
		}
		if c.kind == "" {
			if !o.vcard {
				t.Errorf("%s: not read as a vCard", c.name)
			}
			continue
		}
		if k, mixed := o.kind(); !o.ical || k != c.kind || mixed != c.mixed {
			t.Errorf("%s: ical %v kind %s mixed %v; want %s %v", c.name, o.ical, k, mixed, c.kind, c.mixed)
		}
	}
}
