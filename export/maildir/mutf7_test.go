package maildir

import (
	"testing"
	"unicode/utf8"
)

func TestDecodeMUTF7(t *testing.T) {
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
		got, ok := decodeMUTF7(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("decodeMUTF7(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestEncodeDecodeMUTF7RoundTrip(t *testing.T) {
	for _, s := range []string{"Ärger", "日本語 & more", "a&b", "😀x😀", "Ünïcödé/Ordner", "\x01ctl"} {
		enc := encodeMUTF7(s)
		got, ok := decodeMUTF7(enc)
		if !ok || got != s {
			t.Errorf("decodeMUTF7(encode(%q) = %q) = %q, %v", s, enc, got, ok)
		}
	}
}

func FuzzDecodeMUTF7(f *testing.F) {
	for _, s := range []string{"&AMQ-rger", "&-", "&ZeVnLIqe-", "&2D3eAA-", "&AMQ", "plain", "&AC8-", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := decodeMUTF7(s)
		if !ok {
			return
		}
		if !utf8.ValidString(got) {
			t.Fatalf("decodeMUTF7(%q) = %q: not valid UTF-8", s, got)
		}
		// Whatever decodes must survive a round trip through the encoder.
		if back, ok := decodeMUTF7(encodeMUTF7(got)); !ok || back != got {
			t.Fatalf("round trip of %q (from %q): got %q, %v", got, s, back, ok)
		}
	})
}

func FuzzMUTF7RoundTrip(f *testing.F) {
	for _, s := range []string{"Ärger", "a&b", "😀", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		enc := encodeMUTF7(s)
		got, ok := decodeMUTF7(enc)
		if !ok || got != s {
			t.Fatalf("decode(encode(%q) = %q) = %q, %v", s, enc, got, ok)
		}
	})
}
