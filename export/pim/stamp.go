package pim

import (
	"strings"
	"time"
)

// stampLayouts are the timestamp forms seen in REV, LAST-MODIFIED, DTSTAMP
// and CREATED: iCalendar's basic form (RFC 5545 §3.3.5), vCard 4's
// (RFC 6350 §4.3.5) and vCard 3's ISO 8601 extended form. Forms without a
// zone are taken as UTC: an approximate received time is good enough.
var stampLayouts = []string{
	"20060102T150405Z",
	"20060102T150405Z0700",
	"20060102T150405",
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05",
	"20060102",
	"2006-01-02",
}

// ParseStamp reads a timestamp property value (REV, LAST-MODIFIED,
// DTSTAMP, CREATED), in UTC.
func ParseStamp(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	for _, layout := range stampLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
