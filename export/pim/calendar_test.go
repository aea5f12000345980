package pim

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/format"
)

func addCalendar(t *testing.T, name, path string, opt export.Options) *exporttest.Sink {
	t.Helper()
	return add(t, "AddCalendar", AddCalendar, name, path, opt)
}

// add runs AddCalendar or AddContacts (called what) into a new sink,
// failing the test on its error.
func add(t *testing.T, what string, fn func(context.Context, export.Sink, string, string, export.Options) error,
	name, path string, opt export.Options) *exporttest.Sink {
	t.Helper()
	var s exporttest.Sink
	if err := fn(context.Background(), &s, name, path, opt); err != nil {
		t.Fatalf("%s(%s): %v", what, path, err)
	}
	return &s
}

func readCorpus(t *testing.T, rel string) (string, string) {
	t.Helper()
	p := filepath.Join(corpus, rel)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, string(b)
}

// components returns the raw text of each top-level BEGIN:name ... END:name
// block in s, for comparing output with input.
func components(s, name string) []string {
	re := regexp.MustCompile(`(?s)BEGIN:` + name + `\r?\n.*?END:` + name + `\r?\n`)
	return re.FindAllString(s, -1)
}

func TestRecurrenceOverridesGrouped(t *testing.T) {
	// The override comes before its master, with another event between.
	p, in := readCorpus(t, "ical/khal/mult_uids_and_recuid_no_order.ics")
	s := addCalendar(t, "", p, export.Options{})
	if len(s.Items) != 2 {
		t.Fatalf("got %d objects, want 2", len(s.Items))
	}
	inEvents := components(in, "VEVENT")
	byUID := map[string]exporttest.Item{}
	for _, it := range s.Items {
		byUID[it.UID] = it
	}
	rec, ok := byUID["event_rrule_recurrence_id"]
	if !ok {
		t.Fatalf("no object for UID event_rrule_recurrence_id among %v", s.Items)
	}
	got := components(string(rec.Body), "VEVENT")
	if want := []string{inEvents[0], inEvents[2]}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("grouped VEVENTs:\n%q\nwant override then master, bytes unchanged:\n%q", got, want)
	}
	if got := components(string(byUID["date123"].Body), "VEVENT"); len(got) != 1 || got[0] != inEvents[1] {
		t.Errorf("date123 VEVENTs %q, want %q", got, inEvents[1])
	}
}

func TestOnlyReferencedTimezones(t *testing.T) {
	p, in := readCorpus(t, "ical/khal/cal_lots_of_timezones.ics")
	s := addCalendar(t, "", p, export.Options{})
	tzid := regexp.MustCompile(`(?m)^TZID:(.*)$`)
	inTZ := map[string]string{}
	for _, c := range components(in, "VTIMEZONE") {
		inTZ[tzid.FindStringSubmatch(c)[1]] = c
	}
	want := map[string][]string{
		"abcde": {"IndianReunion", "Europe_Amsterdam", "Europe_Berlin", "America_New_York", "America_Bogota"}, // file order
		"123":   {"Europe_London"},
	}
	for _, it := range s.Items {
		got := components(string(it.Body), "VTIMEZONE")
		w := want[it.UID]
		if len(got) != len(w) {
			t.Errorf("UID %s: got %d VTIMEZONEs, want %v", it.UID, len(got), w)
			continue
		}
		for i, id := range w {
			if got[i] != inTZ[id] {
				t.Errorf("UID %s: VTIMEZONE %d is %q, want %s unchanged", it.UID, i, got[i], id)
			}
		}
	}
}

func TestMethodRemovedBytesKept(t *testing.T) {
	// One event whose every VTIMEZONE is referenced: the object must be
	// the file itself less the METHOD line.
	for _, rel := range []string{"ical/biweekly/outlook-2010.ics", "ical/biweekly/outlook-2016-publish.ics", "ical/python-icalendar/calendars/x_location.ics"} {
		p, in := readCorpus(t, rel)
		s := addCalendar(t, "", p, export.Options{})
		want := regexp.MustCompile(`(?m)^METHOD:.*\n`).ReplaceAllString(in, "")
		if want == in {
			t.Fatalf("%s has no METHOD line to test with", rel)
		}
		if len(s.Items) != 1 || string(s.Items[0].Body) != want {
			t.Errorf("%s: got %d objects, first differing from the file less METHOD", rel, len(s.Items))
		}
	}
}

