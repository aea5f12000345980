package export

import (
	"strings"
	"testing"
)

func TestSafeFolderPath(t *testing.T) {
	for in, want := range map[string]string{
		"INBOX":        "INBOX",
		"Work/2024":    "Work/2024",
		"..":           "_..",
		".":            "_.",
		"":             "_",
		"../etc":       "_../etc",
		"a/./b":        "a/_./b",
		"a//b":         "a/_/b",
		"evil\x00name": "evil_name",
		"_..":          "_..",
		"a.b/..c":      "a.b/..c",
	} {
		got, note := SafeFolderPath(nil, in)
		if got != want {
			t.Errorf("SafeFolderPath(%q) = %q; want %q", in, got, want)
		}
		if (got != in) != (note != "") || note != "" && !strings.Contains(note, want) {
			t.Errorf("SafeFolderPath(%q) note %q", in, note)
		}
	}
}
