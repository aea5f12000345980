package dav

import (
	"bytes"
	"strings"
	"time"

	"github.com/mailhaul/mailhaul/export/pim"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/contentline"
)

// object is what the export needs to know of one server object; its
// bytes are never changed.
type object struct {
	vcard bool // a vCard; else iCalendar (or neither: both false)
	ical  bool
	uid   string
	// comps are the components directly inside VCALENDAR (VEVENT,
	// VTODO, VJOURNAL, VTIMEZONE...), each named once.
	comps []string
	// stamp is the object's last change as it says it (see stampRank),
	// read as UTC where it gives no zone or no time of day; latest is the
	// latest instant it can mean in any zone (see vagueness), which the
	// cutoff is applied to.
	stamp, latest time.Time
}

// vagueness is how much later than its UTC reading a stamp value can
// mean: a date without a time (a vCard 3 REV:2024-03-01) is that whole
// day in any zone, up to 36 hours on; a time without a zone (floating,
// against RFC 5545 but written) up to 12 hours on (UTC-12). A cutoff
// applied to the latest reading never drops a change made after it.
func vagueness(v string) time.Duration {
	v = strings.ToUpper(strings.TrimSpace(v))
	t := strings.IndexByte(v, 'T')
	switch {
	case t < 0:
		return 36 * time.Hour
	case strings.HasSuffix(v, "Z") || strings.ContainsAny(v[t:], "+-"):
		return 0
	}
	return 12 * time.Hour
}

// stampRank orders the properties an object's last change is read from:
// a vCard's REV; an iCalendar object's LAST-MODIFIED, else DTSTAMP
// (without METHOD, RFC 5545 §3.8.7.2 makes it the time the component was
// last revised), else CREATED. Of several components (a recurring
// event's overrides) the latest counts: a change to any is a change of
// the object.
var stampRank = []string{"REV", "LAST-MODIFIED", "DTSTAMP", "CREATED"}

// scan reads the properties of data that say what it is, without
// changing or keeping it.
func scan(data []byte) object {
	var o object
	var stack []string
	best := len(stampRank)
	for _, line := range contentline.Unfold(data) {
		p := contentline.Split(contentline.Trim([]byte(line)))
		switch {
		case p.Is("BEGIN"):
			name := strings.ToUpper(strings.TrimSpace(string(p.Value)))
			if len(stack) == 0 {
				o.vcard, o.ical = name == "VCARD", name == "VCALENDAR"
			}
			if len(stack) == 1 && o.ical && !has(o.comps, name) {
				o.comps = append(o.comps, name)
			}
			stack = append(stack, name)
			continue
		case p.Is("END"):
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		// The object's own properties: the card's, or those of the
		// components directly inside VCALENDAR (not their alarms').
		top := (o.vcard && len(stack) == 1) || (o.ical && len(stack) == 2 && stack[1] != "VTIMEZONE")
		if !top {
			continue
		}
		if p.Is("UID") && o.uid == "" {
			o.uid = strings.TrimSpace(string(p.Value))
		}
		for rank, name := range stampRank {
			if rank > best || !p.Is(name) {
				continue
			}
			t, ok := pim.ParseStamp(string(p.Value))
			if !ok {
				continue
			}
			latest := t.Add(vagueness(string(p.Value)))
			if rank < best {
				o.stamp, o.latest, best = t, latest, rank
				continue
			}
			if t.After(o.stamp) {
				o.stamp = t
			}
			if latest.After(o.latest) {
				o.latest = latest
			}
		}
	}
	return o
}

func has(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// kind is the item kind of a calendar object: a task when it holds
// VTODOs and no VEVENT or VJOURNAL, else an event; mixed says the object
// breaks RFC 4791's one-type rule.
func (o object) kind() (k format.Kind, mixed bool) {
	todo := has(o.comps, "VTODO")
	other := has(o.comps, "VEVENT") || has(o.comps, "VJOURNAL")
	switch {
	case todo && !other:
		return format.KindTask, false
	case todo && other:
		return format.KindEvent, true
	}
	return format.KindEvent, false
}

// looksEmpty reports whether data holds nothing but white space.
func looksEmpty(data []byte) bool { return len(bytes.TrimSpace(data)) == 0 }
