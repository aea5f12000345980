package termtext

import "testing"

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"INBOX":                    "INBOX",
		"Café/Reçus":               "Café/Reçus",
		"a\x1b[2Kb":                `a\x1b[2Kb`,
		"line\r\nforged: ok":       `line\r\nforged: ok`,
		"tab\there":                `tab\there`,
		"nul\x00del\x7f":           `nul\x00del\x7f`,
		"c1\u0085\u009b":           `c1\u0085\u009b`,
		"bad\xffutf8\xc3":          `bad\xffutf8\xc3`,
		`back\slash`:               `back\slash`,
		"\u2028 stays (not C0/C1)": "\u2028 stays (not C0/C1)",
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}
