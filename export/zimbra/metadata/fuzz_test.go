package metadata

import (
	"reflect"
	"testing"
)

func addSeeds(f *testing.F) {
	for _, s := range []string{
		"", "de", "d1:ai1e2:vti5e1:vi10ee",
		"d3:fldd9:firstName5:Josée8:lastName5:Ñúñezee",
		"d4:name5:a😀bc4:nexti-3ee", "d3:invld1:u3:abc1:sl1:xi2eeeee",
		"firstName=5:Josée;lastName=3:Doe;", "a=12:x=1:y;z=1:w;;",
		latin1Mangled("d9:firstName4:Jösé8:lastName3:Doee"),
		"d1:a1:😀e", "d1:a999999999999:x", "di7e1:xe",
	} {
		f.Add(s)
	}
}

// FuzzDecode checks that Decode never panics and that whatever it accepts
// survives Encode: decoding the encoding gives the same map.
func FuzzDecode(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in string) {
		m, err := Decode(in)
		if err != nil {
			return
		}
		enc := Encode(m)
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode(%q) = %#v, but its encoding %q does not decode: %v", in, m, enc, err)
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("Decode(%q) = %#v, encoded %q decodes as %#v", in, m, enc, again)
		}
		if Encode(again) != enc {
			t.Fatalf("encoding of %q is not stable", in)
		}
	})
}

// FuzzEncode builds a map from the fuzzer's strings and checks that
// Decode(Encode(m)) gives it back.
func FuzzEncode(f *testing.F) {
	f.Add("firstName", "Josée", "n", "a😀", int64(-7))
	f.Add("", "", "\uFFFD", "😀", int64(0))
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string, n int64) {
		m := Map{
			k1:  v1,
			"l": List{v2, n, Map{k2: v1, "n": n}, List{}},
			"m": Map{k1: Map{k2: v2}},
		}
		m[k2] = n
		got, err := Decode(Encode(m))
		if err != nil {
			t.Fatalf("Decode(Encode(%#v)): %v", m, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("Decode(Encode(%#v)) = %#v", m, got)
		}
	})
}
