package safename

import "testing"

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
