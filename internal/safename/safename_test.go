package safename

import (
	"strings"
	"testing"
)

func TestElement(t *testing.T) {
	for in, want := range map[string]string{
		"anna@example.org": "anna@example.org",
		"../../etc/passwd": ".._.._etc_passwd",
		`host:993\x`:       "host_993_x",
		"":                 "_",
		".":                "_.",
		"..":               "_..",
		"tab\there\x7fdel": "tab_here_del",
		"Jürgen Größe":     "Jürgen Größe",
	} {
		if got := Element(in); got != want {
			t.Errorf("Element(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"a:b":          "a%3Ab",
		"a_b":          "a_b",
		"a%3Ab":        "a%253Ab",
		"":             "%",
		".":            "%2E",
		"..":           "%2E.",
		".hidden":      "%2Ehidden",
		`C:\x/y`:       "C%3A%5Cx%2Fy",
		"tab\tnul\x00": "tab%09nul%00",
		"x.SBD":        "x%2ESBD",
		"Jürgen Größe": "Jürgen Größe",
		"a.b.mbox.txt": "a.b.mbox.txt",
	} {
		if got := Escape(in, ".sbd", ".mbox"); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzEscapeIsInjective: two different levels never share a name, and
// no name is empty, ".", "..", or holds a separator.
func FuzzEscapeIsInjective(f *testing.F) {
	for _, s := range []string{"a:b", "a_b", "a%3Ab", "", ".", "..", "x.sbd", "x%2Esbd", "\x00"} {
		f.Add(s, "a_b")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ea, eb := Escape(a, ".sbd"), Escape(b, ".sbd")
		if a != b && ea == eb {
			t.Fatalf("Escape(%q) = Escape(%q) = %q", a, b, ea)
		}
		if ea == "" || ea == "." || ea == ".." || strings.ContainsAny(ea, "/\\:\x00") || strings.HasSuffix(strings.ToLower(ea), ".sbd") {
			t.Fatalf("Escape(%q) = %q is not one safe level", a, ea)
		}
	})
}
