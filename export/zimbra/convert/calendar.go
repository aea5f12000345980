package convert

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-message"

	"github.com/mailhaul/mailhaul/export/zimbra/metadata"
	"github.com/mailhaul/mailhaul/internal/nopanic"
)

// MaxCalendar bounds one text/calendar part, or one .ics entry checked by
// CheckCalendar.
const MaxCalendar = 16 << 20

// prodID names the writer of the calendars this package assembles.
const prodID = "-//mailhaul//Zimbra export//EN"

// CalendarFromBlob assembles the iCalendar object of one appointment or
// task from its .appt/.task blob: a multipart/digest whose parts are the
// invites' messages (message/rfc822, each with an invId header), each
// holding a text/calendar part. The result is one VCALENDAR: one UID, the
// master and its exceptions once each (a later invite with a higher
// SEQUENCE wins), every VTIMEZONE once, no METHOD (a stored object has
// none), and the invites' attached files as binary ATTACH properties,
// which Zimbra's own .ics export leaves out. notes name what was dropped.
func CalendarFromBlob(r io.Reader) (ics []byte, notes []string, err error) {
	m, err := mergeBlob(r)
	if err != nil {
		return nil, m.notes, err
	}
	ics, err = m.calendar()
	return ics, m.notes, err
}

// Calendar converts an appointment or task from its item metadata and
// its blob (nil when the item has none): from the blob when there is one,
// with every invite the metadata lists that the blob lacks (Zimbra keeps
// only invites that came with a message there, so a moved instance may
// be missing) rebuilt from its metadata and noted, or, when it cannot be
// rebuilt, an error; else rebuilt from the metadata (see
// CalendarFromMetadata). uid is the object's UID, so
// that no caller parses the object again.
func Calendar(md metadata.Map, blob io.Reader) (ics []byte, uid string, notes []string, err error) {
	if blob == nil {
		return calendarFromMetadata(md)
	}
	m, err := mergeBlob(blob)
	if err != nil {
		return nil, "", m.notes, err
	}
	var lost []string
	if l, ok := md.List("inv"); ok {
		invs, _ := l.Maps()
		for _, inv := range invs {
			id, _ := inv.Str("mid")
			if id == "" || m.invIDs[id] {
				continue
			}
			what := "the master"
			_, isException := inv["rid"]
			if isException {
				what = "an exception"
			}
			b := &invBuilder{inv: inv, exception: isException}
			comp, err := b.component(md)
			if err == nil {
				err = m.item("invite "+id+" (rebuilt from the metadata)", comp)
			}
			if err != nil {
				lost = append(lost, fmt.Sprintf("invite %s (%s) is in the metadata but not in the blob, and cannot be rebuilt from it: %v", id, what, err))
				continue
			}
			m.note("invite %s (%s) is in the metadata but not in the blob; rebuilt from the metadata, without attachments", id, what)
			m.notes = append(m.notes, b.notes...)
		}
	}
	ics, err = m.calendar()
	if err == nil && len(lost) > 0 {
		err = &Incomplete{Lost: lost}
	}
	return ics, m.uid, m.notes, err
}

// Incomplete is Calendar's error for an item converted without some of
// its invites: ics holds the rest, and Lost says what is missing, so the
// caller keeps the item and reports the loss.
type Incomplete struct{ Lost []string }

func (e *Incomplete) Error() string { return strings.Join(e.Lost, "; ") }

// mergeBlob reads the invites of a calendar blob.
func mergeBlob(r io.Reader) (*merger, error) {
	m := &merger{comps: map[string]*candidate{}, tzs: map[string]*ical.Component{}, invIDs: map[string]bool{}}
	err := eachPart(r, func(part string, p attachedPart) error {
		inv := strings.TrimSpace(p.header.Get("invId"))
		if inv == "" {
			inv = "part " + part
		} else {
			m.invIDs[inv] = true
			inv = "invite " + inv
		}
		// message/rfc822 is also a digest part's default type (RFC 2046 §5.1.5).
		if p.contentType != "message/rfc822" && p.header.Get("Content-Type") != "" {
			m.note("%s is %s, not an invite message; skipped", inv, p.contentType)
			return nil
		}
		return m.invite(inv, p.body)
	})
	if err != nil {
		return m, fmt.Errorf("calendar blob: %w", err)
	}
	return m, nil
}

type candidate struct {
	comp   *ical.Component
	seq    int
	stamp  string
	source string
}

type merger struct {
	first  *ical.Component // the first VCALENDAR, whose own properties are kept
	uid    string
	kind   string
	comps  map[string]*candidate // by RECURRENCE-ID
	tzs    map[string]*ical.Component
	tzIDs  []string
	notes  []string
	room   budget
	invIDs map[string]bool // the invId headers seen
}

func (m *merger) note(format string, args ...any) {
	m.notes = append(m.notes, fmt.Sprintf(format, args...))
}

