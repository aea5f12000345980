package convert

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Zimbra's Olson TZIDs resolve on hosts without zoneinfo too

	"github.com/emersion/go-ical"

	"github.com/mailhaul/mailhaul/export/zimbra/metadata"
)

// invite metadata keys (Zimbra's Invite.encodeMetadata) this rebuild
// reads, or knows to carry nothing a calendar client needs.
var inviteHandled = map[string]bool{
	"it": true, "u": true, "st": true, "et": true, "duration": true, "n": true, "l": true,
	"desc": true, "descH": true, "xDescH": true, "dinM": true, "frag": true, "status": true,
	"cl": true, "tr": true, "fb": true, "dts": true, "lastMod": true, "seq": true, "prio": true,
	"pctcompl": true, "completed": true, "org": true, "numAt": true, "numCat": true, "numCmt": true,
	"numContacts": true, "url": true, "numAl": true,
	// Zimbra's bookkeeping: message id, component number, who sent it,
	// the user's own reply state, method, time zone map (times are
	// rebuilt in UTC), indexing and local-only flags.
	"mid": true, "comp": true, "byme": true, "clSetByMe": true, "ptst": true, "rsvp": true,
	"lfseq": true, "isOrg": true, "mthd": true, "tzm": true, "noidxmm": true, "lo": true, "af": true,
}

// CalendarFromMetadata rebuilds an appointment's or task's iCalendar
// object from its item metadata alone ("inv", the invites), for an item
// without a blob. It rebuilds what a single invite says: UID, start, end
// or duration, summary, location, description, status, class,
// transparency, organizer, attendees, priority, progress, categories,
// comments, contacts and URL, with times in UTC. An item that recurs or
// has exceptions, or lacks a UID or (for an event) a start, is an error
// naming the reason, for the caller to report. notes name the invite
// data left out (alarms, attendee details other than address and name).
func CalendarFromMetadata(md metadata.Map) (ics []byte, notes []string, err error) {
	ics, _, notes, err = calendarFromMetadata(md)
	return ics, notes, err
}

// calendarFromMetadata is CalendarFromMetadata, with the object's UID.
func calendarFromMetadata(md metadata.Map) (ics []byte, uid string, notes []string, err error) {
	l, ok := md.List("inv")
	if !ok || len(l) == 0 {
		return nil, "", nil, fmt.Errorf("calendar metadata: no invites (inv)")
	}
	if len(l) > 1 {
		return nil, "", nil, fmt.Errorf("calendar metadata: %d invites (a recurrence with exceptions); only a single invite is rebuilt", len(l))
	}
	inv, ok := l.Map(0)
	if !ok {
		return nil, "", nil, fmt.Errorf("calendar metadata: the invite is not a map")
	}
	b := &invBuilder{inv: inv}
	comp, err := b.component(md)
	if err != nil {
		return nil, "", b.notes, err
	}
	cal := ical.NewComponent(ical.CompCalendar)
	cal.Props.SetText(ical.PropProductID, prodID)
	cal.Props.SetText(ical.PropVersion, "2.0")
	cal.Children = []*ical.Component{comp}
	ics, err = encodeCalendar(cal)
	return ics, propValue(comp, ical.PropUID), b.notes, err
}

type invBuilder struct {
	inv   metadata.Map
	notes []string
	// exception allows an invite with a recurrence id ("rid"): one
	// instance of a recurring item, rebuilt beside the rest of it.
	exception bool
}

func (b *invBuilder) note(format string, args ...any) {
	b.notes = append(b.notes, fmt.Sprintf(format, args...))
}

