package vcardconv

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestConvert(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // lines that must appear in the output
		changed  bool
	}{
		{"bare types become TYPE=", "BEGIN:VCARD\r\nVERSION:2.1\r\nN:Doe;John\r\nFN:John Doe\r\nTEL;HOME;VOICE:123\r\nEND:VCARD\r\n",
			[]string{"VERSION:3.0", "TEL;TYPE=HOME;TYPE=VOICE:123"}, true},
		{"quoted-printable with charset is decoded", "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:M=FCller;J=\r\n=F6rg\r\nEND:VCARD\r\n",
			[]string{"N:Müller;Jörg", "FN:Jörg Müller"}, true},
		{"line breaks and commas are escaped", "BEGIN:VCARD\r\nVERSION:2.1\r\nFN:A\r\nNOTE;ENCODING=QUOTED-PRINTABLE:one, two=0D=0Athree\r\nEND:VCARD\r\n",
			[]string{`NOTE:one\, two\nthree`, "N:;;;;"}, true},
		{"base64 becomes b", "BEGIN:VCARD\r\nVERSION:2.1\r\nFN:A\r\nPHOTO;ENCODING=BASE64;JPEG:\r\n AAAA\r\n BBBB\r\n\r\nEND:VCARD\r\n",
			[]string{"PHOTO;TYPE=JPEG;ENCODING=b:AAAABBBB"}, true},
		{"GEO separator", "BEGIN:VCARD\r\nVERSION:2.1\r\nFN:A\r\nGEO:1.5,2.5\r\nEND:VCARD\r\n", []string{"GEO:1.5;2.5"}, true},
		{"agent card nests", "BEGIN:VCARD\r\nVERSION:2.1\r\nFN:A\r\nAGENT:\r\nBEGIN:VCARD\r\nVERSION:2.1\r\nFN:B\r\nEND:VCARD\r\nTEL:1\r\nEND:VCARD\r\n",
			[]string{`AGENT:BEGIN:VCARD\nVERSION:3.0\nN:\;\;\;\;\nFN:B\nEND:VCARD`, "TEL:1"}, true},
		{"3.0 is left alone", "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nEND:VCARD\r\n", []string{"VERSION:3.0"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, changed, _, err := Convert([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if changed != tc.changed {
				t.Errorf("changed = %v, want %v", changed, tc.changed)
			}
			got := strings.ReplaceAll(string(out), "\r\n ", "")
			for _, w := range tc.want {
				if !strings.Contains(got, w+"\r\n") {
					t.Errorf("output lacks %q:\n%s", w, got)
				}
			}
		})
	}
}

// TestConvertBuildsFN: a 2.1 card without FN, or with an empty one (as
// phones write), gets one built from N, else ORG, EMAIL or TEL, since
// vCard 3.0 requires it and servers refuse cards without; a note says so.
func TestConvertBuildsFN(t *testing.T) {
	tests := []struct{ in, fn, from string }{
		{"BEGIN:VCARD\r\nVERSION:2.1\r\nFN:\r\nN:Doe;John;;Dr.\r\nEND:VCARD\r\n", "FN:Dr. John Doe", "from N"},
		{"BEGIN:VCARD\r\nVERSION:2.1\r\nN:;;;;\r\nORG:Acme;Sales\r\nEND:VCARD\r\n", "FN:Acme", "from ORG"},
		{"BEGIN:VCARD\r\nVERSION:2.1\r\nEMAIL;INTERNET:a@example.org\r\nEND:VCARD\r\n", "FN:a@example.org", "from EMAIL"},
		{"BEGIN:VCARD\r\nVERSION:2.1\r\nTEL;CELL:+1 555 0100\r\nEND:VCARD\r\n", "FN:+1 555 0100", "from TEL"},
	}
	for _, tc := range tests {
		out, changed, notes, err := Convert([]byte(tc.in))
		if err != nil || !changed {
			t.Fatalf("%q: changed=%v err=%v", tc.in, changed, err)
		}
		if !strings.Contains(string(out), "\r\n"+tc.fn+"\r\n") || strings.Contains(string(out), "\r\nFN:\r\n") {
			t.Errorf("%q: want %s once, got\n%s", tc.in, tc.fn, out)
		}
		if len(notes) != 1 || !strings.Contains(notes[0], tc.from) {
			t.Errorf("%q: notes %q, want one saying FN was built %s", tc.in, notes, tc.from)
		}
	}
	// A card with an FN gets no note.
	if _, _, notes, _ := Convert([]byte("BEGIN:VCARD\r\nVERSION:2.1\r\nFN:Ann\r\nEND:VCARD\r\n")); len(notes) != 0 {
		t.Errorf("card with FN: notes %q", notes)
	}
}

func TestConvertRefusesLoss(t *testing.T) {
	in := "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=X-NO-SUCH:abc\r\nEND:VCARD\r\n"
	out, changed, _, err := Convert([]byte(in))
	if err == nil || changed || string(out) != in {
		t.Errorf("unknown charset: got changed=%v err=%v; want the card back unchanged with an error", changed, err)
	}
}

func FuzzConvert(f *testing.F) {
	f.Add([]byte("BEGIN:VCARD\r\nVERSION:2.1\r\nN;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:=C3=A9;x=\r\ny\r\nTEL;HOME:1\r\nEND:VCARD\r\n"))
	f.Add([]byte("BEGIN:VCARD\nVERSION:2.1\nAGENT:BEGIN:VCARD\nVERSION:2.1\nEND:VCARD\nEND:VCARD\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, changed, _, err := Convert(in)
		if err != nil || !changed {
			if !bytes.Equal(out, in) {
				t.Fatalf("unchanged output differs from input")
			}
			return
		}
		if !utf8.Valid(out) {
			t.Fatalf("output is not UTF-8: %q", out)
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(out), "\r\n"), "\r\n") {
			if len(l) > 75 {
				t.Fatalf("line longer than 75 octets: %q", l)
			}
		}
		if !bytes.Contains(out, []byte("\r\nVERSION:3.0\r\n")) {
			t.Fatalf("no VERSION:3.0 in %q", out)
		}
		// Converting the output again changes nothing: it is 3.0.
		if again, ch, _, _ := Convert(out); ch || !bytes.Equal(again, out) {
			t.Fatalf("second conversion changed the card")
		}
	})
}