// invite reads one invite message: its text/calendar parts and its
// attached files.
func (m *merger) invite(inv string, r io.Reader) error {
	e, err := message.Read(r)
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return fmt.Errorf("%s: %w", inv, err)
	}
	var cals []*ical.Calendar
	var files []*ical.Prop
	parts := 0
	err = e.Walk(func(path []int, ent *message.Entity, err error) error {
		if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
			return err
		}
		if parts++; parts > MaxParts {
			return fmt.Errorf("more than %d parts", MaxParts)
		}
		ct, params, _ := ent.Header.ContentType()
		if strings.HasPrefix(ct, "multipart/") {
			return nil
		}
		disp, dparams, _ := ent.Header.ContentDisposition()
		name := dparams["filename"]
		if name == "" {
			name = params["name"]
		}
		if ct == "text/calendar" && disp != "attachment" {
			b, err := readBounded(ent.Body, MaxCalendar, "text/calendar part")
			if err != nil {
				return err
			}
			got, err := decodeCalendars(b)
			if err != nil {
				return fmt.Errorf("text/calendar part: %w", err)
			}
			cals = append(cals, got...)
			return nil
		}
		if disp == "attachment" || disp == "inline" && name != "" || name != "" && !strings.HasPrefix(ct, "text/") {
			b, tooLarge, err := m.room.read(ent.Body)
			if err != nil {
				return fmt.Errorf("attachment %s: %w", name, err)
			}
			if tooLarge {
				m.note("%s: attachment %s not carried: larger than %d bytes, or the item's attachments larger than %d",
					inv, name, MaxAttachment, MaxItemAttachments)
				return nil
			}
			p := ical.NewProp(ical.PropAttach)
			p.Params.Set(ical.ParamEncoding, "BASE64")
			p.Params.Set(ical.ParamValue, "BINARY")
			if ct != "" {
				p.Params.Set(ical.ParamFormatType, ct)
			}
			if name != "" {
				p.Params.Set("X-FILENAME", icalParam(name))
			}
			p.Value = base64.StdEncoding.EncodeToString(b)
			files = append(files, p)
		}
		return nil // the invite's text/plain and text/html bodies repeat DESCRIPTION
	})
	if err != nil {
		return fmt.Errorf("%s: %w", inv, err)
	}
	if len(cals) == 0 {
		m.note("%s has no text/calendar part; skipped", inv)
		return nil
	}
	var mine []*ical.Component
	for _, cal := range cals {
		if m.first == nil {
			m.first = cal.Component
		}
		for _, c := range cal.Children {
			switch c.Name {
			case ical.CompTimezone:
				m.timezone(inv, c)
			case ical.CompEvent, ical.CompToDo, ical.CompJournal:
				if err := m.item(inv, c); err != nil {
					return err
				}
				mine = append(mine, c)
			default:
				m.note("%s: %s component not carried", inv, c.Name)
			}
		}
	}
	for _, f := range files {
		for _, c := range mine {
			c.Props.Add(f)
		}
	}
	if len(files) > 0 && len(mine) == 0 {
		m.note("%s: %d attached files not carried: no event or task to attach them to", inv, len(files))
	}
	return nil
}

func readBounded(r io.Reader, limit int64, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s larger than %d bytes", what, limit)
	}
	return b, nil
}

func (m *merger) timezone(inv string, c *ical.Component) {
	id := propValue(c, ical.PropTimezoneID)
	if old, ok := m.tzs[id]; ok {
		if !sameComponent(old, c) {
			m.note("%s: VTIMEZONE %q differs from an earlier one; the first kept", inv, id)
		}
		return
	}
	m.tzs[id] = c
	m.tzIDs = append(m.tzIDs, id)
}

func (m *merger) item(inv string, c *ical.Component) error {
	uid := propValue(c, ical.PropUID)
	if m.uid == "" {
		m.uid, m.kind = uid, c.Name
	} else if uid != m.uid {
		return fmt.Errorf("%s: UID %q differs from %q: the blob holds more than one item", inv, uid, m.uid)
	}
	key := ""
	if p := c.Props.Get(ical.PropRecurrenceID); p != nil {
		key = p.Params.Get(ical.ParamTimezoneID) + ":" + p.Value
	}
	seq, _ := strconv.Atoi(propValue(c, ical.PropSequence))
	cand := &candidate{comp: c, seq: seq, stamp: propValue(c, ical.PropDateTimeStamp), source: inv}
	old, ok := m.comps[key]
	if !ok {
		m.comps[key] = cand
		return nil
	}
	// Later invites carry the current state; SEQUENCE, then DTSTAMP
	// (UTC, so it compares as text) decide first.
	if cand.seq < old.seq || cand.seq == old.seq && cand.stamp < old.stamp {
		old, cand = cand, old
	} else {
		m.comps[key] = cand
	}
	what := "the master"
	if key != "" {
		what = "the instance " + strings.TrimPrefix(key, ":")
	}
	m.note("%s repeats %s of %s; the version from %s kept", old.source, what, uid, cand.source)
	return nil
}

