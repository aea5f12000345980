package export_test

import (
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/progress"
)

func TestWithProgressCountsWhatPasses(t *testing.T) {
	rec := &exporttest.Sink{}
	var got []progress.Event
	sink := export.WithProgress(rec, "alice", func(e progress.Event) { got = append(got, e) })
	sink.AddFolder(format.Folder{Kind: format.FolderMail, Path: "INBOX"})
	for _, body := range []string{"12345", "1234567890"} {
		if err := sink.AddItem(format.Item{Kind: format.KindMessage, Folder: "INBOX", SourceID: body}, strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 2 || got[1].Items != 2 || got[1].Bytes != 15 || got[1].Folder != "INBOX" ||
		got[1].Stage != "export" || got[1].User != "alice" || got[1].ItemsTotal != 0 {
		t.Errorf("progress = %+v; want two export events of alice ending at 2 items, 15 bytes in INBOX, total unknown", got)
	}
	if len(rec.Items) != 2 || string(rec.Items[1].Body) != "1234567890" {
		t.Errorf("the wrapped sink must still receive every item intact, got %d items", len(rec.Items))
	}
}
