package imap

import (
	"fmt"
	"strings"
	"testing"
)

func TestCleanFlags(t *testing.T) {
	any := permanentFlags{any: true, known: map[string]bool{}}
	listed := permanentFlags{known: map[string]bool{`\seen`: true, "$forwarded": true}}
	tests := []struct {
		name          string
		in            []string
		perm          permanentFlags
		want, refused string
	}{
		{"system flags canonicalised", []string{`\SEEN`, `\answered`, `\Seen`}, any, `[\Seen \Answered]`, `[]`},
		{"recent dropped silently", []string{`\Recent`, `\Draft`}, any, `[\Draft]`, `[]`},
		{"unknown system flag refused", []string{`\Forwarded`}, any, `[]`, `[\Forwarded]`},
		{"bad atoms refused", []string{"bad keyword", `a"b`, "a(b", "", "ü", "ok$1"}, any, `[ok$1]`, `[bad keyword a"b a(b  ü]`},
		{"keyword needs \\* or a listing", []string{"$Forwarded", "Custom", `\Flagged`}, listed, `[$Forwarded \Flagged]`, `[Custom]`},
		{"no PERMANENTFLAGS: all valid go", []string{"Custom", `\Seen`}, permanentFlags{unknown: true}, `[Custom \Seen]`, `[]`},
		{"keyword duplicates folded", []string{"Work", "work"}, any, `[Work]`, `[]`},
	}
	for _, tt := range tests {
		ok, refused := cleanFlags(tt.in, tt.perm)
		if got := fmt.Sprint(ok); got != tt.want && !(got == "[]" && tt.want == "[]") {
			t.Errorf("%s: cleanFlags(%q) kept %s, want %s", tt.name, tt.in, got, tt.want)
		}
		if got := fmt.Sprint(refused); got != tt.refused {
			t.Errorf("%s: cleanFlags(%q) refused %s, want %s", tt.name, tt.in, got, tt.refused)
		}
	}
}

func FuzzCleanFlags(f *testing.F) {
	f.Add(`\Seen`, "Custom", "bad word")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		ok, refused := cleanFlags([]string{a, b, c}, permanentFlags{any: true, known: map[string]bool{}})
		if len(ok)+len(refused) > 3 {
			t.Errorf("%d kept and %d refused from 3 flags", len(ok), len(refused))
		}
		// What is kept must be safe to write into an APPEND unquoted.
		for _, f := range ok {
			if f[0] == '\\' && systemFlags[strings.ToLower(f)] != f {
				t.Errorf("kept %q, which is not a system flag's canonical spelling", f)
			}
			if f[0] != '\\' && !isAtom(f) {
				t.Errorf("kept %q, which is not an atom", f)
			}
		}
	})
}