const lfCalendar = `BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
METHOD:PUBLISH
X-WR-CALNAME:Team\, shared
X-APPLE-CALENDAR-COLOR:#FF0000
X-WR-CALDESC:What we do
BEGIN:VTIMEZONE
TZID:Europe/Paris
BEGIN:STANDARD
DTSTART:19701025T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
DTSTAMP:20240102T030405Z
DTSTART;TZID=Europe/Paris:20240105T100000
SUMMARY:no uid
END:VEVENT
BEGIN:VTODO
UID:shared
DTSTAMP:20230101T000000Z
SUMMARY:task
END:VTODO
BEGIN:VEVENT
UID:shared
DTSTAMP:20240101T000000Z
LAST-MODIFIED:20240301T000000Z
SUMMARY:event
END:VEVENT
BEGIN:VFREEBUSY
UID:fb
END:VFREEBUSY
END:VCALENDAR
`

func TestCalendarLineEndingsAndUIDs(t *testing.T) {
	crlf := strings.ReplaceAll(lfCalendar, "\n", "\r\n")
	lf := addCalendar(t, "team", writeFile(t, "t.ics", lfCalendar), export.Options{})
	cr := addCalendar(t, "team", writeFile(t, "t.ics", crlf), export.Options{})

	f := lf.Folders[0]
	if f.Kind != format.FolderCalendar || f.Path != "team" || f.DisplayName != "Team, shared" || f.Color != "#FF0000" || f.Description != "What we do" {
		t.Errorf("folder %+v: want calendar team shown as \"Team, shared\", #FF0000, \"What we do\"", f)
	}
	for _, s := range []*exporttest.Sink{lf, cr} {
		if len(s.Items) != 3 {
			t.Fatalf("got %d objects, want 3 (UID-less event, task, event)", len(s.Items))
		}
		// VFREEBUSY dropped; the event sharing the task's UID gets a new one
		// (issue 9, 1).
		if len(s.Warnings) != 2 || !strings.Contains(s.Warnings[1].Reason, `uid replaced: UID "shared"`) {
			t.Errorf("warnings %v, want one for VFREEBUSY and one for the event's new UID", s.Warnings)
		}
	}
	if lf.Items[0].UID != cr.Items[0].UID {
		t.Errorf("generated UIDs differ between LF (%s) and CRLF (%s)", lf.Items[0].UID, cr.Items[0].UID)
	}
	for _, c := range []struct {
		s   *exporttest.Sink
		in  string
		eol string
	}{{lf, lfCalendar, "\n"}, {cr, crlf, "\r\n"}} {
		gen := c.s.Items[0]
		ev := components(c.in, "VEVENT")[0]
		wantEv := strings.Replace(ev, "BEGIN:VEVENT"+c.eol, "BEGIN:VEVENT"+c.eol+"UID:"+gen.UID+c.eol, 1)
		if got := components(string(gen.Body), "VEVENT"); len(got) != 1 || got[0] != wantEv {
			t.Errorf("generated-UID event %q, want %q", got, wantEv)
		}
		if !bytes.Contains(gen.Body, []byte(components(c.in, "VTIMEZONE")[0])) {
			t.Errorf("event referencing Europe/Paris lacks its VTIMEZONE:\n%s", gen.Body)
		}
		if bytes.Contains(gen.Body, []byte("METHOD")) || !bytes.HasSuffix(gen.Body, []byte("END:VCALENDAR"+c.eol)) {
			t.Errorf("object has METHOD or a wrong ending:\n%q", gen.Body)
		}
		task, event := c.s.Items[1], c.s.Items[2]
		if task.Kind != format.KindTask || event.Kind != format.KindEvent || task.UID != "shared" || event.UID == "shared" ||
			!bytes.Contains(event.Body, []byte("UID:"+event.UID+c.eol)) || bytes.Contains(event.Body, []byte("UID:shared")) {
			t.Errorf("shared UID: got %s/%s and %s/%s, want a task keeping it and an event with a new one", task.Kind, task.UID, event.Kind, event.UID)
		}
		if task.SourceID == event.SourceID || bytes.Contains(task.Body, []byte("VEVENT")) || bytes.Contains(event.Body, []byte("VTODO")) {
			t.Errorf("task and event with one UID must be separate objects with distinct SourceIDs")
		}
		if !contains(task.Notes, "UID also used by a component of another type in this file") || len(event.Notes) != 1 || !strings.HasPrefix(event.Notes[0], "uid replaced") {
			t.Errorf("task notes %q, event notes %q: want the task to note the shared UID, the event its new one", task.Notes, event.Notes)
		}
		if bytes.Contains(task.Body, []byte("VTIMEZONE")) {
			t.Errorf("task references no TZID but carries a VTIMEZONE")
		}
		if got, want := event.Received, time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
			t.Errorf("event Received %v, want LAST-MODIFIED %v", got, want)
		}
	}
}

