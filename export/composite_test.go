package export_test

import (
	"context"
	"errors"
	"testing"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/export/pim"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/progress"
)

// A composite runs its sources in order into one sink, and a cancel stops
// it before the next source.
func TestCompositeRunsInOrderAndStopsWhenCancelled(t *testing.T) {
	both := export.Composite{pim.Contacts{Path: sample + "/alice-contacts.vcf"}, pim.Calendar{Path: sample + "/alice-calendar.ics", Name: "Cal"}}
	var s exporttest.Sink
	if err := both.Export(context.Background(), &s, export.Options{}); err != nil {
		t.Fatal(err)
	}
	if len(s.Folders) != 2 || s.Folders[0].Kind != format.FolderContacts || s.Folders[0].Path != "alice-contacts" ||
		s.Folders[1].Kind != format.FolderCalendar || s.Folders[1].Path != "Cal" || len(s.Items) != 6 {
		t.Errorf("folders %+v, %d items; want the address book, then calendar Cal, 6 items", s.Folders, len(s.Items))
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var c exporttest.Sink
	err := both.Export(ctx, export.WithProgress(&c, "", func(progress.Event) { cancel() }), export.Options{})
	if !errors.Is(err, context.Canceled) || c.Folder("Cal") != nil {
		t.Errorf("cancelled during the first source: err %v, folders %+v; want context.Canceled and no calendar", err, c.Folders)
	}
}
