package termtext

import "testing"

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"INBOX/Work", "INBOX/Work"},
		{"Réunions 2024 ✓", "Réunions 2024 ✓"},
		{`C:\mail`, `C:\mail`},
		{"a\x1b[2Kforged", `a\x1b[2Kforged`},
		{"line\r\nnext\ttab", `line\x0d\x0anext\x09tab`},
		{"nul\x00del\x7f", `nul\x00del\x7f`},
		{"c1\u009bcsi\u0085nel", `c1\u009bcsi\u0085nel`},
		{"bad\xff\xfeutf8", `bad\xff\xfeutf8`},
		{"cut\xe2\x82", `cut\xe2\x82`},
		{"", ""},
	} {
		if got := Escape(tc.in); got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestEscapeCleanDoesNotAllocate(t *testing.T) {
	s := "INBOX/Réunions"
	if n := testing.AllocsPerRun(100, func() { _ = Escape(s) }); n != 0 {
		t.Errorf("Escape of clean text allocated %v times", n)
	}
}
