package export_test

import (
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/format"
)

func TestWithProgressCountsWhatPasses(t *testing.T) {
	rec := &exporttest.Sink{}
	var got []export.Progress
	sink := export.WithProgress(rec, func(p export.Progress) { got = append(got, p) })
	sink.AddFolder(format.Folder{Kind: format.FolderMail, Path: "INBOX"})
	for _, body := range []string{"12345", "1234567890"} {
		if err := sink.AddItem(format.Item{Kind: format.KindMessage, Folder: "INBOX", SourceID: body}, strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 2 || got[1].Items != 2 || got[1].Bytes != 15 || got[1].Folder != "INBOX" {
		t.Errorf("progress = %+v; want two reports ending at 2 items, 15 bytes in INBOX", got)
	}
	if len(rec.Items) != 2 || string(rec.Items[1].Body) != "1234567890" {
		t.Errorf("the wrapped sink must still receive every item intact, got %d items", len(rec.Items))
	}
}
