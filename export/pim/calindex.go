package pim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/contentline"
)

// span is a byte range of the input. addEOL is set when the range ends at
// the end of the input without a line ending, so one must be added before
// anything is written after it.
type span struct {
	start, end int64
	addEOL     bool
}

// calBlock is one BEGIN:VCALENDAR ... END:VCALENDAR of the input.
type calBlock struct {
	begin  span   // the BEGIN:VCALENDAR line
	eol    string // its line ending, used for lines mailhaul writes
	header []span // the calendar's own property lines except METHOD
	size   int64  // bytes in header
	capped bool   // header reached maxHeader; later lines were dropped
}

// maxHeader caps a calendar's own properties, which are copied into every
// object: a few hundred bytes normally.
const maxHeader = 1 << 20

// component is the index entry of one top-level component: where it is
// and the few facts grouping needs, never its bytes.
type component struct {
	name      string // upper case: VEVENT, VTODO, VJOURNAL, VTIMEZONE, ...
	where     span   // BEGIN line through END line
	bodyStart int64  // end of the BEGIN line, where a generated UID goes
	eol       string // the BEGIN line's ending
	line      int
	block     int // index into blocks, -1 for a component outside VCALENDAR
	uid       string
	emptyUID  span     // a "UID:" line with no value, replaced by a generated UID
	uidLine   span     // the first UID line, replaced when the UID must change
	recurID   bool     // has a RECURRENCE-ID: an override, not a master
	tzids     []string // TZIDs referenced, interned
	stamp     time.Time
	stampRank int // which property stamp came from: lower wins
	// cutBy is set when the component was never closed and an event, task
	// or journal began inside it: "BEGIN:VTODO (line 9)".
	cutBy string
}

// maxTZIDs caps the distinct TZIDs remembered per component.
const maxTZIDs = 64

// group is the set of components of one type sharing a UID: one output
// object. A component without UID forms a group on its own, and so does a
// second master (no RECURRENCE-ID) with the UID of an earlier one: two
// events in one object would be refused or merged by the server.
type group struct {
	comps     []int32
	sharedUID bool // another group of another type has the same UID
	master    bool // holds a component without RECURRENCE-ID
}

// CalendarInfo holds the calendar-level properties an importer uses to
// create the calendar, from the first VCALENDAR that has each.
type CalendarInfo struct {
	Name        string // X-WR-CALNAME or NAME (RFC 7986)
	Color       string // X-APPLE-CALENDAR-COLOR or COLOR (RFC 7986)
	Description string // X-WR-CALDESC or DESCRIPTION
}

// CalendarIndex is the result of a first pass over an iCalendar (or
// vCalendar 1.0) file: where every component is and how they group by
// UID. Objects reads the grouped objects in a second pass.
type CalendarIndex struct {
	r      io.ReaderAt
	info   CalendarInfo
	blocks []calBlock
	comps  []component
	groups []group
	tzByID map[string]int32 // first VTIMEZONE per TZID in the file
	tzIn   map[tzKey]int32  // first VTIMEZONE per TZID per VCALENDAR
}

type tzKey struct {
	block int
	tzid  string
}

// Info returns the calendar's name, colour and description.
func (ix *CalendarIndex) Info() CalendarInfo { return ix.info }

// repeatedUIDs returns the UIDs that more than one object carries: the
// same UID on components of different types, or on a second master.
func (ix *CalendarIndex) repeatedUIDs() map[string]bool {
	count := map[string]int{}
	for _, g := range ix.groups {
		if uid := ix.comps[g.comps[0]].uid; uid != "" {
			count[uid]++
		}
	}
	out := map[string]bool{}
	for uid, n := range count {
		if n > 1 {
			out[uid] = true
		}
	}
	return out
}

// Len is the number of objects Objects will produce.
func (ix *CalendarIndex) Len() int { return len(ix.groups) }

