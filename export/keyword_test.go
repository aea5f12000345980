package export_test

import (
	"testing"

	"github.com/mailhaul/mailhaul/export"
)

func TestKeywordAtom(t *testing.T) {
	for in, want := range map[string]string{
		"$Label1": "$Label1", "Work": "Work", `\Seen`: "_Seen", "to do": "to_do",
		"a(b)": "a_b_", "naïve": "na_ve", "x]y%*": "x_y__", "\x01": "_",
	} {
		if got := export.KeywordAtom(in); got != want {
			t.Errorf("KeywordAtom(%q) = %q, want %q", in, got, want)
		}
	}
}
