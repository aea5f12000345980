package pim

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/mailhaul/mailhaul/format"
)

// sharedUIDNote notes a UID that components of another type also carry.
const sharedUIDNote = "UID also used by a component of another type in this file"

// CalendarObject is one output object: a VCALENDAR holding the components
// of one type that share a UID, the VTIMEZONEs they reference and their
// calendar's own properties except METHOD.
type CalendarObject struct {
	Index     int         // 1-based, in order of first appearance
	Line      int         // line of the object's first component
	Component string      // VEVENT, VTODO or VJOURNAL
	Kind      format.Kind // KindEvent or KindTask
	UID       string
	// Stamp is the latest LAST-MODIFIED (else DTSTAMP, else CREATED) of
	// the components, zero when none has one.
	Stamp time.Time
	// Notes are caveats for the item record: a generated UID, a missing
	// VTIMEZONE, a UID shared with another component type.
	Notes []string
	Size  int64

	parts []part
	eol   string // line ending for lines mailhaul writes
	r     io.ReaderAt

	ix         *CalendarIndex // for WithUID
	group      int
	collection string
}

// WithUID returns the object again with every component's UID replaced
// by uid: for an object whose UID an earlier, different object of the
// collection already has.
func (o *CalendarObject) WithUID(uid string) (*CalendarObject, error) {
	return o.ix.object(o.group, o.collection, uid)
}

// part is a piece of an object: input bytes, or bytes mailhaul wrote.
type part struct {
	from span
	text string
}

// Open returns a new reader over the object's bytes. It reads the input
// again, so an object costs no memory beyond its index entries. If the
// input has shrunk since it was indexed, reading fails with
// io.ErrUnexpectedEOF rather than yield a truncated object.
func (o *CalendarObject) Open() io.Reader {
	rs := make([]io.Reader, 0, len(o.parts))
	for _, p := range o.parts {
		if p.text != "" {
			rs = append(rs, strings.NewReader(p.text))
		} else {
			rs = append(rs, io.NewSectionReader(o.r, p.from.start, p.from.end-p.from.start))
		}
	}
	return &exactReader{r: io.MultiReader(rs...), left: o.Size}
}

// exactReader fails with io.ErrUnexpectedEOF when r ends before left bytes.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		err = fmt.Errorf("input shrank since it was indexed (%d bytes missing): %w", e.left, io.ErrUnexpectedEOF)
	}
	return n, err
}

// Objects calls fn with each object in order. A component without UID
// gets a stable one generated from collection and its bytes, inserted
// after its BEGIN line, and a note saying so. Components outside any
// VCALENDAR are wrapped in one with VERSION and PRODID lines.
func (ix *CalendarIndex) Objects(ctx context.Context, collection string, fn func(*CalendarObject) error) error {
	for gi := range ix.groups {
		if err := ctx.Err(); err != nil {
			return err
		}
		o, err := ix.object(gi, collection, "")
		if err != nil {
			return err
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

// object builds group gi's object; newUID, when set, replaces the UID of
// each of its components.
func (ix *CalendarIndex) object(gi int, collection, newUID string) (*CalendarObject, error) {
	g := ix.groups[gi]
	first := &ix.comps[g.comps[0]]
	o := &CalendarObject{Index: gi + 1, Line: first.line, Component: first.name, Kind: kindOf(first.name),
		UID: first.uid, r: ix.r, ix: ix, group: gi, collection: collection}
	if newUID != "" {
		o.UID = newUID
	}
	if g.sharedUID && newUID == "" {
		o.Notes = append(o.Notes, sharedUIDNote)
	}

	eol := first.eol
	if first.block >= 0 {
		eol = ix.blocks[first.block].eol
	}
	o.eol = eol
	if first.block >= 0 {
		b := &ix.blocks[first.block]
		o.add(part{from: b.begin})
		for _, h := range b.header {
			o.add(part{from: h})
		}
	} else {
		o.add(part{text: "BEGIN:VCALENDAR" + eol + "VERSION:2.0" + eol + "PRODID:-//mailhaul//mailhaul//EN" + eol})
		o.Notes = append(o.Notes, "component outside VCALENDAR; wrapped in one")
	}

	for _, tz := range ix.timezones(g, first.block, o) {
		o.add(part{from: ix.comps[tz].where})
	}

	for _, ci := range g.comps {
		c := &ix.comps[ci]
		if c.stamp.After(o.Stamp) {
			o.Stamp = c.stamp
		}
		if newUID != "" && c.uidLine.end > 0 {
			o.add(part{from: span{start: c.where.start, end: c.uidLine.start}})
			o.add(part{text: "UID:" + newUID + c.eol})
			o.add(part{from: span{start: c.uidLine.end, end: c.where.end, addEOL: c.where.addEOL}})
			continue
		}
		if c.uid != "" {
			o.add(part{from: c.where})
			continue
		}
		// Only a lone component lacks a UID: generate one from its bytes.
		uid := newUID
		if uid == "" {
			var err error
			uid, err = generateUID(collection, io.NewSectionReader(ix.r, c.where.start, c.where.end-c.where.start))
			if err != nil {
				return nil, err
			}
			o.Notes = append(o.Notes, "uid generated")
		}
		o.UID = uid
		// An empty "UID:" line takes the UID; else it goes after BEGIN.
		at := span{start: c.bodyStart, end: c.bodyStart}
		if c.emptyUID.end > 0 {
			at = c.emptyUID
		}
		o.add(part{from: span{start: c.where.start, end: at.start}})
		o.add(part{text: "UID:" + uid + c.eol})
		o.add(part{from: span{start: at.end, end: c.where.end, addEOL: c.where.addEOL}})
	}
	o.add(part{text: "END:VCALENDAR" + eol})
	return o, nil
}

func (o *CalendarObject) add(p part) {
	if p.text == "" && p.from.end <= p.from.start {
		return
	}
	o.parts = append(o.parts, p)
	if p.text != "" {
		o.Size += int64(len(p.text))
		return
	}
	o.Size += p.from.end - p.from.start
	if p.from.addEOL {
		o.add(part{text: o.eol})
	}
}

// timezones returns the VTIMEZONEs the group references, in file order,
// preferring the definition in the group's own VCALENDAR. A TZID without
// any definition gets a note; the importer may supply the zone.
func (ix *CalendarIndex) timezones(g group, block int, o *CalendarObject) []int32 {
	var out []int32
	seen := map[string]bool{}
	for _, ci := range g.comps {
		for _, tz := range ix.comps[ci].tzids {
			if seen[tz] {
				continue
			}
			seen[tz] = true
			i, ok := ix.tzIn[tzKey{block, tz}]
			if !ok {
				i, ok = ix.tzByID[tz]
			}
			if !ok {
				o.Notes = append(o.Notes, "no VTIMEZONE for TZID "+tz)
				continue
			}
			out = append(out, i)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out
}