// IndexCalendar reads r, size bytes, once and indexes its components.
// VEVENT, VTODO and VJOURNAL are grouped by type and UID, so recurrence
// overrides travel with their master; VTIMEZONEs are kept for reference.
// Other components (VFREEBUSY, VAVAILABILITY, ...) are dropped with a
// warning, components over MaxObjectSize are reported as lost, and
// non-blank text outside components is reported once. problem may be nil.
// The returned index reads r again in Objects.
func IndexCalendar(ctx context.Context, r io.ReaderAt, size int64, problem func(SplitProblem)) (*CalendarIndex, error) {
	if problem == nil {
		problem = func(SplitProblem) {}
	}
	p := indexer{ix: &CalendarIndex{r: r, tzByID: map[string]int32{}, tzIn: map[tzKey]int32{}},
		problem: problem, block: -1, keys: map[string]int32{}, intern: map[string]string{}}
	if err := p.run(ctx, io.NewSectionReader(r, 0, size)); err != nil {
		return nil, err
	}
	return p.ix, nil
}

// indexer is the state of the first pass.
type indexer struct {
	ix      *CalendarIndex
	problem func(SplitProblem)
	block   int        // current VCALENDAR, -1 outside one
	cur     *component // top-level component being read, nil between components
	stack   []string   // components open inside cur, cur's own name first
	keys    map[string]int32
	intern  map[string]string
	stray   int
	strayAt int
	infoSet [3]bool
}

func (p *indexer) run(ctx context.Context, r io.Reader) error {
	var last contentline.Logical
	for l, err := range contentline.LogicalLines(ctx, r, keepLine) {
		if err != nil {
			return err
		}
		last = l
		p.line(l)
	}
	if p.cur != nil {
		p.finish(span{start: p.cur.where.start, end: last.End, addEOL: last.LastEOL == ""})
	}
	if p.block >= 0 && last.LastEOL == "" {
		p.endHeaderAtEOF(last)
	}
	if p.stray > 0 {
		p.problem(SplitProblem{Line: p.strayAt, What: "text outside components",
			Reason: fmt.Sprintf("%d non-blank line(s) outside BEGIN/END ignored", p.stray)})
	}
	return nil
}

// endHeaderAtEOF marks a calendar's last header line when the file ends
// right after it without a line ending.
func (p *indexer) endHeaderAtEOF(last contentline.Logical) {
	b := &p.ix.blocks[p.block]
	if n := len(b.header); n > 0 && b.header[n-1].end == last.End {
		b.header[n-1].addEOL = true
	}
}

func (p *indexer) line(l contentline.Logical) {
	text := l.Text
	if l.Number == 1 && bytes.HasPrefix(text, bom) {
		text = text[len(bom):]
		l.Start += int64(len(bom)) // the mark belongs to the file, not to an object
	}
	if len(contentline.Trim(text)) == 0 {
		return
	}
	pr := contentline.Split(text)
	switch {
	case pr.Is("BEGIN"):
		p.begin(l, strings.ToUpper(string(contentline.Trim(pr.Value))))
	case pr.Is("END"):
		p.end(l, strings.ToUpper(string(contentline.Trim(pr.Value))))
	case p.cur != nil:
		p.property(l, pr)
	case p.block >= 0:
		p.header(l, pr)
	default:
		p.strayLine(l)
	}
}

func (p *indexer) strayLine(l contentline.Logical) {
	if p.stray == 0 {
		p.strayAt = l.Number
	}
	p.stray++
}

func (p *indexer) begin(l contentline.Logical, name string) {
	if name == "VCALENDAR" {
		if p.cur != nil { // a component left open: it ends here
			p.finish(span{start: p.cur.where.start, end: l.Start})
		}
		p.ix.blocks = append(p.ix.blocks, calBlock{begin: span{start: l.Start, end: l.End}, eol: eolOr(l.EOL)})
		p.block = len(p.ix.blocks) - 1
		return
	}
	if p.cur != nil {
		if !isItemComponent(name) || isItemComponent(p.cur.name) || p.cur.name == "VTIMEZONE" {
			p.stack = append(p.stack, name)
			return
		}
		// An event, task or journal nests in nothing but VCALENDAR: the
		// component around it was left open. End that one here rather
		// than drop what follows with it.
		p.cur.cutBy = fmt.Sprintf("BEGIN:%s (line %d)", name, l.Number)
		p.finish(span{start: p.cur.where.start, end: l.Start})
	}
	p.cur = &component{name: p.internStr(name), where: span{start: l.Start}, bodyStart: l.End,
		eol: eolOr(l.EOL), line: l.Number, block: p.block, stampRank: len(stampProps)}
	p.stack = append(p.stack[:0], name)
}

