package pim

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

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

// uidsOf returns the UID of each item, and checks that the UID in the
// body is the item's.
func uidsOf(t *testing.T, s *exporttest.Sink) []string {
	t.Helper()
	var out []string
	for _, it := range s.Items {
		if !strings.Contains(string(it.Body), "UID:"+it.UID+"\r\n") {
			t.Errorf("item %s: body does not carry its UID %q:\n%s", it.SourceID, it.UID, it.Body)
		}
		out = append(out, it.UID)
	}
	return out
}

// Issue 9, item 1: two different contacts with one UID would be one
// person on the target; the later one gets a new UID, noted on it. An
// identical copy with the same UID is one object in the source's own
// terms: exported once, the copy counted and reported. Identical cards
// without UID are copies the source shows twice: each gets its own UID.
func TestContactUIDsUniquePerAddressBook(t *testing.T) {
	ann := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nUID:same\r\nEND:VCARD\r\n"
	bob := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob\r\nUID:same\r\nEND:VCARD\r\n"
	noUID := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Cy\r\nEND:VCARD\r\n"
	p := writeFile(t, "book.vcf", ann+bob+ann+noUID+noUID)
	s := addContacts(t, "", p, export.Options{})
	uids := uidsOf(t, s)
	if len(uids) != 4 || uids[0] != "same" || uids[1] == "same" || uids[2] == "same" || uids[1] == uids[2] || uids[3] == uids[2] {
		t.Fatalf("UIDs %q; want same, a new one for Bob, and two different ones generated for the copies of Cy", uids)
	}
	if !strings.Contains(string(s.Items[1].Body), "FN:Bob") || !slices.ContainsFunc(s.Items[1].Notes, func(n string) bool {
		return strings.Contains(n, `UID "same"`) && strings.Contains(n, "different content")
	}) {
		t.Errorf("Bob's notes %q; want the replaced UID explained", s.Items[1].Notes)
	}
	if s.Skipped[SkipDuplicate] != 1 || !slices.ContainsFunc(s.Warnings, func(p format.Problem) bool {
		return strings.Contains(p.Item, "card 3") && strings.Contains(p.Reason, "identical to book.vcf card 1")
	}) {
		t.Errorf("skipped %v, warnings %+v; want Ann's identical copy counted and named as a duplicate", s.Skipped, s.Warnings)
	}
	// Stable: a second run gives the same UIDs.
	if again := uidsOf(t, addContacts(t, "", p, export.Options{})); !slices.Equal(again, uids) {
		t.Errorf("second run UIDs %q, first %q", again, uids)
	}
	// A cutoff does not change which card keeps the UID.
	if d := uidsOf(t, addContacts(t, "", writeFile(t, "book.vcf",
		strings.Replace(ann, "FN:Ann", "REV:20200101T000000Z\r\nFN:Ann", 1)+
			strings.Replace(bob, "FN:Bob", "REV:20260101T000000Z\r\nFN:Bob", 1)), export.Options{After: mustTime(t, "2025-01-01T00:00:00Z")})); len(d) != 1 || d[0] == "same" {
		t.Errorf("delta UIDs %q; want Bob alone, under his new UID", d)
	}
}

// Issue 9, item 1: the same for iCalendar objects: an event and a task
// sharing a UID, and two different events (two masters) sharing one.
func TestCalendarUIDsUniquePerCalendar(t *testing.T) {
	ev := func(uid, summary string) string {
		return "BEGIN:VEVENT\r\nUID:" + uid + "\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101T100000Z\r\nSUMMARY:" + summary + "\r\nEND:VEVENT\r\n"
	}
	todo := "BEGIN:VTODO\r\nUID:same\r\nDTSTAMP:20240101T000000Z\r\nSUMMARY:task\r\nEND:VTODO\r\n"
	p := writeFile(t, "cal.ics", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"+
		ev("same", "first")+todo+ev("two", "lunch")+ev("two", "dinner")+ev("two", "lunch")+"END:VCALENDAR\r\n")
	s := addCalendar(t, "", p, export.Options{})
	uids := uidsOf(t, s)
	seen := map[string]bool{}
	for _, u := range uids {
		if seen[u] {
			t.Errorf("UID %q used twice: %q", u, uids)
		}
		seen[u] = true
	}
	if len(uids) != 4 || !seen["same"] || !seen["two"] {
		t.Errorf("UIDs %q; want 4 objects (event, task, lunch, dinner) keeping same and two once each", uids)
	}
	for _, it := range s.Items {
		if strings.Count(string(it.Body), "BEGIN:VEVENT")+strings.Count(string(it.Body), "BEGIN:VTODO") != 1 {
			t.Errorf("object %s holds more than one component:\n%s", it.UID, it.Body)
		}
		if it.UID != "same" && it.UID != "two" && !slices.ContainsFunc(it.Notes, func(n string) bool { return strings.Contains(n, "different content") }) {
			t.Errorf("object %s: notes %q; want the new UID explained", it.UID, it.Notes)
		}
	}
	if s.Skipped[SkipDuplicate] != 1 {
		t.Errorf("skipped %v; want the identical lunch once as a duplicate", s.Skipped)
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// A contacts or calendar file that is a FIFO is refused, never opened.
func TestPIMFileFIFORefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cal.ics")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	errs := exporttest.Bounded(t, 10*time.Second, "a FIFO was opened", func() [2]error {
		var s exporttest.Sink
		return [2]error{AddCalendar(context.Background(), &s, "", p, export.Options{}),
			AddContacts(context.Background(), &s, "", p, export.Options{})}
	})
	for _, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("got %v; want a refusal", err)
		}
	}
}

// Issue 9 review: a --contacts or --calendar file that is itself a link is
// refused, naming where it points.
func TestPIMFileThatIsALinkIsRefused(t *testing.T) {
	base := t.TempDir()
	card := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Alice\r\nUID:a\r\nEND:VCARD\r\n"
	cal := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e\r\nDTSTART:20240101T000000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	os.WriteFile(filepath.Join(base, "a.vcf"), []byte(card), 0o600)
	os.WriteFile(filepath.Join(base, "a.ics"), []byte(cal), 0o600)
	os.Symlink(filepath.Join(base, "a.vcf"), filepath.Join(base, "b.vcf"))
	os.Symlink(filepath.Join(base, "a.ics"), filepath.Join(base, "b.ics"))
	var s exporttest.Sink
	errs := []error{AddContacts(context.Background(), &s, "", filepath.Join(base, "b.vcf"), export.Options{}),
		AddCalendar(context.Background(), &s, "", filepath.Join(base, "b.ics"), export.Options{})}
	for _, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "symbolic link to "+base) {
			t.Errorf("got %v; want a refusal naming the link's target", err)
		}
	}
	if len(s.Items) != 0 {
		t.Errorf("%d items exported through links", len(s.Items))
	}
}
