package zimbra

import (
	"strconv"
	"testing"
)

// A million dense ids cost a bit each (a map held about 100 bytes per
// id, times --concurrency); odd ids still count; files are told apart.
func TestSeenItemsFlat(t *testing.T) {
	var s seenItems
	s.nextFile()
	for id := range 1_000_000 {
		s.mark("zimbra:" + strconv.Itoa(id))
	}
	s.mark("zimbra:-5")
	s.mark("zimbra:4000000000")
	s.mark("zimbra0:/Inbox\x00abc")
	if got := cap(s.current.words) * 8; got > 300<<10 {
		t.Errorf("1M ids take %d bytes, want about 125 KB", got)
	}
	if s.inEarlierFile("zimbra:42") || !s.has("zimbra:42") || !s.has("zimbra:-5") || !s.has("zimbra:4000000000") {
		t.Error("the file being read")
	}
	s.nextFile()
	if !s.inEarlierFile("zimbra:999999") || !s.inEarlierFile("zimbra:4000000000") || !s.inEarlierFile("zimbra0:/Inbox\x00abc") ||
		s.inEarlierFile("zimbra:1000000") || s.has("zimbra:1000001") {
		t.Error("the files read before")
	}
	s.forget("zimbra:7")
	s.forget("zimbra:4000000000")
	if s.has("zimbra:7") || s.inEarlierFile("zimbra:4000000000") || !s.has("zimbra:8") {
		t.Error("forget")
	}
}
