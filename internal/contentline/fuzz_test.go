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

// FuzzObject checks that the streaming readers and Rewrite account for
// every byte of an object: logical lines cover the input in order but
// for blank lines, which are no content, and a
// rewrite that gives each line back unchanged reproduces the input.
func FuzzObject(f *testing.F) {
	for _, s := range []string{
		"BEGIN:VCARD\r\nNOTE:a\r\n b\r\n\r\n\tc\nEND:VCARD", "\n\n \r\n\t", "A:1\rB:2\n C", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, changed := Rewrite(in, func(l Folded) ([]byte, bool) {
			return bytes.Join(l, nil), true
		})
		if !bytes.Equal(out, in) || changed != (len(in) > 0) {
			t.Fatalf("Rewrite gives %q (changed %v) for %q", out, changed, in)
		}
		u := NewUnfolder(bytes.NewReader(in), 16)
		var end int64
		for {
			l, err := u.Next()
			if err != nil {
				break
			}
			if l.Start < end || strings.Trim(string(in[end:l.Start]), "\r\n") != "" || l.End <= l.Start || l.End > int64(len(in)) || len(l.Text) > 16 {
				t.Fatalf("line %d spans [%d,%d) after %d, %d bytes kept", l.Number, l.Start, l.End, end, len(l.Text))
			}
			end = l.End
		}
		if strings.Trim(string(in[end:]), "\r\n") != "" {
			t.Fatalf("the lines end at %d of %d", end, len(in))
		}
	})
}
