package convert

import (
	"bytes"
	"encoding/base64"
	"errors"
	"mime/quotedprintable"
	"strings"
	"testing"

	"github.com/emersion/go-ical"

	"github.com/mailhaul/mailhaul/export/zimbra/metadata"
)

const berlin = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n" +
	"BEGIN:STANDARD\r\nDTSTART:16010101T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n" +
	"BEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n" +
	"END:VTIMEZONE\r\n"

func vcalendar(body string) string {
	return "BEGIN:VCALENDAR\r\nPRODID:Zimbra-Calendar-Provider\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\n" + body + "END:VCALENDAR\r\n"
}

// inviteMessage is an invite as Zimbra keeps it in a calendar blob: the
// message with a text/plain body, the text/calendar part (in the given
// transfer encoding) and any attached files ({name, type, content}).
func inviteMessage(ics, cte string, files ...[3]string) string {
	var b strings.Builder
	b.WriteString("From: Organizer <org@example.de>\r\nSubject: invite\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"mixed\"\r\n\r\n--mixed\r\n" +
		"Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\nThe body repeats the description.\r\n--alt\r\n" +
		"Content-Type: text/calendar; method=REQUEST; charset=utf-8\r\nContent-Transfer-Encoding: " + cte + "\r\n\r\n")
	switch cte {
	case "base64":
		b.WriteString(base64.StdEncoding.EncodeToString([]byte(ics)) + "\r\n")
	case "quoted-printable":
		w := quotedprintable.NewWriter(&b)
		w.Write([]byte(ics))
		w.Close()
		b.WriteString("\r\n")
	default:
		b.WriteString(ics)
	}
	b.WriteString("--alt--\r\n")
	for _, f := range files {
		b.WriteString("--mixed\r\nContent-Type: " + f[1] + "; name=\"" + f[0] + "\"\r\nContent-Disposition: attachment; filename=\"" + f[0] +
			"\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString([]byte(f[2])) + "\r\n")
	}
	b.WriteString("--mixed--\r\n")
	return b.String()
}

// digestBlob is an .appt/.task blob: a multipart/digest of invites, each
// part message/rfc822 with Zimbra's invId header.
func digestBlob(invites ...[2]string) string {
	var b strings.Builder
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/digest; boundary=\"digest\"\r\n\r\n")
	for _, inv := range invites {
		b.WriteString("--digest\r\nContent-Type: message/rfc822\r\ninvId: " + inv[0] + "\r\n\r\n" + inv[1] + "\r\n")
	}
	b.WriteString("--digest--\r\n")
	return b.String()
}

func decodeICS(t *testing.T, b []byte) *ical.Calendar {
	t.Helper()
	for _, line := range strings.SplitAfter(string(b), "\r\n") {
		if len(strings.TrimSuffix(line, "\r\n")) > 75 {
			t.Fatalf("line longer than 75 octets: %q", line)
		}
	}
	dec := ical.NewDecoder(bytes.NewReader(b))
	cal, err := dec.Decode()
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, b)
	}
	if _, err := dec.Decode(); err == nil {
		t.Fatalf("more than one VCALENDAR:\n%s", b)
	}
	return cal
}