func (p *indexer) end(l contentline.Logical, name string) {
	if name == "VCALENDAR" {
		if p.cur != nil {
			p.finish(span{start: p.cur.where.start, end: l.Start})
		}
		if p.block < 0 {
			p.strayLine(l)
		}
		p.block = -1
		return
	}
	if p.cur == nil {
		p.strayLine(l)
		return
	}
	for i := len(p.stack) - 1; i >= 0; i-- {
		if p.stack[i] == name {
			p.stack = p.stack[:i] // closes any inner component left open too
			if i == 0 {
				p.finish(span{start: p.cur.where.start, end: l.End, addEOL: l.LastEOL == ""})
			}
			return
		}
	}
	// An END matching nothing open is kept as a line of the component; the
	// validator will complain about it.
}

// stampProps rank the properties that give an item's received time.
var stampProps = []string{"LAST-MODIFIED", "DTSTAMP", "CREATED"}

func (p *indexer) property(l contentline.Logical, pr contentline.Property) {
	c := p.cur
	if len(p.stack) == 1 {
		switch {
		case pr.Is("UID"):
			if c.uidLine.end == 0 {
				c.uidLine = span{start: l.Start, end: l.End}
			}
			if c.uid == "" {
				c.uid = strings.TrimSpace(string(pr.Value))
			}
			if c.uid == "" && c.emptyUID.end == 0 {
				c.emptyUID = span{start: l.Start, end: l.End}
			}
		case pr.Is("RECURRENCE-ID"):
			c.recurID = true
		case pr.Is("TZID") && c.name == "VTIMEZONE":
			c.uid = strings.TrimSpace(string(pr.Value)) // a VTIMEZONE's key is its TZID
		}
		for rank, name := range stampProps {
			if rank < c.stampRank && pr.Is(name) {
				if t, ok := ParseStamp(string(pr.Value)); ok {
					c.stamp, c.stampRank = t, rank
				}
			}
		}
	}
	if c.name != "VTIMEZONE" && len(c.tzids) < maxTZIDs {
		if v, _ := pr.Param("TZID"); len(v) > 0 {
			tz := p.internStr(string(v))
			for _, have := range c.tzids {
				if have == tz {
					return
				}
			}
			c.tzids = append(c.tzids, tz)
		}
	}
}

func (p *indexer) header(l contentline.Logical, pr contentline.Property) {
	if pr.Is("METHOD") {
		return // an iTIP method has no place in a stored object (RFC 4791 §4.1)
	}
	b := &p.ix.blocks[p.block]
	if b.size+(l.End-l.Start) > maxHeader {
		if b.capped {
			return
		}
		b.capped = true
		p.problem(SplitProblem{Line: l.Number, What: "calendar property " + string(pr.Name),
			Reason: fmt.Sprintf("calendar properties over %d KiB, not copied into the objects", maxHeader>>10)})
		return
	}
	b.header = append(b.header, span{start: l.Start, end: l.End})
	b.size += l.End - l.Start
	info := &p.ix.info
	for i, names := range [][]string{{"X-WR-CALNAME", "NAME"}, {"X-APPLE-CALENDAR-COLOR", "COLOR"}, {"X-WR-CALDESC", "DESCRIPTION"}} {
		for _, n := range names {
			if p.infoSet[i] || !pr.Is(n) {
				continue
			}
			v := unescapeText(pr.Value)
			if v == "" {
				continue
			}
			p.infoSet[i] = true
			switch i {
			case 0:
				info.Name = v
			case 1:
				info.Color = v
			case 2:
				info.Description = v
			}
		}
	}
}

