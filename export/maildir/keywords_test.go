package maildir

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseKeywords(t *testing.T) {
	k := parseKeywords([]byte("0 $Junk\r\n1 $Forwarded\n\n2\nx Bad\n3 has space\n4 \\Seen\n25 Last\n26 TooFar\n-1 Neg\n7 (paren\n8 NonJunk"))
	want := map[int]string{0: "$Junk", 1: "$Forwarded", 3: "has space", 25: "Last", 8: "NonJunk"}
	// "3 has space" cuts at the first space: the name "has space" has a
	// space and is refused.
	delete(want, 3)
	for i := 0; i < 26; i++ {
		if got := k.name(i); got != want[i] {
			t.Errorf("keyword %c = %q; want %q", 'a'+i, got, want[i])
		}
	}
	if got := k.name(26); got != "" {
		t.Errorf("name(26) = %q; want \"\"", got)
	}
	var none *keywords
	if got := none.name(0); got != "" {
		t.Errorf("nil keywords name(0) = %q", got)
	}
}

func TestReadKeywordsMissing(t *testing.T) {
	k, err := readKeywords(t.TempDir())
	if k != nil || err != nil {
		t.Errorf("readKeywords(empty dir) = %v, %v; want nil, nil", k, err)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, keywordsFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := readKeywords(dir); err == nil {
		t.Error("readKeywords with a directory in place of the file: no error")
	}
}

func FuzzParseKeywords(f *testing.F) {
	f.Add([]byte("0 $Junk\n1 $Forwarded\n"))
	f.Add([]byte("25 x\r\n26 y\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k := parseKeywords(b)
		for i := 0; i < 26; i++ {
			if n := k.name(i); n != "" && !validKeyword([]byte(n)) {
				t.Fatalf("keyword %d = %q is not a valid keyword", i, n)
			}
		}
	})
}