func propValue(c *ical.Component, name string) string {
	if p := c.Props.Get(name); p != nil {
		return p.Value
	}
	return ""
}

func sameComponent(a, b *ical.Component) bool {
	var x, y bytes.Buffer
	ea, eb := ical.NewEncoder(&x).Encode(&ical.Calendar{Component: wrap(a)}), ical.NewEncoder(&y).Encode(&ical.Calendar{Component: wrap(b)})
	return ea == nil && eb == nil && bytes.Equal(x.Bytes(), y.Bytes())
}

func wrap(c *ical.Component) *ical.Component {
	cal := ical.NewComponent(ical.CompCalendar)
	cal.Props.SetText(ical.PropProductID, prodID)
	cal.Props.SetText(ical.PropVersion, "2.0")
	cal.Children = []*ical.Component{c}
	return cal
}

// calendar writes the merged object.
func (m *merger) calendar() ([]byte, error) {
	if len(m.comps) == 0 {
		return nil, errors.New("calendar blob: no event or task in any invite")
	}
	cal := ical.NewComponent(ical.CompCalendar)
	if m.first != nil { // nil when every invite was rebuilt from metadata
		for name, props := range m.first.Props {
			if name != ical.PropMethod {
				cal.Props[name] = props
			}
		}
	}
	if cal.Props.Get(ical.PropProductID) == nil {
		cal.Props.SetText(ical.PropProductID, prodID)
	}
	cal.Props.SetText(ical.PropVersion, "2.0")
	for _, id := range m.tzIDs {
		cal.Children = append(cal.Children, m.tzs[id])
	}
	// the master ("") first, then the instances in order
	for _, k := range slices.Sorted(maps.Keys(m.comps)) {
		cal.Children = append(cal.Children, m.comps[k].comp)
	}
	return encodeCalendar(cal)
}

func encodeCalendar(cal *ical.Component) ([]byte, error) {
	var buf bytes.Buffer
	if err := ical.NewEncoder(&buf).Encode(&ical.Calendar{Component: cal}); err != nil {
		return nil, fmt.Errorf("calendar: %w", err)
	}
	return fold(buf.Bytes()), nil
}

// CheckCalendar checks an iCalendar entry that needs no conversion (a
// meta=0 .ics, or a .task, which holds iCalendar too): it must parse and
// hold events, tasks or journal entries of one UID. It returns the UID;
// the caller keeps the bytes as they are.
func CheckCalendar(r io.Reader) (uid string, err error) {
	b, err := readBounded(r, MaxCalendar, "calendar")
	if err != nil {
		return "", err
	}
	cals, err := decodeCalendars(b)
	if err != nil {
		return "", fmt.Errorf("calendar: %w", err)
	}
	items := 0
	for _, cal := range cals {
		for _, c := range cal.Children {
			switch c.Name {
			case ical.CompEvent, ical.CompToDo, ical.CompJournal:
				u := propValue(c, ical.PropUID)
				if u == "" {
					return "", fmt.Errorf("calendar: a %s without UID", c.Name)
				}
				if uid != "" && u != uid {
					return "", fmt.Errorf("calendar: UIDs %q and %q in one item", uid, u)
				}
				uid = u
				items++
			}
		}
	}
	if items == 0 {
		return "", errors.New("calendar: no event, task or journal entry")
	}
	return uid, nil
}

// decodeCalendars decodes every VCALENDAR in b. go-ical answers io.EOF
// both at the end and inside a component cut short, so the BEGIN lines
// are counted to tell the two apart.
func decodeCalendars(b []byte) ([]*ical.Calendar, error) {
	begins := 0
	for _, line := range bytes.Split(b, []byte("\n")) {
		// not TrimSpace: a folded continuation line starts with a space
		if bytes.EqualFold(bytes.TrimRight(line, "\r\t "), []byte("BEGIN:VCALENDAR")) {
			begins++
		}
	}
	var cals []*ical.Calendar
	dec := ical.NewDecoder(bytes.NewReader(b))
	for {
		var cal *ical.Calendar
		err := nopanic.Run(func() (err error) { cal, err = dec.Decode(); return err })
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		cals = append(cals, cal)
	}
	if len(cals) < begins {
		return nil, fmt.Errorf("a VCALENDAR is cut short (%d begun, %d complete)", begins, len(cals))
	}
	if len(cals) == 0 && len(bytes.TrimSpace(b)) > 0 {
		return nil, errors.New("no VCALENDAR")
	}
	return cals, nil
}

// icalParam makes text a parameter value go-ical writes intact: it
// quotes values with ':', ';' or ',' itself, but a quote or a control
// character cannot be in a parameter at all.
func icalParam(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r < 0x20 || r == 0x7F:
			return -1
		}
		return r
	}, s)
}
