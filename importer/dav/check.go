package dav

// Reading back what the server stored.
//
// A 201 says the server took an object, not that it keeps what was sent:
// Radicale stores its own re-serialisation and loses data on the way
// (README.md). So every object sent is read back, in batches of
// checkBatch per collection with one multiget REPORT (RFC 6352 §8.7,
// RFC 4791 §7.9), and compared by meaning (sameContent). An object whose
// meaning changed is a failure naming the properties; it is journalled
// as done only once it compared equal, so a re-run looks at it again.
// The dry run uses the same batches to compare the objects the target
// already has with the archive's, so that it predicts what the real run
// sends and what it reports as conflicts.
//
// The multiget is davclient's raw one, not go-webdav's, because that one
// parses every object of the answer and fails the whole batch on one it
// cannot read; the raw bytes are what is compared.

import (
	"bytes"
	"context"
	"encoding/xml"
	"net/url"
	"strings"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-vcard"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/davclient"
	"github.com/mailhaul/mailhaul/internal/nopanic"
)

// checkBatch is how many objects of a collection one multiget reads.
const checkBatch = 50

// checkBytes bounds the bodies waiting to be read back, over all
// collections: beyond it every queue is read back at once (a variable
// for tests).
var checkBytes int64 = 32 << 20

// check is an object to compare with what the target holds at href.
type check struct {
	jb   job
	href *url.URL
	etag string // the PUT's answer; the multiget's replaces it
	dry  bool   // a dry run's object already at its href
}

// stored queues an object the server took, to be read back.
func (im *session) stored(jb job, href *url.URL, etag string) {
	im.queueCheck(check{jb: jb, href: href, etag: etag})
}

func (im *session) queueCheck(c check) {
	im.cmu.Lock()
	if im.checks == nil {
		im.checks = map[*collection][]check{}
	}
	q := append(im.checks[c.jb.col], c)
	im.checkSize += int64(len(c.jb.body))
	if im.checkSize > checkBytes {
		im.checks[c.jb.col] = q
		im.cmu.Unlock()
		im.verifyAll(im.ctx)
		return
	}
	var batch []check
	if len(q) >= checkBatch {
		batch, q = q, nil
		for _, b := range batch {
			im.checkSize -= int64(len(b.jb.body))
		}
	}
	im.checks[c.jb.col] = q
	im.cmu.Unlock()
	if batch != nil {
		im.verify(im.ctx, c.jb.col, batch)
	}
}

// verifyAll reads back what is still queued; the run calls it once every
// object has been sent.
func (im *session) verifyAll(ctx context.Context) {
	im.cmu.Lock()
	all := im.checks
	im.checks, im.checkSize = nil, 0
	im.cmu.Unlock()
	for col, q := range all {
		if len(q) > 0 {
			im.verify(ctx, col, q)
		}
	}
}

// verify compares a batch with what the target holds.
func (im *session) verify(ctx context.Context, col *collection, batch []check) {
	hrefs := make([]*url.URL, len(batch))
	for i, c := range batch {
		hrefs[i] = c.href
	}
	got, err := im.c.Multiget(ctx, col.URL, col.Kind == format.FolderContacts, hrefs)
	if err != nil {
		im.unverified(ctx, col, batch, err)
		return
	}
	for _, c := range batch {
		obj, found := got[davclient.HrefKey(c.href)]
		var same bool
		var diff []string
		latin1 := false
		if found {
			same, diff, latin1 = sameAsSent(obj.Data, c.jb.body)
		}
		switch {
		case c.dry && !found:
			// Listed a moment ago, gone now: the real run would send it.
			im.planned(c.jb, true)
			im.rep.AddImported(int64(len(c.jb.body)))
		case c.dry && same:
			im.planned(c.jb, false)
			im.rep.AddPresent()
		case c.dry && im.opt.Update:
			im.planned(c.jb, true)
			im.rep.AddImported(int64(len(c.jb.body)))
		case c.dry:
			im.plannedClash(c.jb)
			im.failed(c.jb, conflictReason(diff))
		case !found:
			im.failed(c.jb, "the server accepted it but does not return it when asked for it afterwards (multiget REPORT of "+davclient.Redact(c.href)+")")
		case same:
			if latin1 {
				im.noteLatin1(c.jb)
			}
			etag := obj.ETag
			if etag == "" {
				etag = c.etag
			}
			im.record(c.jb, c.href, etag, true, int64(len(c.jb.body)))
		default:
			what := "its content lines differ"
			if len(diff) > 0 {
				what = describeDiff(diff)
			}
			im.failed(c.jb, "the server accepted it but stored something else: read back after the upload, it has "+what+
				"; the copy on the target is damaged (importer/dav/README.md lists what each server is known to change)")
		}
	}
}

// unverified settles a batch that could not be read back: sent objects
// count as imported (the server said so) with a note; a dry run's count
// as present, as the listing said.
func (im *session) unverified(ctx context.Context, col *collection, batch []check, err error) {
	im.noteOnce("verify", "%s: objects could not be read back to check what the server stored: %v", davclient.Redact(col.URL), err)
	for _, c := range batch {
		switch {
		case c.dry:
			im.planned(c.jb, false)
			im.rep.AddPresent()
		case ctx.Err() != nil:
			// Not journalled as done: the next run compares it.
			im.rep.AddImported(int64(len(c.jb.body)))
		default:
			im.record(c.jb, c.href, c.etag, true, int64(len(c.jb.body)))
		}
	}
}