func (b *invBuilder) component(md metadata.Map) (*ical.Component, error) {
	inv := b.inv
	for _, k := range []string{"recurrence", "rid"} {
		if _, ok := inv[k]; ok && !(k == "rid" && b.exception) {
			return nil, fmt.Errorf("calendar metadata: the item recurs (%s); rebuilding a recurrence from metadata is not supported", k)
		}
	}
	name := ical.CompEvent
	if t, ok := inv.Int("it"); ok && t == 15 {
		name = ical.CompToDo
	}
	c := ical.NewComponent(name)
	uid, _ := inv.Str("u")
	if uid == "" {
		uid, _ = md.Str("u")
	}
	if uid == "" {
		return nil, fmt.Errorf("calendar metadata: no UID")
	}
	c.Props.SetText(ical.PropUID, uid)
	if _, ok := inv["rid"]; ok {
		// RecurId.encodeMetadata: {"dt": the date-time as "st" has it,
		// "r": its range}; a bare string is taken as the date-time.
		rd, _ := inv.Str("rid")
		if rid, ok := inv.Map("rid"); ok {
			rd, _ = rid.Str("dt")
		}
		if rd == "" {
			return nil, fmt.Errorf("calendar metadata: the instance's recurrence id (rid) has no date")
		}
		if err := b.setTime(c, ical.PropRecurrenceID, rd); err != nil {
			return nil, err
		}
	}

	start, _ := inv.Str("st")
	if start == "" && name == ical.CompEvent {
		return nil, fmt.Errorf("calendar metadata: event %s has no start time", uid)
	}
	if err := b.setTime(c, ical.PropDateTimeStart, start); err != nil {
		return nil, err
	}
	endProp := ical.PropDateTimeEnd
	if name == ical.CompToDo {
		endProp = ical.PropDue
	}
	if end, _ := inv.Str("et"); end != "" {
		if err := b.setTime(c, endProp, end); err != nil {
			return nil, err
		}
	} else if d, _ := inv.Str("duration"); d != "" {
		p := ical.NewProp(ical.PropDuration)
		p.Value = d
		if _, err := p.Duration(); err != nil {
			return nil, fmt.Errorf("calendar metadata: duration %q: %v", d, err)
		}
		c.Props.Set(p)
	}

	stamp, ok := inv.Int("dts")
	if !ok || stamp <= 0 {
		stamp, ok = inv.Int("lastMod")
	}
	if !ok || stamp <= 0 {
		b.note("no DTSTAMP in the invite; the epoch written")
		stamp = 0
	}
	c.Props.SetDateTime(ical.PropDateTimeStamp, time.UnixMilli(stamp).UTC())
	if lm, ok := inv.Int("lastMod"); ok && lm > 0 {
		c.Props.SetDateTime(ical.PropLastModified, time.UnixMilli(lm).UTC())
	}
	if seq, ok := inv.Int("seq"); ok && seq > 0 {
		c.Props.Set(&ical.Prop{Name: ical.PropSequence, Params: ical.Params{}, Value: strconv.FormatInt(seq, 10)})
	}
	b.text(c, ical.PropSummary, "n")
	b.text(c, ical.PropLocation, "l")
	b.text(c, ical.PropURL, "url")
	if d, _ := inv.Bool("dinM"); d {
		b.text(c, ical.PropDescription, "desc")
		if html, _ := inv.Str("descH"); html != "" {
			c.Props.SetText("X-ALT-DESC", clean(html))
			c.Props.Get("X-ALT-DESC").Params.Set(ical.ParamFormatType, "text/html")
		}
	} else if frag, _ := inv.Str("frag"); frag != "" {
		c.Props.SetText(ical.PropDescription, clean(frag))
		b.note("description rebuilt from its fragment (its first characters); the full text was in the blob")
	}
	b.mapped(c, ical.PropStatus, "status", map[string]string{
		"TENT": "TENTATIVE", "CONF": "CONFIRMED", "CANC": "CANCELLED", "NEED": "NEEDS-ACTION",
		"COMP": "COMPLETED", "INPR": "IN-PROCESS", "WAITING": "X-ZIMBRA-WAITING", "DEFERRED": "X-ZIMBRA-DEFERRED",
	})
	b.mapped(c, ical.PropClass, "cl", map[string]string{"PUB": "PUBLIC", "PRI": "PRIVATE", "CON": "CONFIDENTIAL"})
	if name == ical.CompEvent {
		b.mapped(c, ical.PropTransparency, "tr", map[string]string{"O": "OPAQUE", "T": "TRANSPARENT"})
		b.mapped(c, "X-MICROSOFT-CDO-INTENDEDSTATUS", "fb", map[string]string{"F": "FREE", "B": "BUSY", "T": "TENTATIVE", "O": "OOF"})
	}
	if p, _ := inv.Str("prio"); p != "" && p != "0" {
		c.Props.Set(&ical.Prop{Name: ical.PropPriority, Params: ical.Params{}, Value: p})
	}
	if name == ical.CompToDo {
		if p, _ := inv.Str("pctcompl"); p != "" && p != "0" {
			c.Props.Set(&ical.Prop{Name: ical.PropPercentComplete, Params: ical.Params{}, Value: p})
		}
		if done, ok := inv.Int("completed"); ok && done > 0 {
			c.Props.SetDateTime(ical.PropCompleted, time.UnixMilli(done).UTC())
		}
	}
	if org, ok := inv.Map("org"); ok {
		b.person(c, ical.PropOrganizer, org, "organizer")
	}
	for i := 0; ; i++ {
		at, ok := inv.Map("at" + strconv.Itoa(i))
		if !ok {
			break
		}
		b.person(c, ical.PropAttendee, at, "attendee "+strconv.Itoa(i))
	}
	var cats []string
	for i := 0; ; i++ {
		s, ok := inv.Str("cat" + strconv.Itoa(i))
		if !ok {
			break
		}
		cats = append(cats, clean(s))
	}
	if len(cats) > 0 {
		p := ical.NewProp(ical.PropCategories)
		p.SetTextList(cats)
		c.Props.Set(p)
	}
	for _, list := range []struct{ key, prop string }{{"cmt", ical.PropComment}, {"contact", ical.PropContact}} {
		for i := 0; ; i++ {
			s, ok := inv.Str(list.key + strconv.Itoa(i))
			if !ok {
				break
			}
			p := ical.NewProp(list.prop)
			p.SetText(clean(s))
			c.Props.Add(p)
		}
	}
	if n, ok := inv.Int("numAl"); ok && n > 0 {
		b.note("%d alarms not rebuilt from metadata", n)
	}
	var other []string
	for _, k := range inv.Keys() {
		if !inviteHandled[k] && !numbered(k, "at", "cat", "cmt", "contact", "al") && !(k == "rid" && b.exception) && k != "mid" {
			other = append(other, k)
		}
	}
	if len(other) > 0 {
		b.note("invite metadata %s not rebuilt", strings.Join(other, ", "))
	}
	return c, nil
}

