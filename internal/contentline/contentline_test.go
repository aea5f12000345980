package contentline

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplitKeepsEveryByte(t *testing.T) {
	for _, tc := range []struct {
		line, group, name, params, value string
		hasValue                         bool
	}{
		{"item1.TEL;TYPE=HOME:+1 555", "item1", "TEL", ";TYPE=HOME", "+1 555", true},
		{`ATTENDEE;CN="Doe: John";ROLE=CHAIR:mailto:j@example.org`, "", "ATTENDEE", `;CN="Doe: John";ROLE=CHAIR`, "mailto:j@example.org", true},
		{"summary:a:b", "", "summary", "", "a:b", true},
		{"BROKEN;X=1", "", "BROKEN", ";X=1", "", false},
		{"NOCOLON", "", "NOCOLON", "", "", false},
		{" UID :x", "", "UID", "", "x", true},
	} {
		p := Split([]byte(tc.line))
		if string(p.Group) != tc.group || string(p.Name) != tc.name || string(p.Params) != tc.params ||
			string(p.Value) != tc.value || p.HasValue != tc.hasValue {
			t.Errorf("Split(%q) = group %q name %q params %q value %q (%v)", tc.line, p.Group, p.Name, p.Params, p.Value, p.HasValue)
		}
		if got := rejoin(p); got != tc.line {
			t.Errorf("Split(%q) rejoins as %q", tc.line, got)
		}
	}
}

func rejoin(p Property) string {
	s := string(p.Head)
	if p.HasValue {
		s += ":" + string(p.Value)
	}
	return s
}

func TestSplitV21FirstColonEndsParams(t *testing.T) {
	p := SplitV21([]byte(`NOTE;X-A="a:b";HOME:v`))
	if string(p.Params) != `;X-A="a` || string(p.Value) != `b";HOME:v` {
		t.Fatalf("SplitV21 = params %q value %q", p.Params, p.Value)
	}
	p = SplitV21([]byte(`TEL;A="x;y";HOME:1`))
	var got []string
	for _, pr := range p.ParamList() {
		got = append(got, string(pr.Name)+"="+string(pr.Value))
	}
	if strings.Join(got, "|") != `A="x|=y"|=HOME` {
		t.Fatalf("2.1 params = %q", got)
	}
}

func TestParams(t *testing.T) {
	line := []byte(`DTSTART;;tzid="Europe/Paris;x" ;HOME;MEMBER="a","b";X=1:20240101T100000`)
	p := Split(line)
	list := p.ParamList()
	if len(list) != 4 {
		t.Fatalf("ParamList = %d params: %+v", len(list), list)
	}
	if v, ok := p.Param("TZID"); !ok || string(v) != "Europe/Paris;x" {
		t.Errorf("Param(TZID) = %q, %v", v, ok)
	}
	if v, ok := p.Param("member"); !ok || string(v) != "a" {
		t.Errorf("Param(member) = %q, %v", v, ok)
	}
	if _, ok := p.Param("HOME"); ok {
		t.Errorf("a bare parameter has no name")
	}
	if list[1].Name != nil || string(list[1].Value) != "HOME" {
		t.Errorf("bare parameter = %+v", list[1])
	}
	for _, pr := range list {
		if !bytes.Equal(p.Params[pr.At:pr.At+len(pr.Value)], pr.Value) {
			t.Errorf("param %q: At %d does not point at its value", pr.Name, pr.At)
		}
	}
	if _, ok := Split([]byte(`X;A="open:v`)).Param("A"); ok {
		// An unclosed quote swallows the rest: no value colon at all.
		if v, _ := Split([]byte(`X;A="open:v`)).Param("A"); v != nil {
			t.Errorf("an unclosed quote gives %q", v)
		}
	}
}

func TestFold(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 octets, 2 each
	got := Fold("NOTE:"+long, "\r\n")
	for i, l := range strings.Split(strings.TrimSuffix(got, "\r\n"), "\r\n") {
		if len(l) > 75 {
			t.Errorf("line %d has %d octets", i, len(l))
		}
		if !utf8.ValidString(strings.TrimPrefix(l, " ")) {
			t.Errorf("line %d splits a UTF-8 sequence: %q", i, l)
		}
		if i > 0 && l[0] != ' ' {
			t.Errorf("continuation %d does not start with a space", i)
		}
	}
	if u := Unfold([]byte(got)); len(u) != 1 || u[0] != "NOTE:"+long {
		t.Errorf("Unfold(Fold(x)) = %q", u)
	}
	if Fold("A:b", "\n") != "A:b\n" {
		t.Errorf("a short line is not left alone")
	}
}

