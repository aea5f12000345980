package mutf7

import (
	"testing"
	"unicode/utf8"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"INBOX", "INBOX", true},
		{"Sent Items", "Sent Items", true},
		{"&AMQ-rger", "Ärger", true},
		{"Entw&APw-rfe", "Entwürfe", true},
		{"&-", "&", true},
		{"Tom &- Jerry", "Tom & Jerry", true},
		{"&ZeVnLIqe-", "日本語", true}, // RFC 3501 §5.1.3 example
		{"~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/台北/日本語", true}, // ditto
		{"&2D3eAA-", "😀", true},    // surrogate pair
		{"&AMQ-&AMQ-", "ÄÄ", true}, // adjacent shifts, tolerated
		{"", "", true},
		// Invalid: kept raw by the caller.
		{"&AMQ", "", false},      // shift not closed
		{"&", "", false},         // ditto
		{"&AM-", "", false},      // 12 bits: not a whole UTF-16 unit
		{"&AMQA-", "", false},    // non-zero/excess padding
		{"&AGE-", "", false},     // encodes "a": printable ASCII must be literal
		{"&AC8-", "", false},     // encodes "/": would smuggle a level separator
		{"&2D0-", "", false},     // lone high surrogate
		{"&3gA-", "", false},     // lone low surrogate
		{"&AMQ/-", "", false},    // "/" is not modified base64
		{"Ärger", "", false},     // raw 8-bit (UTF-8) name
		{"tab\there", "", false}, // control character
		{"&Jjo!-", "", false},    // junk in the base64 run
	}
	for _, tt := range tests {
		got, err := Decode(tt.in)
		if ok := err == nil; ok != tt.ok || got != tt.want {
			t.Errorf("Decode(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, s := range []string{"Ärger", "日本語 & more", "a&b", "😀x😀", "Ünïcödé/Ordner", "\x01ctl"} {
		enc := Encode(s)
		got, err := Decode(enc)
		if err != nil || got != s {
			t.Errorf("Decode(Encode(%q) = %q) = %q, %v", s, enc, got, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{"&AMQ-rger", "&-", "&ZeVnLIqe-", "&2D3eAA-", "&AMQ", "plain", "&AC8-", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Decode(s)
		if err != nil {
			return
		}
		if !utf8.ValidString(got) {
			t.Fatalf("Decode(%q) = %q: not valid UTF-8", s, got)
		}
		// Whatever decodes must survive a round trip through the encoder.
		if back, err := Decode(Encode(got)); err != nil || back != got {
			t.Fatalf("round trip of %q (from %q): got %q, %v", got, s, back, err)
		}
	})
}

func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"Ärger", "a&b", "😀", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		enc := Encode(s)
		for i := 0; i < len(enc); i++ {
			if enc[i] < 0x20 || enc[i] > 0x7e {
				t.Fatalf("Encode(%q) = %q: not printable ASCII", s, enc)
			}
		}
		got, err := Decode(enc)
		if err != nil || got != s {
			t.Fatalf("Decode(Encode(%q) = %q) = %q, %v", s, enc, got, err)
		}
	})
}

func TestEncode(t *testing.T) {
	tests := []struct{ dec, enc string }{
		{"INBOX", "INBOX"},
		{"Entwürfe", "Entw&APw-rfe"},
		{"Tom & Jerry", "Tom &- Jerry"},
		{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"}, // RFC 3501's example
		{"😀", "&2D3eAA-"},       // outside the BMP: a surrogate pair
		{"a\uFFFDb", "a&,,0-b"}, // U+FFFD is a real character a folder name may hold
	}
	for _, tt := range tests {
		if got := Encode(tt.dec); got != tt.enc {
			t.Errorf("Encode(%q) = %q, want %q", tt.dec, got, tt.enc)
		}
		if got, err := Decode(tt.enc); err != nil || got != tt.dec {
			t.Errorf("Decode(%q) = %q, %v; want %q", tt.enc, got, err, tt.dec)
		}
	}
}