// finish ends the current component at where and files it.
func (p *indexer) finish(where span) {
	c := p.cur
	p.cur, p.stack = nil, p.stack[:0]
	c.where = where
	if where.end-where.start > MaxObjectSize {
		p.problem(SplitProblem{Line: c.line, What: describe(c.name, c.uid), Lost: true,
			Reason: fmt.Sprintf("larger than %d MiB, not exported", MaxObjectSize>>20)})
		return
	}
	switch c.name {
	case "VEVENT", "VTODO", "VJOURNAL":
	case "VTIMEZONE":
		p.ix.comps = append(p.ix.comps, *c)
		i := int32(len(p.ix.comps) - 1)
		if _, ok := p.ix.tzByID[c.uid]; !ok {
			p.ix.tzByID[p.internStr(c.uid)] = i
		}
		if k := (tzKey{c.block, c.uid}); c.block >= 0 {
			if _, ok := p.ix.tzIn[k]; !ok {
				p.ix.tzIn[k] = i
			}
		}
		return
	case "VFREEBUSY":
		p.problem(SplitProblem{Line: c.line, What: describe(c.name, c.uid), Reason: "free/busy data is not migrated; dropped"})
		return
	default:
		p.problem(refused(c))
		return
	}
	p.ix.comps = append(p.ix.comps, *c)
	i := int32(len(p.ix.comps) - 1)
	key := fmt.Sprintf("\x01%d", i) // a component without UID stands alone
	if c.uid != "" {
		key = c.name + "\x00" + c.uid
	}
	if g, ok := p.keys[key]; ok && !(p.ix.groups[g].master && !c.recurID) {
		p.ix.groups[g].comps = append(p.ix.groups[g].comps, i)
		p.ix.groups[g].master = p.ix.groups[g].master || !c.recurID
		return
	} else if !ok {
		p.keys[key] = int32(len(p.ix.groups))
	}
	p.ix.groups = append(p.ix.groups, group{comps: []int32{i}, master: !c.recurID})
	if c.uid != "" {
		p.markSharedUID(c)
	}
}

// markSharedUID flags groups of different component types with the same
// UID. They stay separate objects, since one resource must hold one type
// (RFC 4791 §4.1), and the importer is warned through item notes.
func (p *indexer) markSharedUID(c *component) {
	for _, other := range [...]string{"VEVENT", "VTODO", "VJOURNAL"} {
		if other == c.name {
			continue
		}
		if g, ok := p.keys[other+"\x00"+c.uid]; ok {
			p.ix.groups[g].sharedUID = true
			p.ix.groups[len(p.ix.groups)-1].sharedUID = true
		}
	}
}

// isItemComponent reports whether name is a component that becomes an
// item.
func isItemComponent(name string) bool {
	return name == "VEVENT" || name == "VTODO" || name == "VJOURNAL"
}

// refused is the problem for a top-level component that is not exported,
// with the real reason: not just "not an event" when the name is no
// component name at all (indented lines, which iCalendar reads as
// continuations, joined the whole calendar into one line) or when the
// component was left open before an event, task or journal.
func refused(c *component) SplitProblem {
	if !isComponentName(c.name) {
		name := c.name
		if len(name) > 40 {
			name = name[:40] + "..."
		}
		return SplitProblem{Line: c.line, What: "BEGIN line", Lost: true, Reason: fmt.Sprintf(
			"%q is not a component name: the lines after it start with a space or tab, which iCalendar "+
				"reads as the continuation of one line (RFC 5545 §3.1); are the lines indented? Nothing of it exported", name)}
	}
	if c.cutBy != "" {
		return SplitProblem{Line: c.line, What: describe(c.name, c.uid), Reason: fmt.Sprintf(
			"no END:%s before %s; %s is not an event, task or journal; dropped, what follows is exported", c.name, c.cutBy, c.name)}
	}
	return SplitProblem{Line: c.line, What: describe(c.name, c.uid), Reason: "not an event, task or journal; dropped"}
}

// isComponentName reports whether s is an iana-token or x-name: letters,
// digits and "-" (RFC 5545 §3.1).
func isComponentName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func (p *indexer) internStr(s string) string {
	if v, ok := p.intern[s]; ok {
		return v
	}
	if len(p.intern) < 4096 { // bound the table; uninterned strings still work
		p.intern[s] = s
	}
	return s
}

func describe(name, uid string) string {
	if uid == "" {
		return name
	}
	return name + " UID " + uid
}

func eolOr(eol string) string {
	if eol == "" {
		return "\r\n"
	}
	return eol
}

// kindOf is the archive kind of a component type.
func kindOf(name string) format.Kind {
	if name == "VTODO" {
		return format.KindTask
	}
	return format.KindEvent
}
