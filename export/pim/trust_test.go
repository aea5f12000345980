package pim

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/format"
)

// Tests of issue 9's contact and calendar items.

const oneCard = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nUID:ann\r\nEND:VCARD\r\n"
const oneEvent = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:e1\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

// Issue 9, item 24: a vCard file given as a calendar, or an iCalendar file
// given as an address book, is refused before anything is added, rather
// than exported as an empty collection with exit 0.
func TestWrongKindOfFileIsRefused(t *testing.T) {
	vcf := writeFile(t, "people.vcf", oneCard)
	ics := writeFile(t, "events.ics", oneEvent)
	var s exporttest.Sink
	if err := AddCalendar(context.Background(), &s, "", vcf, export.Options{}); !errors.Is(err, ErrContactsFile) {
		t.Errorf("AddCalendar(vcf) = %v; want ErrContactsFile", err)
	}
	if err := AddContacts(context.Background(), &s, "", ics, export.Options{}); !errors.Is(err, ErrCalendarFile) {
		t.Errorf("AddContacts(ics) = %v; want ErrCalendarFile", err)
	}
	if len(s.Folders) != 0 {
		t.Errorf("folders %+v added before refusing", s.Folders)
	}
	// An empty file is still an empty collection of either kind.
	empty := writeFile(t, "empty.ics", "")
	if err := AddCalendar(context.Background(), &s, "", empty, export.Options{}); err != nil {
		t.Errorf("AddCalendar(empty) = %v", err)
	}
}

// Issue 9, item 24: components that cannot be exported say why. A
// wrapper left open must not swallow the task and journal after it under
// "not an event, task or journal", and indented lines (which iCalendar
// reads as continuations) are named as the cause.
func TestRefusedComponentsGiveTheRealReason(t *testing.T) {
	open := writeFile(t, "open.ics", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:X-WRAPPER\r\nX-A:1\r\n"+
		"BEGIN:VTODO\r\nUID:t1\r\nSUMMARY:task\r\nEND:VTODO\r\n"+
		"BEGIN:VJOURNAL\r\nUID:j1\r\nSUMMARY:journal\r\nEND:VJOURNAL\r\nEND:VCALENDAR\r\n")
	s := addCalendar(t, "", open, export.Options{})
	var kinds []format.Kind
	for _, it := range s.Items {
		kinds = append(kinds, it.Kind)
	}
	if !slices.Equal(kinds, []format.Kind{format.KindTask, format.KindEvent}) {
		t.Errorf("items of kinds %v; want the task and the journal", kinds)
	}
	if !slices.ContainsFunc(s.Warnings, func(p format.Problem) bool {
		return strings.Contains(p.Item, "X-WRAPPER") && strings.Contains(p.Reason, "no END:X-WRAPPER before BEGIN:VTODO")
	}) {
		t.Errorf("warnings %+v; want the unclosed X-WRAPPER named", s.Warnings)
	}

	indented := writeFile(t, "indented.ics", "BEGIN:VCALENDAR\r\n  VERSION:2.0\r\n  BEGIN:VTODO\r\n    UID:t1\r\n  END:VTODO\r\n"+
		"  BEGIN:VJOURNAL\r\n    UID:j1\r\n  END:VJOURNAL\r\nEND:VCALENDAR\r\n")
	var s2 exporttest.Sink
	err := AddCalendar(context.Background(), &s2, "", indented, export.Options{})
	problems := append(slices.Clone(s2.Errors), s2.Warnings...)
	if err == nil && !slices.ContainsFunc(problems, func(p format.Problem) bool {
		return strings.Contains(p.Reason, "indented") && !strings.Contains(p.Reason, "not an event, task or journal")
	}) {
		t.Errorf("indented calendar: err %v, problems %+v; want the indentation named as the reason", err, problems)
	}
}
