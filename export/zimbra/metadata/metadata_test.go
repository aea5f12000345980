package metadata

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// latin1Mangled returns s as it reads after its UTF-8 bytes were taken for
// ISO-8859-1 characters (Zimbra bug 87718).
func latin1Mangled(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteRune(rune(s[i]))
	}
	return b.String()
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Map
	}{
		{"empty string is an empty map", "", Map{}},
		{"empty map", "de", Map{}},
		{"ascii", "d1:ai1e2:vti5e4:mseqi628e1:vi10ee", Map{"a": int64(1), "vt": int64(5), "mseq": int64(628), "v": int64(10)}},
		// "Josée" is 5 UTF-16 units but 6 bytes: a byte-counting reader fails here.
		{"length in UTF-16 units", "d3:fldd9:firstName5:Josée8:lastName5:Ñúñez6:suffix2:二世ee",
			Map{"fld": Map{"firstName": "Josée", "lastName": "Ñúñez", "suffix": "二世"}}},
		{"astral character counts two units", "d4:name5:a😀bc4:nexti-3ee", Map{"name": "a😀bc", "next": int64(-3)}},
		{"lists and nesting", "d3:invld1:u3:abc1:sl1:xi2eeeee", Map{"inv": List{Map{"u": "abc", "s": List{"x", int64(2)}}}}},
		{"integer key as Java's toString", "di7e1:xe", Map{"7": "x"}},
		{"repeated key keeps the last", "d1:a1:x1:a1:ye", Map{"a": "y"}},
		{"java parseLong signs and zeros", "d1:ai+05e1:b01:ce", Map{"a": int64(5), "b": "c"}},
		{"empty string value", "d1:a0:e", Map{"a": ""}},
		{"legacy form", "firstName=5:Josée;lastName=3:Doe;", Map{"firstName": "Josée", "lastName": "Doe"}},
		{"legacy nested", "a=12:x=1:y;z=1:w;;b=6:c=d ef;", Map{"a": Map{"x": "y", "z": "w"}, "b": "c=d ef"}},
		{"legacy astral", "n=3:😀x;", Map{"n": "😀x"}},
		// Mangled UTF-8 whose lengths land on a non-digit: Java gets a
		// NumberFormatException and retries with the bytes undone.
		// Java splits the pair, fails on the number, and the fix-up turns
		// the astral character into '?'.
		{"length splits a surrogate pair", "d1:a1:😀e", Map{"a": "?"}},
		{"bug 87718 fix-up", latin1Mangled("d9:firstName4:Jösé8:lastName3:Doee"), Map{"firstName": "Jösé", "lastName": "Doe"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.in)
			if err != nil {
				t.Fatalf("Decode(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Decode(%q) = %#v, want %#v", tc.in, got, tc.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		offset   int
		msg      string
	}{
		{"byte-counted length", "d9:firstName6:Josée1:vi10ee", 21, "expected a string length"},
		{"top level is a list", "l1:ae", 0, "expected 'd'"},
		{"truncated", "d3:abci1e", 9, "expected a value"},
		{"missing value", "d3:abce", 6, "expected a value for key \"abc\""},
		{"claimed length beyond input", "d1:a999999999999:x", 4, "runs past the end"},
		{"negative length", "d1:a-1:xe", 4, "negative"},
		{"bad integer", "d1:ai1x2ee", 5, "expected an integer"},
		{"unterminated integer", "d1:ai12", 5, "ended by 'e'"},
		{"trailing bytes", "d1:a1:bexyz", 8, "expected the end"},
		{"map key", "dde1:ae", 1, "string key"},
		{"length splits a surrogate pair", "d1:a1:😀1:be", 6, "outside the BMP"},
		{"too deep", "d1:a" + strings.Repeat("l", MaxDepth+1) + strings.Repeat("e", MaxDepth+1) + "e", 4 + MaxDepth - 1, "nested deeper"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(tc.in)
			if err == nil {
				t.Fatalf("Decode(%q) = %v, want an error", tc.in, m)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Decode(%q) error %v is not a *SyntaxError", tc.in, err)
			}
			if se.Offset != tc.offset || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Decode(%q) error %q (offset %d), want offset %d and %q", tc.in, err, se.Offset, tc.offset, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), "metadata: at byte ") {
				t.Fatalf("error %q does not name the package and offset", err)
			}
		})
	}
}

