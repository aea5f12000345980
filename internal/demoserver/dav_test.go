package demoserver

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/pim"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/importer/dav"
)

// TestDAVDemo imports the sample contacts and calendar into the embedded
// server, as the demo does, twice: the second run finds everything there.
func TestDAVDemo(t *testing.T) {
	addr, stop, err := DAV("127.0.0.1:0", map[string]string{"alice": "secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	archive := filepath.Join(t.TempDir(), "alice.tgz")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	w, err := format.NewWriter(f, format.Manifest{User: "alice@example.org"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sample := filepath.Join("..", "..", "testdata", "sample")
	if err := pim.AddContacts(ctx, w, "Contacts", filepath.Join(sample, "alice-contacts.vcf"), export.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := pim.AddCalendar(ctx, w, "Calendar", filepath.Join(sample, "alice-calendar.ics"), export.Options{}); err != nil {
		t.Fatal(err)
	}
	sum := w.Summary()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	want := sum.Counts.Contacts + sum.Counts.Events + sum.Counts.Tasks
	opt := dav.Options{URL: "http://" + addr.String() + "/", User: "alice", Password: "secret"}
	for run := 1; run <= 2; run++ {
		res, err := dav.New(opt).Import(ctx, importer.Request{User: opt.User, Archives: []string{archive}})
		if err != nil {
			t.Fatal(err)
		}
		rep := res.Report
		for _, fl := range rep.Failures {
			t.Errorf("run %d: %s %s: %s", run, fl.Folder, fl.Item, fl.Reason)
		}
		if run == 1 && rep.Imported != want {
			t.Errorf("run 1: imported %d, want %d", rep.Imported, want)
		}
		if run == 2 && (rep.Present != want || rep.Imported != 0) {
			t.Errorf("run 2: present %d imported %d, want %d and 0", rep.Present, rep.Imported, want)
		}
	}
	// A wrong password is refused.
	opt.Password = "wrong"
	if _, err := dav.New(opt).Import(ctx, importer.Request{User: opt.User, Archives: []string{archive}}); err == nil {
		t.Errorf("wrong password: err = %v, want an error", err)
	}
}
