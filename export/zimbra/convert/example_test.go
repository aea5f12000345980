package convert_test

import (
	"fmt"
	"strings"

	"github.com/mailhaul/mailhaul/export/zimbra/convert"
	"github.com/mailhaul/mailhaul/export/zimbra/metadata"
)

func ExampleContact() {
	// A contact's metadata as a Zimbra tgz .meta entry carries it.
	md, _ := metadata.Decode(metadata.Encode(metadata.Map{
		"fld": metadata.Map{"firstName": "Josée", "lastName": "Núñez", "email": "josee@example.org",
			"mobilePhone": "+34 600", "custom1": "kept"},
		"v": 10,
	}))
	card, _, notes, err := convert.Contact(md, nil, convert.ContactOptions{ItemID: 257, AccountID: "8f0c"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(strings.ReplaceAll(string(card), "\r\n", "\n"))
	fmt.Println(len(notes), "notes")
	// Output:
	// BEGIN:VCARD
	// VERSION:3.0
	// EMAIL;TYPE=internet:josee@example.org
	// FN:Núñez\, Josée
	// N:Núñez;Josée;;;
	// TEL;TYPE=cell;TYPE=voice:+34 600
	// UID:8f0c:257
	// X-ZIMBRA-CUSTOM1:kept
	// END:VCARD
	// 0 notes
}

func ExampleCalendarFromBlob() {
	invite := "Content-Type: text/calendar; charset=utf-8\r\n\r\n" +
		"BEGIN:VCALENDAR\r\nPRODID:Zimbra-Calendar-Provider\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\n" +
		"BEGIN:VEVENT\r\nUID:e1\r\nSUMMARY:Planning\r\nDTSTART:20240108T090000Z\r\nDTSTAMP:20240101T000000Z\r\nEND:VEVENT\r\n" +
		"END:VCALENDAR\r\n"
	blob := "Content-Type: multipart/digest; boundary=d\r\n\r\n" +
		"--d\r\nContent-Type: message/rfc822\r\ninvId: 301\r\n\r\n" + invite + "\r\n--d--\r\n"
	ics, _, err := convert.CalendarFromBlob(strings.NewReader(blob))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(strings.ReplaceAll(string(ics), "\r\n", "\n"))
	// Output:
	// BEGIN:VCALENDAR
	// PRODID:Zimbra-Calendar-Provider
	// VERSION:2.0
	// BEGIN:VEVENT
	// DTSTAMP:20240101T000000Z
	// DTSTART:20240108T090000Z
	// SUMMARY:Planning
	// UID:e1
	// END:VEVENT
	// END:VCALENDAR
}
