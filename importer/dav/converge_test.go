package dav

import (
	"errors"
	"iter"
	"testing"

	"github.com/mailhaul/mailhaul/format"
)

func stateItems(items ...format.StateItem) iter.Seq2[format.StateItem, error] {
	return func(yield func(format.StateItem, error) bool) {
		for _, it := range items {
			if !yield(it, nil) {
				return
			}
		}
	}
}

// A state record is evidence of deletions only in the folders its export
// listed completely: a folder its summary names an error in is left out,
// and a truncated error list or an error tied to no folder makes it no
// evidence at all. Objects are named as prepare names them, messages
// skipped, and a damaged record fails.
func TestReadStateCoversListedFolders(t *testing.T) {
	sum := &format.Summary{
		Folders: []format.FolderCounts{{Path: "Friends", Kind: format.FolderContacts}, {Path: "Plans", Kind: format.FolderCalendar},
			{Path: "Broken", Kind: format.FolderContacts}, {Path: "INBOX", Kind: format.FolderMail}},
		Errors: []format.Problem{{Folder: "Broken", Item: "x", Reason: "unreadable"}},
	}
	sha := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	st, err := readState("d.tgz", sum, stateItems(
		format.StateItem{Kind: format.KindContact, Folder: "Friends", SourceID: "1", UID: "c1"},
		format.StateItem{Kind: format.KindEvent, Folder: "Plans", SourceID: "2", SHA256: sha},
		format.StateItem{Kind: format.KindMessage, Folder: "INBOX", SourceID: "3"}))
	if err != nil {
		t.Fatal(err)
	}
	if !st.whole || len(st.folders) != 3 || !st.folders[collectionKey(format.KindContact, "Friends")] ||
		!st.folders[collectionKey(format.KindEvent, "Plans")] || !st.folders[collectionKey(format.KindTask, "Plans")] ||
		st.folders[collectionKey(format.KindContact, "Broken")] {
		t.Errorf("folders covered: %d, whole %v", len(st.folders), st.whole)
	}
	if len(st.objects) != 2 || !st.objects[objectAt{collectionKey(format.KindContact, "Friends"), "c1.vcf"}] ||
		!st.objects[objectAt{collectionKey(format.KindEvent, "Plans"), "mailhaul-" + sha[:32] + ".ics"}] {
		t.Errorf("objects: %v", st.objects)
	}

	for name, s := range map[string]*format.Summary{
		"truncated":    {Folders: sum.Folders, Truncated: 3},
		"no folder":    {Folders: sum.Folders, Errors: []format.Problem{{Item: "account", Reason: "x"}}},
		"summary-less": nil,
	} {
		if st, err := readState("d.tgz", s, stateItems()); err != nil || st.whole {
			t.Errorf("%s: whole %v, %v; want no evidence of deletions", name, st.whole, err)
		}
	}
	bad := func(yield func(format.StateItem, error) bool) { yield(format.StateItem{}, errors.New("bad line")) }
	if _, err := readState("d.tgz", sum, bad); err == nil {
		t.Error("a damaged state record was read as whole")
	}
}

// A DAV source's state lines come from its listing: no UID or digest,
// only the sourceId (and ETag). They name the objects by sourceId, for
// the calendar's events and tasks alike, and mark their collections as
// ones where an object journalled without its sourceId cannot be found.
func TestReadStateListedBySourceID(t *testing.T) {
	sum := &format.Summary{Folders: []format.FolderCounts{{Path: "book", Kind: format.FolderContacts}, {Path: "cal", Kind: format.FolderCalendar}}}
	st, err := readState("d.tgz", sum, stateItems(
		format.StateItem{Kind: format.KindContact, Folder: "book", SourceID: "a b.vcf", ETag: `"1"`},
		format.StateItem{Kind: format.KindEvent, Folder: "cal", SourceID: "t.ics", ETag: `"2"`}))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.objects) != 0 {
		t.Errorf("objects %v; want none named without a UID", st.objects)
	}
	want := []sourceAt{{collectionKey(format.KindContact, "book"), "book", "a b.vcf"},
		{collectionKey(format.KindEvent, "cal"), "cal", "t.ics"}, {collectionKey(format.KindTask, "cal"), "cal", "t.ics"}}
	for _, w := range want {
		if !st.sources[w] || !st.blind[w.col] {
			t.Errorf("%+v: source %v blind %v; want both", w, st.sources[w], st.blind[w.col])
		}
	}
	if len(st.sources) != len(want) || len(st.blind) != len(want) {
		t.Errorf("sources %d, blind %d; want %d", len(st.sources), len(st.blind), len(want))
	}
}
