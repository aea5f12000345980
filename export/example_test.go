package export_test

import (
	"context"
	"fmt"
	"os"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/pim"
)

// Run exports one user's sources into one archive and writes its report
// beside it; a Composite puts several sources (here an address book and a
// calendar file) into the one archive.
func ExampleRun() {
	out, err := os.MkdirTemp("", "export-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(out)
	rep, err := export.Run(context.Background(), export.Job{
		User: "alice@example.org",
		Kind: "pim",
		Path: "../testdata/sample/alice-contacts.vcf",
		Source: export.Composite{
			pim.Contacts{Path: "../testdata/sample/alice-contacts.vcf"},
			pim.Calendar{Path: "../testdata/sample/alice-calendar.ics"},
		},
		Out: out,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rep.Status, rep.Counts.Contacts, "contacts,", rep.Counts.Events, "events,", rep.Counts.Tasks, "task")
	// Output: ok 3 contacts, 2 events, 1 task
}