func (im *session) noteOnce(key, format string, args ...any) {
	im.cmu.Lock()
	if im.noted == nil {
		im.noted = map[string]bool{}
	}
	seen := im.noted[key]
	im.noted[key] = true
	im.cmu.Unlock()
	if !seen {
		im.rep.Note(format, args...)
	}
}

func (im *session) noteLatin1(jb job) {
	im.rep.Note("%s: %s: its bytes are not UTF-8; the server holds them read as Latin-1 (ISO-8859-1), which is right only if that was their charset",
		jb.item.Folder, itemName(jb.item))
}

// fromLatin1 reads b as ISO-8859-1.
func fromLatin1(b []byte) []byte {
	out := make([]rune, len(b))
	for i, c := range b {
		out[i] = rune(c)
	}
	return []byte(string(out))
}

// findByUID looks for the object with jb's UID in its collection, for a
// server that says the UID is taken but not where (Xandikos's 207 with a
// 412): an addressbook-query or calendar-query on UID (RFC 6352 §8.6,
// RFC 4791 §7.8). nil when there is not exactly one.
func (c *client) findByUID(ctx context.Context, jb job) *url.URL {
	uid := jb.item.UID
	if uid == "" {
		return nil
	}
	var b bytes.Buffer
	esc := func(s string) { xml.EscapeText(&b, []byte(s)) }
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>`)
	if jb.item.Kind == format.KindContact {
		b.WriteString(`<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop>` +
			`<C:filter><C:prop-filter name="UID"><C:text-match collation="i;octet" match-type="equals">`)
		esc(uid)
		b.WriteString(`</C:text-match></C:prop-filter></C:filter></C:addressbook-query>`)
	} else {
		comp := "VEVENT"
		if jb.item.Kind == format.KindTask {
			comp = "VTODO"
		}
		b.WriteString(`<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop>` +
			`<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="` + comp + `"><C:prop-filter name="UID"><C:text-match collation="i;octet">`)
		esc(uid)
		b.WriteString(`</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`)
	}
	got, err := c.Report(ctx, jb.col.URL, b.Bytes())
	if err != nil {
		return nil
	}
	// CalDAV's text-match matches substrings: keep the exact UID.
	var found *url.URL
	for _, f := range got {
		if objectUID(f.Data) == uid {
			if found != nil {
				return nil
			}
			found = f.Href
		}
	}
	return found
}

// objectUID is the UID of a vCard or of an iCalendar object's first
// component that has one, or "".
func objectUID(b []byte) (uid string) {
	if nopanic.Run(func() error { uid = parseUID(b); return nil }) != nil {
		return ""
	}
	return uid
}

func parseUID(b []byte) string {
	if card, err := vcard.NewDecoder(bytes.NewReader(b)).Decode(); err == nil {
		return card.Value(vcard.FieldUID)
	}
	cal, err := ical.NewDecoder(bytes.NewReader(b)).Decode()
	if err != nil {
		return ""
	}
	for _, c := range cal.Children {
		if p := c.Props.Get(ical.PropUID); p != nil {
			return p.Value
		}
	}
	return ""
}

// refusal is the reason of a refused object: the server's answer and,
// since servers rarely say which property they choke on (Radicale
// answers "Bad Request" and logs the reason), what is wrong with the
// object when that can be found here.
func refusal(a *answer, k format.Kind, body []byte) string {
	s := a.ServerSays()
	if why := diagnose(k, body); why != "" {
		s += "; the object " + why
	}
	return s
}

// diagnose looks for what servers refuse in an object: a parse error, a
// vCard 3.0/4.0 without FN, a component without UID. "" when nothing is
// found.
func diagnose(k format.Kind, body []byte) (why string) {
	if err := nopanic.Run(func() error { why = diagnoseParsed(k, body); return nil }); err != nil {
		return "does not parse: " + err.Error()
	}
	return why
}

func diagnoseParsed(k format.Kind, body []byte) string {
	if k == format.KindContact {
		card, err := vcard.NewDecoder(bytes.NewReader(body)).Decode()
		if err != nil {
			return "does not parse as a vCard: " + err.Error()
		}
		v := card.Value(vcard.FieldVersion)
		switch {
		case v == "":
			return "has no VERSION"
		case v != "2.1" && strings.TrimSpace(card.Value(vcard.FieldFormattedName)) == "":
			return "has no FN (formatted name), which vCard " + v + " requires"
		}
		return ""
	}
	cal, err := ical.NewDecoder(bytes.NewReader(body)).Decode()
	if err != nil {
		return "does not parse as iCalendar: " + err.Error()
	}
	for _, c := range cal.Children {
		switch c.Name {
		case ical.CompEvent, ical.CompToDo, ical.CompJournal:
			for _, p := range []string{ical.PropUID, ical.PropDateTimeStamp} {
				if c.Props.Get(p) == nil {
					return "has a " + c.Name + " without " + p
				}
			}
		}
	}
	return ""
}
