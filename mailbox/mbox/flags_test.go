package mbox

import (
	"runtime"
	"strings"
	"testing"
)

func TestParseHeaderFields(t *testing.T) {
	hdr := "Subject: a\n  folded\nbroken line\nMessage-ID:\n <x@y>\nReceived: one; Mon, 1 Jan 2001 00:00:00 +0000\nReceived: two; Tue, 2 Jan 2001 00:00:00 +0000\n\nX-After-Body: no\n"
	h := ParseHeader([]byte(hdr))
	if h.Subject != "a folded" || h.MessageID != "x@y" || h.LastReceived != "two; Tue, 2 Jan 2001 00:00:00 +0000" {
		t.Errorf("got subject %q id %q received %q", h.Subject, h.MessageID, h.LastReceived)
	}
	if _, ok := field([]byte(hdr), "X-After-Body"); ok {
		t.Error("found a field after the blank line ending the header")
	}
}

// TestFoldedFieldCostIsLinear guards against copying a folded value once
// per continuation line: a hostile header of MaxHeader bytes of folding
// would then cost gigabytes.
func TestFoldedFieldCostIsLinear(t *testing.T) {
	hdr := []byte("X-Keywords: a\n" + strings.Repeat(" b\n", MaxHeader/3) + "\n")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	h := ParseHeader(hdr)
	runtime.ReadMemStats(&after)
	if len(h.Keywords) != MaxHeader/3+1 {
		t.Fatalf("got %d keywords, want %d", len(h.Keywords), MaxHeader/3+1)
	}
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(64*len(hdr)); got > limit {
		t.Errorf("parsing a %d-byte folded header allocated %d bytes, want at most %d", len(hdr), got, limit)
	}
}
