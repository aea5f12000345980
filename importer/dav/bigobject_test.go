package dav

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/retry"
)

// TestOversizedObjectReported checks that an object over maxObject is
// reported as a failure, named, and never read into memory or sent.
func TestOversizedObjectReported(t *testing.T) {
	defer func(old int64) { maxObject = old }(maxObject)
	maxObject = 1 << 10
	path := filepath.Join(t.TempDir(), "u.tgz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := format.NewWriter(f, format.Manifest{User: "u", Source: format.Source{Kind: "test"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.AddFolder(format.Folder{Kind: format.FolderContacts, Path: "Contacts"}); err != nil {
		t.Fatal(err)
	}
	card := "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:big\r\nFN:Big\r\nNOTE:" + strings.Repeat("x", 4<<10) + "\r\nEND:VCARD\r\n"
	if err := w.AddItem(format.Item{Kind: format.KindContact, Folder: "Contacts", UID: "big", SourceID: "big.vcf"},
		bytes.NewReader([]byte(card))); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// Nothing listens there: the object must be settled before any request.
	rep, err := importArchives(context.Background(), []string{path}, testRun{Options: Options{CardDAV: "http://127.0.0.1:1/book/", User: "u",
		Retry: retry.Loop{Attempts: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 1 || len(rep.Failures) != 1 {
		t.Fatalf("failed %d (%v), want the one oversized card", rep.Failed, rep.Failures)
	}
	if got := rep.Failures[0]; got.Item != "contact big" || !strings.Contains(got.Reason, "larger than") {
		t.Errorf("failure = %+v, want contact big, larger than the limit", got)
	}
}
