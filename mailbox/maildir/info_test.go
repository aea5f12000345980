package maildir

import (
	"slices"
	"strings"
	"testing"
)

func TestSplitInfo(t *testing.T) {
	tests := []struct {
		name, unique, flags string
		hasInfo             bool
	}{
		{"1700000000.M1P2.host:2,RS", "1700000000.M1P2.host", "RS", true},
		{"1700000000.M1P2.host;2,RS", "1700000000.M1P2.host", "RS", true},
		{"1700000000.M1P2.host!2,RS", "1700000000.M1P2.host", "RS", true},
		{"1700000000.M1P2.host:2,", "1700000000.M1P2.host", "", true},
		{"1035478339.27041_118.foo.org,S=1000,W=1030;2,RDF,", "1035478339.27041_118.foo.org,S=1000,W=1030", "RDF,", true},
		{"1642966915.1.mox", "1642966915.1.mox", "", false},
		{"1700000000.x:1,experimental", "1700000000.x:1,experimental", "", false},
		{"a:2,S:2,T", "a:2,S", "T", true}, // the info part is the last one
		// Percent-encoded by tools on file systems without ":" (issue 9, 24).
		{"1700000000.M1P2.host%3A2%2CRS", "1700000000.M1P2.host", "RS", true},
		{"1700000000.M1P2.host%3a2%2cS", "1700000000.M1P2.host", "S", true},
		{"1700000000.M1P2.host%3A2%2C", "1700000000.M1P2.host", "", true},
		{"1700000000.M1P2.host%3A1%2Cx", "1700000000.M1P2.host%3A1%2Cx", "", false},
		{"1700000000.M1P2.host%3A2", "1700000000.M1P2.host%3A2", "", false},
		{"", "", "", false},
		{":2,", "", "", true},
	}
	for _, tt := range tests {
		u, f, ok := SplitInfo(tt.name)
		if u != tt.unique || f != tt.flags || ok != tt.hasInfo {
			t.Errorf("SplitInfo(%q) = %q, %q, %v; want %q, %q, %v", tt.name, u, f, ok, tt.unique, tt.flags, tt.hasInfo)
		}
	}
}

func TestImapFlags(t *testing.T) {
	kw := ParseKeywords([]byte("0 $Junk\n1 $Forwarded\n2 $NotJunk\n3 Custom\n4 custom\n"))
	tests := []struct {
		info        string
		kw          *Keywords
		want        []string
		wantUnknown string
	}{
		{"S", nil, []string{`\Seen`}, ""},
		{"DFPRST", nil, []string{`\Draft`, `\Flagged`, `$Forwarded`, `\Answered`, `\Seen`, `\Deleted`}, ""},
		{"TSRPFD", nil, []string{`\Draft`, `\Flagged`, `$Forwarded`, `\Answered`, `\Seen`, `\Deleted`}, ""},
		{"SS,,", nil, []string{`\Seen`}, ""}, // duplicates and trailing commas
		{"RDF,", nil, []string{`\Draft`, `\Flagged`, `\Answered`}, ""},
		{"", nil, nil, ""},
		{"Sb", nil, []string{`\Seen`}, "b"},     // keyword letter, no keywords file
		{"SXln", nil, []string{`\Seen`}, "Xln"}, // unknown upper-case letter too
		{"RSFbcde", kw, []string{`\Flagged`, `\Answered`, `\Seen`, "$Forwarded", "$NotJunk", "Custom"}, ""}, // "custom" = "Custom"
		{"Tad", kw, []string{`\Deleted`, "$Junk", "Custom"}, ""},
		{"Pb", kw, []string{`$Forwarded`}, ""}, // P and keyword b are the same flag
		{"z", kw, nil, "z"},
		{"S1é", nil, []string{`\Seen`}, ""}, // junk bytes ignored
	}
	for _, tt := range tests {
		got, unk := ParseFlags(tt.info).IMAPFlags(tt.kw)
		if !slices.Equal(got, tt.want) || unk.Letters() != tt.wantUnknown {
			t.Errorf("flags of %q = %q, unknown %q; want %q, unknown %q", tt.info, got, unk.Letters(), tt.want, tt.wantUnknown)
		}
	}
}

func TestNameTime(t *testing.T) {
	tests := []struct {
		unique string
		want   int64
		ok     bool
	}{
		{"1700000000.M123P4.host", 1700000000, true},
		{"1642966915.1.mox", 1642966915, true},
		{"1700000000", 1700000000, true},
		{"0.x", 0, false},
		{"abc.1700000000", 0, false},
		{"1700000000abc", 0, false},
		{"99999999999999999999999.x", 0, false}, // would overflow int64
		{"253402300800.x", 0, false},            // after year 9999
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := NameTime(tt.unique)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NameTime(%q) = %d, %v; want %d, %v", tt.unique, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzInfo(f *testing.F) {
	for _, s := range []string{
		"1700000000.M1P2.host:2,RS", "x;2,STln", "y!2,abc,", "1642966915.1.mox", "a:2,S:2,T", ":2,", "1:2,\xff",
	} {
		f.Add(s)
	}
	kw := ParseKeywords([]byte("0 $Junk\n1 $Forwarded\n"))
	f.Fuzz(func(t *testing.T, name string) {
		unique, info, hasInfo := SplitInfo(name)
		if !strings.HasPrefix(name, unique) {
			t.Fatalf("unique %q is not a prefix of %q", unique, name)
		}
		if hasInfo && !strings.HasSuffix(name, info) {
			t.Fatalf("info %q is not a suffix of %q", info, name)
		}
		if !hasInfo && (unique != name || info != "") {
			t.Fatalf("no info, yet unique %q info %q for %q", unique, info, name)
		}
		NameTime(unique)
		flags, unknown := ParseFlags(info).IMAPFlags(kw)
		seen := map[string]bool{}
		for _, fl := range flags {
			k := strings.ToLower(fl)
			if seen[k] {
				t.Fatalf("flag %q twice in %q (from %q)", fl, flags, info)
			}
			seen[k] = true
		}
		for _, c := range unknown.Letters() {
			if !strings.ContainsRune(info, c) {
				t.Fatalf("unknown letter %q not in info %q", c, info)
			}
		}
	})
}