// Zimbra returns an empty map for text that is neither form; a converter
// would then see a contact without fields. Decode refuses it.
func TestLegacyMustParseWhole(t *testing.T) {
	for _, in := range []string{"hello", "a=1:x;trailing", "a=2:x;", "a=x:1;"} {
		if m, err := Decode(in); err == nil {
			t.Errorf("Decode(%q) = %v, want an error", in, m)
		} else if !strings.Contains(err.Error(), "legacy") {
			t.Errorf("Decode(%q) error %q does not mention the legacy form", in, err)
		}
	}
}

func TestEncode(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Map
		want string
	}{
		{"sorted keys, nil skipped", Map{"vt": 5, "a": int64(1), "x": nil, "v": 10}, "d1:ai1e1:vi10e2:vti5ee"},
		{"UTF-16 lengths", Map{"fld": Map{"firstName": "Josée", "n": "a😀"}}, "d3:fldd9:firstName5:Josée1:n3:a😀ee"},
		// Java orders by UTF-16 unit: U+1F600 (D83D DE00) before U+FFFD,
		// though its UTF-8 bytes sort after.
		{"Java key order", Map{"\uFFFD": 1, "😀": 2, "z": 3}, "d1:zi3e2:😀i2e1:\uFFFDi1ee"},
		{"bool and other types as text", Map{"b": true, "f": 1.5, "l": []string{"x", "yz"}, "m": map[string]any{"k": []any{1, nil, "v"}}},
			"d1:b4:true1:f3:1.51:ll1:x2:yze1:md1:kli1e1:veee"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Encode(tc.in); got != tc.want {
				t.Fatalf("Encode = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRoundTripNonASCII(t *testing.T) {
	m := Map{
		"fld": Map{"firstName": "Zoë", "lastName": "Þórsdóttir", "company": "株式会社", "notes": "line1\nline2 🎉 𝔘𝔫𝔦"},
		"att": List{Map{"field": "image", "part": "1", "size": int64(12)}},
		"v":   int64(10),
	}
	got, err := Decode(Encode(m))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip = %#v, want %#v", got, m)
	}
}

func TestGetters(t *testing.T) {
	m, err := Decode("d1:ai42e1:b2:171:c4:TRUE1:d1:01:el1:xd1:ki1eee1:fd1:g1:hee")
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := m.Str("a"); !ok || s != "42" {
		t.Errorf("Str(a) = %q %v", s, ok)
	}
	if n, ok := m.Int("b"); !ok || n != 17 {
		t.Errorf("Int(b) = %d %v", n, ok)
	}
	if b, ok := m.Bool("c"); !ok || !b {
		t.Errorf("Bool(c) = %v %v", b, ok)
	}
	if b, ok := m.Bool("d"); !ok || b {
		t.Errorf("Bool(d) = %v %v", b, ok)
	}
	if _, ok := m.Int("e"); ok {
		t.Error("Int of a list succeeded")
	}
	if _, ok := m.Str("f"); ok {
		t.Error("Str of a map succeeded")
	}
	l, ok := m.List("e")
	if !ok || len(l) != 2 {
		t.Fatalf("List(e) = %v %v", l, ok)
	}
	if s, ok := l.Str(0); !ok || s != "x" {
		t.Errorf("l.Str(0) = %q %v", s, ok)
	}
	if _, ok := l.Str(5); ok {
		t.Error("l.Str out of range succeeded")
	}
	if mm, ok := l.Map(1); !ok || mm["k"] != int64(1) {
		t.Errorf("l.Map(1) = %v %v", mm, ok)
	}
	if maps, all := l.Maps(); all || len(maps) != 1 {
		t.Errorf("Maps = %v %v", maps, all)
	}
	if f, ok := m.Map("f"); !ok || f["g"] != "h" {
		t.Errorf("Map(f) = %v %v", f, ok)
	}
	if got := strings.Join(m.Keys(), ","); got != "a,b,c,d,e,f" {
		t.Errorf("Keys = %s", got)
	}
}
