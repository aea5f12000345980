package pim_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/export/pim"
)

func ExampleAddCalendar() {
	dir, _ := os.MkdirTemp("", "pim")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "work.ics")
	os.WriteFile(path, []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:PUBLISH\r\nX-WR-CALNAME:Work\r\n"+
		"BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20240101T000000Z\r\nRRULE:FREQ=WEEKLY\r\nEND:VEVENT\r\n"+
		"BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20240101T000000Z\r\nRECURRENCE-ID:20240108T090000Z\r\nEND:VEVENT\r\n"+
		"BEGIN:VTODO\r\nUID:todo\r\nDTSTAMP:20240101T000000Z\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"), 0o600)

	var sink exporttest.Sink // a *format.Writer in real use
	if err := pim.AddCalendar(context.Background(), &sink, "", path, export.Options{}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sink.Folders[0].Path, "shown as", sink.Folders[0].DisplayName)
	for _, it := range sink.Items {
		fmt.Println(it.Kind, it.UID, it.SourceID, it.Size, "bytes")
	}
	// Output:
	// work shown as Work
	// event weekly work.ics#weekly 243 bytes
	// task todo work.ics#todo 124 bytes
}
