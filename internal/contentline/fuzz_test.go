package contentline

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzContentLine checks that Split loses no byte, that parameter offsets
// point at their values, and that unfolding a folded line gives it back.
func FuzzContentLine(f *testing.F) {
	for _, s := range []string{
		"item1.TEL;TYPE=HOME:+1", `ATTENDEE;CN="a:b";X=1:mailto:x`, "NOTE:" + strings.Repeat("é€𝄞", 40),
		"X;A=\"open", ";;:", "\xff\xfe:\x80",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		for _, p := range []Property{Split(line), SplitV21(line)} {
			if got := rejoin(p); got != string(line) {
				t.Fatalf("Split(%q) rejoins as %q", line, got)
			}
			for _, pr := range p.ParamList() {
				if !bytes.Equal(p.Params[pr.At:pr.At+len(pr.Value)], pr.Value) {
					t.Fatalf("%q: parameter %q At %d is off", line, pr.Name, pr.At)
				}
				pr.Unquoted()
			}
			p.Param("TZID")
		}
		if bytes.ContainsAny(line, "\r\n") {
			return
		}
		folded := Fold(string(line), "\r\n")
		for _, l := range strings.SplitAfter(folded, "\r\n") {
			if len(strings.TrimSuffix(l, "\r\n")) > maxOctets {
				t.Fatalf("a folded line has %d octets", len(l)-2)
			}
		}
		var got string
		if u := Unfold([]byte(folded)); len(u) == 1 {
			got = u[0]
		}
		if len(line) > 0 && got != string(line) {
			t.Fatalf("Unfold(Fold(%q)) = %q", line, got)
		}
	})
}
