package mbox

import (
	"slices"
	"testing"

	"github.com/mailhaul/mailhaul/mailbox/mbox"
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
		h := mbox.ParseHeader([]byte(tt.header + "\n"))
		if got := itemFlags(mbox.HeaderFlags(&h)).list; !slices.Equal(got, tt.want) {
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