func TestCalendarCutoffAndFiles(t *testing.T) {
	s := addCalendar(t, "c", writeFile(t, "t.ics", lfCalendar), export.Options{After: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
	if len(s.Items) != 2 || s.Skipped[export.SkipBeforeCutoff] != 1 {
		t.Errorf("after 2024-01-01: %d items, %v skipped; want 2 items and the 2023 task skipped", len(s.Items), s.Skipped)
	}

	empty := addCalendar(t, "", writeFile(t, "nothing.ics", ""), export.Options{})
	if len(empty.Folders) != 1 || empty.Folders[0].Path != "nothing" || len(empty.Items) != 0 {
		t.Errorf("empty file: folders %v, %d items; want folder nothing, no items", empty.Folders, len(empty.Items))
	}
	var sink exporttest.Sink
	if err := AddCalendar(context.Background(), &sink, "", filepath.Join(t.TempDir(), "none.ics"), export.Options{}); err == nil {
		t.Error("missing file: got nil error")
	}
}

func TestBareComponentWrapped(t *testing.T) {
	p, in := readCorpus(t, "ical/python-icalendar/todos/example.ics")
	s := addCalendar(t, "", p, export.Options{})
	if len(s.Items) != 1 {
		t.Fatalf("got %d items, want 1", len(s.Items))
	}
	body := string(s.Items[0].Body)
	// The file ends without a line ending; one is added before END:VCALENDAR.
	if !strings.HasPrefix(body, "BEGIN:VCALENDAR\n") || !strings.HasSuffix(body, "\n"+in+"\nEND:VCALENDAR\n") {
		t.Errorf("bare VTODO not wrapped around its unchanged bytes:\n%s", body)
	}
}

func TestEmptyEventUIDReplaced(t *testing.T) {
	in := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nDTSTAMP:20240101T000000Z\r\nUID:\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	s := addCalendar(t, "cal", writeFile(t, "c.ics", in), export.Options{})
	if len(s.Items) != 1 {
		t.Fatalf("got %d objects, want 1", len(s.Items))
	}
	it := s.Items[0]
	if it.UID == "" {
		t.Fatal("no UID generated for an event with an empty UID")
	}
	want := strings.Replace(in, "UID:\r\n", "UID:"+it.UID+"\r\n", 1)
	if string(it.Body) != want {
		t.Errorf("body:\n%q\nwant\n%q", it.Body, want)
	}
	if n := bytes.Count(it.Body, []byte("UID:")); n != 1 {
		t.Errorf("body has %d UID lines, want 1", n)
	}
}

// shrinkingSink truncates a file once the folder is added: after the
// calendar was indexed, before its objects are read again.
type shrinkingSink struct {
	exporttest.Sink
	path string
	size int64
}

func (s *shrinkingSink) AddFolder(f format.Folder) error {
	if err := os.Truncate(s.path, s.size); err != nil {
		return err
	}
	return s.Sink.AddFolder(f)
}

func TestCalendarShrunkFileIsAnItemError(t *testing.T) {
	first := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20240101T000000Z\r\nEND:VEVENT\r\n"
	in := first + "BEGIN:VEVENT\r\nUID:b\r\nDTSTAMP:20240101T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	path := writeFile(t, "c.ics", in)
	s := &shrinkingSink{path: path, size: int64(len(first) + 20)}
	if err := AddCalendar(context.Background(), s, "cal", path, export.Options{}); err != nil {
		t.Fatalf("AddCalendar: %v; want the short object recorded and the export to go on", err)
	}
	if len(s.Items) != 1 || s.Items[0].UID != "a" {
		t.Fatalf("got %d items, want only event a", len(s.Items))
	}
	if len(s.Errors) != 1 || s.Errors[0].Folder != "cal" || !strings.Contains(s.Errors[0].Item, "UID b") ||
		!strings.Contains(s.Errors[0].Reason, "input shrank") {
		t.Errorf("errors %+v: want one naming cal, event b and the shrunk input", s.Errors)
	}
}