// numbered reports whether k is one of the prefixes followed by a number.
func numbered(k string, prefixes ...string) bool {
	for _, p := range prefixes {
		if rest, ok := strings.CutPrefix(k, p); ok && rest != "" {
			if _, err := strconv.Atoi(rest); err == nil {
				return true
			}
		}
	}
	return false
}

func clean(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

func (b *invBuilder) text(c *ical.Component, prop, key string) {
	if s, _ := b.inv.Str(key); s != "" {
		c.Props.SetText(prop, clean(s))
	}
}

func (b *invBuilder) mapped(c *ical.Component, prop, key string, values map[string]string) {
	s, ok := b.inv.Str(key)
	if !ok || s == "" {
		return
	}
	v, known := values[s]
	if !known {
		v = s // already an iCalendar value, or one only Zimbra knows
	}
	c.Props.Set(&ical.Prop{Name: prop, Params: ical.Params{}, Value: v})
}

// person writes an organizer or attendee (Zimbra's CalendarUser metadata:
// a = address, cn = name; attendees add role r, status ptst, rsvp v and
// user type cut).
func (b *invBuilder) person(c *ical.Component, prop string, m metadata.Map, what string) {
	addr, _ := m.Str("a")
	if addr == "" {
		b.note("%s without an address not rebuilt", what)
		return
	}
	p := ical.NewProp(prop)
	p.Value = "mailto:" + addr
	if cn, _ := m.Str("cn"); cn != "" {
		p.Params.Set(ical.ParamCommonName, icalParam(cn))
	}
	params := map[string]struct {
		param  string
		values map[string]string
	}{
		"r": {ical.ParamRole, map[string]string{"CHA": "CHAIR", "REQ": "REQ-PARTICIPANT", "OPT": "OPT-PARTICIPANT", "NON": "NON-PARTICIPANT"}},
		"ptst": {ical.ParamParticipationStatus, map[string]string{"NE": "NEEDS-ACTION", "AC": "ACCEPTED", "DE": "DECLINED",
			"TE": "TENTATIVE", "DG": "DELEGATED", "CO": "COMPLETED", "IN": "IN-PROCESS"}},
		"cut": {ical.ParamCalendarUserType, map[string]string{"IND": "INDIVIDUAL", "GRO": "GROUP", "RES": "RESOURCE",
			"ROO": "ROOM", "UNK": "UNKNOWN"}},
	}
	var other []string
	for _, k := range m.Keys() {
		switch k {
		case "a", "cn":
		case "r", "ptst", "cut":
			if s, _ := m.Str(k); s != "" {
				v, ok := params[k].values[s]
				if !ok {
					v = s
				}
				p.Params.Set(params[k].param, v)
			}
		case "v":
			if rsvp, ok := m.Bool(k); ok {
				p.Params.Set(ical.ParamRSVP, strings.ToUpper(strconv.FormatBool(rsvp)))
			}
		default:
			other = append(other, k)
		}
	}
	if len(other) > 0 {
		b.note("%s %s: %s not rebuilt", what, addr, strings.Join(other, ", "))
	}
	c.Props.Add(p)
}

// setTime writes a Zimbra ParsedDateTime string: "YYYYMMDD" (a date),
// "YYYYMMDDTHHMMSS[Z]", or either after "TZID=<id>:". A zoned time is
// written in UTC: the metadata's time zone map is Zimbra's own encoding.
func (b *invBuilder) setTime(c *ical.Component, prop, v string) error {
	if v == "" {
		return nil
	}
	tzid := ""
	if rest, ok := strings.CutPrefix(v, "TZID="); ok {
		i := strings.LastIndexByte(rest, ':')
		if i < 0 {
			return fmt.Errorf("calendar metadata: time %q has no value after its TZID", v)
		}
		tzid, v = strings.Trim(rest[:i], `"`), rest[i+1:]
	}
	p := ical.NewProp(prop)
	switch {
	case len(v) == 8:
		if _, err := time.Parse("20060102", v); err != nil {
			return fmt.Errorf("calendar metadata: date %q: %v", v, err)
		}
		p.Params.Set(ical.ParamValue, "DATE")
		p.Value = v
	case len(v) == 16 && v[15] == 'Z':
		if _, err := time.Parse("20060102T150405Z", v); err != nil {
			return fmt.Errorf("calendar metadata: time %q: %v", v, err)
		}
		p.Value = v
	case len(v) == 15:
		if tzid == "" || tzid == "null" {
			if _, err := time.Parse("20060102T150405", v); err != nil {
				return fmt.Errorf("calendar metadata: time %q: %v", v, err)
			}
			p.Value = v // floating, as the invite had it
			break
		}
		loc, err := time.LoadLocation(tzid)
		if err != nil {
			return fmt.Errorf("calendar metadata: time zone %q of %s unknown here; cannot rebuild the time", tzid, prop)
		}
		t, err := time.ParseInLocation("20060102T150405", v, loc)
		if err != nil {
			return fmt.Errorf("calendar metadata: time %q: %v", v, err)
		}
		p.Value = t.UTC().Format("20060102T150405Z")
	default:
		return fmt.Errorf("calendar metadata: %s %q is not a date or time Zimbra writes", prop, v)
	}
	c.Props.Set(p)
	return nil
}
