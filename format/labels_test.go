package format

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
)

// A message stored once under its folder keeps the other folders that
// show it (its labels) through a write and a read; a label that names no
// mail folder of the archive is refused by the writer.
func TestItemLabels(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testManifest(), &WriterOptions{Compression: None, Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []Folder{{Kind: FolderMail, Path: "INBOX", Role: RoleInbox}, {Kind: FolderMail, Path: "Work"},
		{Kind: FolderMail, Path: "Work/2024"}, {Kind: FolderCalendar, Path: "Cal"}} {
		if err := w.AddFolder(f); err != nil {
			t.Fatal(err)
		}
	}
	it := Item{Kind: KindMessage, Folder: "INBOX", Labels: []string{"Work", "Work/2024"},
		Received: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), SourceID: "1:7"}
	if err := w.AddItem(it, strings.NewReader("Subject: x\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{{"Nowhere"}, {"Cal"}} {
		it2 := it
		it2.SourceID, it2.Labels = "1:8", bad
		if err := w.AddItem(it2, strings.NewReader("x\r\n")); err == nil || !strings.Contains(err.Error(), "label") {
			t.Errorf("AddItem with labels %q: err = %v, want a refusal naming the label", bad, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, entries, err := readAll(buf.Bytes(), &ReaderOptions{Name: "labels"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Item == nil {
			continue
		}
		n++
		if !reflect.DeepEqual(e.Item.Labels, it.Labels) || e.Item.Folder != "INBOX" {
			t.Errorf("read folder %q labels %q, want INBOX %q", e.Item.Folder, e.Item.Labels, it.Labels)
		}
	}
	if n != 1 {
		t.Errorf("read %d items, want 1", n)
	}
}