func children(cal *ical.Calendar, name string) []*ical.Component {
	var out []*ical.Component
	for _, c := range cal.Children {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

func text(t *testing.T, c *ical.Component, name string) string {
	t.Helper()
	p := c.Props.Get(name)
	if p == nil {
		return ""
	}
	s, err := p.Text()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// weeklyMaster is the text/calendar of a weekly meeting's master invite.
func weeklyMaster(summary, seq string) string {
	return vcalendar(berlin + "BEGIN:VEVENT\r\nUID:weekly-1\r\nSUMMARY:" + summary + "\r\n" +
		"DTSTART;TZID=Europe/Berlin:20240108T090000\r\nDTEND;TZID=Europe/Berlin:20240108T100000\r\n" +
		"RRULE:FREQ=WEEKLY;COUNT=10\r\nDTSTAMP:20240101T000000Z\r\nSEQUENCE:" + seq + "\r\nEND:VEVENT\r\n")
}

// weeklyException moves the second meeting by two hours.
func weeklyException() string {
	return vcalendar(berlin + "BEGIN:VEVENT\r\nUID:weekly-1\r\nSUMMARY:Verschoben\r\n" +
		"RECURRENCE-ID;TZID=Europe/Berlin:20240115T090000\r\nDTSTART;TZID=Europe/Berlin:20240115T110000\r\n" +
		"DTEND;TZID=Europe/Berlin:20240115T120000\r\nDTSTAMP:20240102T000000Z\r\nSEQUENCE:1\r\nEND:VEVENT\r\n")
}

func TestCalendarFromBlobRecurringWithException(t *testing.T) {
	master := weeklyMaster("Wöchentliche Besprechung 🗓", "0")
	exception := weeklyException()
	// A later update of the master: SEQUENCE 1 replaces SEQUENCE 0.
	updated := weeklyMaster("Wöchentliche Besprechung (neu)", "1")
	pdf := strings.Repeat("%PDF-1.4 ünïcödé \x00\x01", 50)
	blob := digestBlob(
		[2]string{"301", inviteMessage(master, "base64", [3]string{"Agenda ä.pdf", "application/pdf", pdf})},
		[2]string{"305", inviteMessage(exception, "quoted-printable")},
		[2]string{"310", inviteMessage(updated, "8bit", [3]string{"Agenda ä.pdf", "application/pdf", pdf})},
	)
	b, notes, err := CalendarFromBlob(strings.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "invite 301 repeats the master of weekly-1; the version from invite 310 kept") {
		t.Errorf("notes = %q", notes)
	}
	cal := decodeICS(t, b)
	if cal.Props.Get(ical.PropMethod) != nil {
		t.Error("METHOD kept in a stored object")
	}
	if tz := children(cal, ical.CompTimezone); len(tz) != 1 {
		t.Errorf("%d VTIMEZONEs, want 1", len(tz))
	}
	ev := children(cal, ical.CompEvent)
	if len(ev) != 2 {
		t.Fatalf("%d VEVENTs, want master and exception:\n%s", len(ev), b)
	}
	if ev[0].Props.Get(ical.PropRecurrenceID) != nil || text(t, ev[0], ical.PropSummary) != "Wöchentliche Besprechung (neu)" {
		t.Errorf("first event is not the updated master:\n%s", b)
	}
	if ev[1].Props.Get(ical.PropRecurrenceID).Value != "20240115T090000" || text(t, ev[1], ical.PropSummary) != "Verschoben" {
		t.Errorf("second event is not the exception:\n%s", b)
	}
	atts := ev[0].Props.Values(ical.PropAttach)
	if len(atts) != 1 {
		t.Fatalf("master has %d ATTACH, want 1", len(atts))
	}
	if got, err := atts[0].Binary(); err != nil || string(got) != pdf {
		t.Errorf("attachment bytes differ (%v)", err)
	}
	if atts[0].Params.Get(ical.ParamFormatType) != "application/pdf" || atts[0].Params.Get("X-FILENAME") != "Agenda ä.pdf" {
		t.Errorf("attachment params: %v", atts[0].Params)
	}
	if ev[1].Props.Get(ical.PropAttach) != nil {
		t.Error("the exception got the master's attachment")
	}
}

func TestCalendarFromBlobTask(t *testing.T) {
	task := vcalendar("BEGIN:VTODO\r\nUID:task-ü\r\nSUMMARY:Aufgabe\\, mit Komma\r\nDTSTAMP:20240101T000000Z\r\n" +
		"DUE;VALUE=DATE:20240201\r\nPERCENT-COMPLETE:40\r\nSTATUS:IN-PROCESS\r\nEND:VTODO\r\n")
	b, notes, err := CalendarFromBlob(strings.NewReader(digestBlob([2]string{"400",
		inviteMessage(task, "7bit", [3]string{"notes.txt", "text/plain", "plain notes"})})))
	if err != nil || len(notes) != 0 {
		t.Fatalf("err %v notes %q", err, notes)
	}
	cal := decodeICS(t, b)
	todo := children(cal, ical.CompToDo)
	if len(todo) != 1 || text(t, todo[0], ical.PropSummary) != "Aufgabe, mit Komma" || todo[0].Props.Get(ical.PropUID).Value != "task-ü" {
		t.Fatalf("task not carried:\n%s", b)
	}
	if got, _ := todo[0].Props.Get(ical.PropAttach).Binary(); string(got) != "plain notes" {
		t.Errorf("attached text file not carried:\n%s", b)
	}
	uid, err := CheckCalendar(bytes.NewReader(b))
	if err != nil || uid != "task-ü" {
		t.Errorf("CheckCalendar of the result = %q, %v", uid, err)
	}
}

func TestCalendarFromBlobErrors(t *testing.T) {
	ev := func(uid string) string {
		return vcalendar("BEGIN:VEVENT\r\nUID:" + uid + "\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101T100000Z\r\nEND:VEVENT\r\n")
	}
	for _, tc := range []struct {
		name, blob, want string
	}{
		{"two UIDs", digestBlob([2]string{"1", inviteMessage(ev("a"), "7bit")}, [2]string{"2", inviteMessage(ev("b"), "7bit")}), "more than one item"},
		{"no calendar", digestBlob([2]string{"1", "Content-Type: text/plain\r\n\r\nhello\r\n"}), "no event or task"},
		{"not a digest", "Content-Type: text/plain\r\n\r\nhello\r\n", "no event or task"},
		{"broken calendar", digestBlob([2]string{"1", inviteMessage("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n", "7bit")}), "text/calendar part"},
		{"calendar cut after a complete one", digestBlob([2]string{"1", inviteMessage(ev("a")+"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\n", "7bit")}), "cut short"},
		{"parser panic", digestBlob([2]string{"1", inviteMessage("BEGIN:VCALENDAR\r\nX-A;P=\r\nEND:VCALENDAR\r\n", "7bit")}), "parser panic"},
		{"truncated header", "Content-Type: multipart/digest; boundary=x\r\n", "calendar blob"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := CalendarFromBlob(strings.NewReader(tc.blob))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestCheckCalendar(t *testing.T) {
	good := vcalendar(berlin + "BEGIN:VEVENT\r\nUID:u1\r\nDTSTAMP:20240101T000000Z\r\nEND:VEVENT\r\n" +
		"BEGIN:VEVENT\r\nUID:u1\r\nRECURRENCE-ID:20240108T090000Z\r\nDTSTAMP:20240101T000000Z\r\nEND:VEVENT\r\n")
	if uid, err := CheckCalendar(strings.NewReader(good)); err != nil || uid != "u1" {
		t.Fatalf("CheckCalendar = %q, %v", uid, err)
	}
	for _, bad := range []string{
		vcalendar("BEGIN:VEVENT\r\nUID:a\r\nEND:VEVENT\r\nBEGIN:VTODO\r\nUID:b\r\nEND:VTODO\r\n"),
		vcalendar(berlin),
		vcalendar("BEGIN:VEVENT\r\nSUMMARY:no uid\r\nEND:VEVENT\r\n"),
		"not a calendar",
		// go-ical panics on a parameter with nothing after its '='
		"BEGIN:VCALENDAR\r\nX-A;P=\r\nEND:VCALENDAR\r\n",
	} {
		if uid, err := CheckCalendar(strings.NewReader(bad)); err == nil {
			t.Errorf("CheckCalendar(%q) = %q, want an error", bad, uid)
		}
	}
}

// itemMeta builds an appointment's item metadata with one invite, through
// the real encoding.
func itemMeta(t *testing.T, inv metadata.Map) metadata.Map {
	t.Helper()
	md, err := metadata.Decode(metadata.Encode(metadata.Map{"inv": metadata.List{inv}, "u": inv["u"], "v": 10}))
	if err != nil {
		t.Fatal(err)
	}
	return md
}

func TestCalendarFromMetadataEvent(t *testing.T) {
	md := itemMeta(t, metadata.Map{
		"it": 11, "u": "evt-1", "mid": 301, "comp": 0, "st": "TZID=\"Europe/Berlin\":20240708T090000",
		"et": "TZID=Europe/Berlin:20240708T103000", "n": "Réunion; équipe", "l": "Salle 3, étage 2",
		"dinM": true, "desc": "Ligne 1\r\nLigne 2", "status": "CONF", "cl": "PRI", "tr": "O", "fb": "B",
		"dts": int64(1704067200000), "seq": 2, "prio": "1",
		"org":   metadata.Map{"a": "chef@example.fr", "cn": "Le Chef"},
		"numAt": "2", "at0": metadata.Map{"a": "a@example.fr", "cn": "Anne", "r": "REQ", "ptst": "AC", "v": "true"},
		"at1":    metadata.Map{"a": "b@example.fr", "ptst": "NE", "cut": "RES", "member": "x"},
		"numCat": 2, "cat0": "Travail", "cat1": "Équipe", "numAl": 1, "al0": metadata.Map{"action": "DISPLAY"},
		"xprop0": "unknown",
	})
	b, notes, err := CalendarFromMetadata(md)
	if err != nil {
		t.Fatal(err)
	}
	cal := decodeICS(t, b)
	ev := children(cal, ical.CompEvent)
	if len(ev) != 1 {
		t.Fatalf("events:\n%s", b)
	}
	e := ev[0]
	for prop, want := range map[string]string{
		ical.PropUID: "evt-1", ical.PropDateTimeStart: "20240708T070000Z", ical.PropDateTimeEnd: "20240708T083000Z",
		ical.PropStatus: "CONFIRMED", ical.PropClass: "PRIVATE", ical.PropTransparency: "OPAQUE",
		ical.PropDateTimeStamp: "20240101T000000Z", ical.PropSequence: "2", ical.PropPriority: "1",
		ical.PropOrganizer: "mailto:chef@example.fr", "X-MICROSOFT-CDO-INTENDEDSTATUS": "BUSY",
		ical.PropCategories: `Travail,Équipe`,
	} {
		if p := e.Props.Get(prop); p == nil || p.Value != want {
			t.Errorf("%s = %+v, want %q", prop, p, want)
		}
	}
	for prop, want := range map[string]string{ical.PropSummary: "Réunion; équipe", ical.PropLocation: "Salle 3, étage 2",
		ical.PropDescription: "Ligne 1\nLigne 2"} {
		if got := text(t, e, prop); got != want {
			t.Errorf("%s = %q, want %q", prop, got, want)
		}
	}
	at := e.Props.Values(ical.PropAttendee)
	if len(at) != 2 || at[0].Value != "mailto:a@example.fr" || at[0].Params.Get(ical.ParamCommonName) != "Anne" ||
		at[0].Params.Get(ical.ParamRole) != "REQ-PARTICIPANT" || at[0].Params.Get(ical.ParamParticipationStatus) != "ACCEPTED" ||
		at[0].Params.Get(ical.ParamRSVP) != "TRUE" || at[1].Params.Get(ical.ParamCalendarUserType) != "RESOURCE" {
		t.Errorf("attendees: %+v", at)
	}
	joined := strings.Join(notes, "|")
	for _, want := range []string{"1 alarms not rebuilt", "attendee 1 b@example.fr: member not rebuilt", "invite metadata xprop0 not rebuilt"} {
		if !strings.Contains(joined, want) {
			t.Errorf("notes %q lack %q", notes, want)
		}
	}
}

func TestCalendarFromMetadataAllDayAndTask(t *testing.T) {
	b, notes, err := CalendarFromMetadata(itemMeta(t, metadata.Map{"u": "day", "st": "20240301", "et": "20240302", "n": "Holiday",
		"dts": int64(1704067200000), "frag": "first words"}))
	if err != nil {
		t.Fatal(err)
	}
	e := children(decodeICS(t, b), ical.CompEvent)[0]
	if p := e.Props.Get(ical.PropDateTimeStart); p.Value != "20240301" || p.Params.Get(ical.ParamValue) != "DATE" {
		t.Errorf("DTSTART = %+v", p)
	}
	if text(t, e, ical.PropDescription) != "first words" || len(notes) != 1 || !strings.Contains(notes[0], "fragment") {
		t.Errorf("fragment description not noted: %q", notes)
	}

	b, _, err = CalendarFromMetadata(itemMeta(t, metadata.Map{"it": 15, "u": "todo-1", "n": "Tâche", "et": "20240401T120000Z",
		"pctcompl": "100", "completed": int64(1711972800000), "status": "COMP", "dts": int64(1704067200000), "duration": "PT1H"}))
	if err != nil {
		t.Fatal(err)
	}
	td := children(decodeICS(t, b), ical.CompToDo)
	if len(td) != 1 || td[0].Props.Get(ical.PropDue).Value != "20240401T120000Z" || td[0].Props.Get(ical.PropStatus).Value != "COMPLETED" ||
		td[0].Props.Get(ical.PropPercentComplete).Value != "100" || td[0].Props.Get(ical.PropCompleted).Value != "20240401T120000Z" {
		t.Errorf("task:\n%s", b)
	}
}

func TestCalendarFromMetadataRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		md   metadata.Map
		want string
	}{
		{"recurring", itemMeta(t, metadata.Map{"u": "r", "st": "20240101T100000Z", "recurrence": metadata.Map{"x": 1}}), "recurs"},
		{"exception", itemMeta(t, metadata.Map{"u": "r", "st": "20240101T100000Z", "rid": metadata.Map{"rd": "x"}}), "recurs"},
		{"no start", itemMeta(t, metadata.Map{"u": "s", "n": "x"}), "no start time"},
		{"no uid", itemMeta(t, metadata.Map{"st": "20240101T100000Z"}), "no UID"},
		{"unknown zone", itemMeta(t, metadata.Map{"u": "z", "st": "TZID=(GMT+01.00) Somewhere:20240101T100000"}), "time zone"},
		{"bad time", itemMeta(t, metadata.Map{"u": "z", "st": "next tuesday"}), "not a date or time"},
		{"no invites", metadata.Map{"u": "x"}, "no invites"},
		{"several invites", metadata.Map{"inv": metadata.List{metadata.Map{}, metadata.Map{}}}, "2 invites"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := CalendarFromMetadata(tc.md)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestCalendarRebuildsInvitesMissingFromBlob(t *testing.T) {
	ev := vcalendar("BEGIN:VEVENT\r\nUID:w\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101T100000Z\r\nRRULE:FREQ=DAILY\r\nEND:VEVENT\r\n")
	blob := digestBlob([2]string{"301", inviteMessage(ev, "7bit")})
	moved := metadata.Map{"mid": 320, "u": "w", "rid": metadata.Map{"dt": "20240102T100000Z", "r": 1}, "st": "20240102T140000Z", "et": "20240102T150000Z",
		"n": "Moved", "dts": int64(1704067200000)}
	md, err := metadata.Decode(metadata.Encode(metadata.Map{"u": "w", "inv": metadata.List{
		metadata.Map{"mid": 301, "u": "w", "recurrence": metadata.Map{}}, moved,
	}}))
	if err != nil {
		t.Fatal(err)
	}
	b, uid, notes, err := Calendar(md, strings.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	if uid != "w" || len(notes) != 1 || !strings.Contains(notes[0], "invite 320 (an exception) is in the metadata but not in the blob; rebuilt") {
		t.Errorf("uid %q, notes = %q", uid, notes)
	}
	evs := children(decodeICS(t, b), ical.CompEvent)
	if len(evs) != 2 || propValue(evs[1], ical.PropRecurrenceID) != "20240102T100000Z" ||
		propValue(evs[1], ical.PropDateTimeStart) != "20240102T140000Z" || propValue(evs[1], ical.PropSummary) != "Moved" {
		t.Fatalf("want the master and the moved instance:\n%s", b)
	}
	// An instance the metadata cannot rebuild (no start) is an error,
	// not a note (the item would show it at its old time), and the rest
	// of the item is still given, to be kept and the loss reported.
	delete(moved, "st")
	md, err = metadata.Decode(metadata.Encode(metadata.Map{"u": "w", "inv": metadata.List{
		metadata.Map{"mid": 301, "u": "w", "recurrence": metadata.Map{}}, moved,
	}}))
	if err != nil {
		t.Fatal(err)
	}
	b, _, _, err = Calendar(md, strings.NewReader(blob))
	var inc *Incomplete
	if !errors.As(err, &inc) || !strings.Contains(err.Error(), "invite 320 (an exception)") || !strings.Contains(err.Error(), "cannot be rebuilt") {
		t.Errorf("unrebuildable instance: %v", err)
	}
	if !bytes.Contains(b, []byte("UID:w\r\n")) || bytes.Contains(b, []byte("RECURRENCE-ID")) {
		t.Errorf("want the master alone, kept:\n%s", b)
	}
	// Without a blob the recurring item cannot be rebuilt: an error for
	// the caller to report.
	if _, _, _, err := Calendar(md, nil); err == nil || !strings.Contains(err.Error(), "2 invites") {
		t.Errorf("Calendar without blob: %v", err)
	}
	single := itemMeta(t, metadata.Map{"u": "s", "st": "20240101T100000Z", "dts": int64(1)})
	if b, _, _, err := Calendar(single, nil); err != nil || !bytes.Contains(b, []byte("UID:s\r\n")) {
		t.Errorf("Calendar without blob: %v\n%s", err, b)
	}
}
