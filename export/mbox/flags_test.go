package mbox

import (
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestHeaderFlags(t *testing.T) {
	tests := []struct {
		header string
		want   []string
	}{
		{"Status: RO\n", []string{`\Seen`}},
		{"Status: O\n", nil},
		{"X-Status: AFTD\n", []string{`\Answered`, `\Flagged`, `\Draft`, `\Deleted`}},
		{"X-Keywords: $NotJunk,$Forwarded\n", []string{"$NotJunk", "$Forwarded"}},
		{"X-Keywords: a b,c\n", []string{"a", "b", "c"}},
		{"X-Mozilla-Status: 0001\n", []string{`\Seen`}},
		{"X-Mozilla-Status: 0002\n", []string{`\Answered`}},
		{"X-Mozilla-Status: 0005\n", []string{`\Seen`, `\Flagged`}},
		{"X-Mozilla-Status: 1000\n", []string{"$Forwarded"}},
		{"X-Mozilla-Status: zz\n", nil},
		{"X-Mozilla-Keys: $label4                 \n", []string{"$label4"}},
		{"X-Mozilla-Keys: \n", nil},
		{"Status: R\nX-Mozilla-Status: 0001\nX-Keywords: $label1\nX-Mozilla-Keys: $Label1\n", []string{`\Seen`, "$label1"}},
		{"X-Keywords: a(b) c]d \\e\n", []string{"a_b_", "c_d", "_e"}},
	}
	for _, tt := range tests {
		h := parseHeader([]byte(tt.header + "\n"))
		if got := headerFlags(&h).list; !slices.Equal(got, tt.want) {
			t.Errorf("%q: got %q, want %q", tt.header, got, tt.want)
		}
	}
}

func TestKeywordAtomNotes(t *testing.T) {
	var s flagSet
	s.addKeyword("ok")
	s.addKeyword(`"quoted"`)
	if !slices.Equal(s.list, []string{"ok", "_quoted_"}) || len(s.notes) != 1 {
		t.Errorf("got %q, notes %q; want [ok _quoted_] and one note", s.list, s.notes)
	}
}

func TestParseHeaderFields(t *testing.T) {
	hdr := "Subject: a\n  folded\nbroken line\nMessage-ID:\n <x@y>\nReceived: one; Mon, 1 Jan 2001 00:00:00 +0000\nReceived: two; Tue, 2 Jan 2001 00:00:00 +0000\n\nX-After-Body: no\n"
	h := parseHeader([]byte(hdr))
	if h.subject != "a folded" || h.messageID != "x@y" || h.lastReceived != "two; Tue, 2 Jan 2001 00:00:00 +0000" {
		t.Errorf("got subject %q id %q received %q", h.subject, h.messageID, h.lastReceived)
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
	h := parseHeader(hdr)
	runtime.ReadMemStats(&after)
	if len(h.keywords) != MaxHeader/3+1 {
		t.Fatalf("got %d keywords, want %d", len(h.keywords), MaxHeader/3+1)
	}
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(64*len(hdr)); got > limit {
		t.Errorf("parsing a %d-byte folded header allocated %d bytes, want at most %d", len(hdr), got, limit)
	}
}
