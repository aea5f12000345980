package maildir

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mailhaul/mailhaul/export"
	mdir "github.com/mailhaul/mailhaul/mailbox/maildir"
)

func TestParseKeywords(t *testing.T) {
	k, notes := parseKeywords([]byte("0 $Junk\r\n1 $Forwarded\n\n2\nx Bad\n3 has space\n4 \\Seen\n25 Last\n26 TooFar\n-1 Neg\n7 (paren\n8 NonJunk\n9 "))
	// Names that are not IMAP atoms are kept, repaired; lines without an
	// index in 0-25 or without a name are skipped.
	want := map[int]string{0: "$Junk", 1: "$Forwarded", 3: "has_space", 4: "_Seen", 7: "_paren", 25: "Last", 8: "NonJunk"}
	for i := 0; i < 26; i++ {
		if got := k.Name(i); got != want[i] {
			t.Errorf("keyword %c = %q; want %q", 'a'+i, got, want[i])
		}
	}
	wantNotes := []string{
		`keyword "has space" (letter d) is not an IMAP atom; kept as "has_space"`,
		`keyword "\\Seen" (letter e) is not an IMAP atom; kept as "_Seen"`,
		`keyword "(paren" (letter h) is not an IMAP atom; kept as "_paren"`,
	}
	if !slices.Equal(notes, wantNotes) {
		t.Errorf("notes:\n%q\nwant\n%q", notes, wantNotes)
	}
	if got := k.Name(26); got != "" {
		t.Errorf("name(26) = %q; want \"\"", got)
	}
	var none *mdir.Keywords
	if got := none.Name(0); got != "" {
		t.Errorf("nil keywords name(0) = %q", got)
	}
}

func TestReadKeywordsMissing(t *testing.T) {
	k, _, err := readKeywords(openRoot(t, t.TempDir()))
	if k != nil || err != nil {
		t.Errorf("readKeywords(empty dir) = %v, %v; want nil, nil", k, err)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, keywordsFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readKeywords(openRoot(t, dir)); err == nil {
		t.Error("readKeywords with a directory in place of the file: no error")
	}
}

func FuzzParseKeywords(f *testing.F) {
	f.Add([]byte("0 $Junk\n1 $Forwarded\n"))
	f.Add([]byte("25 x\r\n26 y\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, _ := parseKeywords(b)
		for i := 0; i < 26; i++ {
			if n := k.Name(i); n != "" && n != export.KeywordAtom(n) {
				t.Fatalf("keyword %d = %q is not a valid keyword", i, n)
			}
		}
	})
}