func TestUnfolderRanges(t *testing.T) {
	in := "\xef\xbb\xbfBEGIN:VCARD\r\nNOTE:a\r\n b\r\n\r\n\tc\nFN:x\nEND:VCARD"
	var got []string
	for l, err := range LogicalLines(context.Background(), strings.NewReader(in), 1<<10) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(l.Text)+"|"+in[l.Start:l.End]+"|"+l.EOL+l.LastEOL)
	}
	want := []string{
		"\xef\xbb\xbfBEGIN:VCARD|\xef\xbb\xbfBEGIN:VCARD\r\n|\r\n\r\n",
		"NOTE:abc|NOTE:a\r\n b\r\n\r\n\tc\n|\r\n\n",
		"FN:x|FN:x\n|\n\n",
		"END:VCARD|END:VCARD|",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

func TestReaderKeepLimit(t *testing.T) {
	in := strings.Repeat("x", 200<<10) + "\r\nB\n"
	r := NewReader(strings.NewReader(in), 10)
	l, err := r.Next()
	if err != nil || !l.Truncated || len(l.Text) != 10 || l.End != int64(200<<10+2) || l.EOL != "\r\n" {
		t.Fatalf("long line: %v truncated %v kept %d end %d eol %q", err, l.Truncated, len(l.Text), l.End, l.EOL)
	}
	l, err = r.Next()
	if err != nil || string(l.Text) != "B" || l.Number != 2 {
		t.Fatalf("second line: %v %q %d", err, l.Text, l.Number)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the last line: %v", err)
	}
}

func TestRewriteKeepsOtherBytes(t *testing.T) {
	in := []byte("A:1\r\nB;X=1:2\r\n  more\r\n\r\nC:3")
	out, changed := Rewrite(in, func(f Folded) ([]byte, bool) {
		p := Split(f.Unfold())
		if !p.Is("b") {
			return nil, false
		}
		return f.Refold("B:" + string(p.Value)), true
	})
	if !changed || string(out) != "A:1\r\nB:2 more\r\n\r\nC:3" {
		t.Fatalf("Rewrite = %q, %v", out, changed)
	}
	// A replaced last line without a terminator gets none, and a stray CR
	// before the end is kept.
	out, _ = Rewrite([]byte("A:1\nB:2\r"), func(f Folded) ([]byte, bool) {
		if !Split(f.Unfold()).Is("B") {
			return nil, false
		}
		return f.Refold(string(f.Unfold()) + "x"), true
	})
	if string(out) != "A:1\nB:2\rx" {
		t.Fatalf("last line rewritten as %q", out)
	}
	same, changed := Rewrite(in, func(Folded) ([]byte, bool) { return nil, false })
	if changed || &same[0] != &in[0] {
		t.Fatalf("an unchanged input is not returned as it is")
	}
}

func TestSplitValue(t *testing.T) {
	got := SplitValue(`Doe\;Jr;John;;`, ';')
	if strings.Join(got, "|") != `Doe\;Jr|John||` {
		t.Fatalf("SplitValue = %q", got)
	}
}

func TestQuoteParamAndValidName(t *testing.T) {
	if QuoteParam("a,b") != `"a,b"` || QuoteParam(`x"y`) != `x"y` || QuoteParam(`"a:b"`) != `"a:b"` {
		t.Errorf("QuoteParam")
	}
	if !ValidName("X-ABC_1") || ValidName("") || ValidName("A B") {
		t.Errorf("ValidName")
	}
}

func TestLinesStopsWhenCancelled(t *testing.T) {
	in := strings.Repeat("A:1\r\n", 5000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	var last error
	for l, err := range Lines(ctx, strings.NewReader(in), 100) {
		if err != nil {
			last = err
			break
		}
		n++
		if l.Number == 10 {
			cancel()
		}
	}
	if !errors.Is(last, context.Canceled) || n != 1023 {
		t.Fatalf("after cancelling: %d lines, error %v; want 1023 lines, then context.Canceled", n, last)
	}
	n = 0
	for l, err := range LogicalLines(context.Background(), strings.NewReader("A:1\n 2\nB:3"), 100) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 1 && string(l.Text) != "A:12" {
			t.Fatalf("first logical line %q", l.Text)
		}
	}
	if n != 2 {
		t.Fatalf("%d logical lines, want 2", n)
	}
}
