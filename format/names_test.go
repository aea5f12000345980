package format

import (
	"fmt"
	"path"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mailhaul/mailhaul/internal/safetar"
)

func TestSafeSegment(t *testing.T) {
	long := strings.Repeat("é", 80) // 160 bytes: must be cut on a rune boundary
	tests := []struct{ in, want string }{
		{"INBOX", "INBOX"},
		{"Work 2024", "Work 2024"},
		{"Ünïcødé ✓", "Ünïcødé ✓"},
		{"CON", "_CON"},
		{"con", "_con"},
		{"nul.txt", "_nul.txt"},
		{"Nul.tar.gz", "_Nul.tar.gz"},
		{"COM1", "_COM1"},
		{"lpt9.log", "_lpt9.log"},
		{"COM¹", "_COM¹"},
		{"CONIN$", "_CONIN$"},
		{"COM10", "COM10"},
		{"CONSOLE", "CONSOLE"},
		{"AUX .txt", "_AUX .txt"},
		{"trailing.", "trailing_"},
		{"trailing ", "trailing_"},
		{"trailing. . ", "trailing_"},
		{"  leading", "leading"},
		{`a<b>c:d"e/f\g|h?i*j`, "a_b_c_d_e_f_g_h_i_j"},
		{"tab\there\x00nul\x1fus\x7fdel", "tab_here_nul_us_del"},
		{"bad\xffutf8", "bad_utf8"},
		{"", "_"},
		{" ", "_"},
		{".", "__"},
		{"..", "__"},
		{"...", "__"},
		{"00000001.eml", "_00000001.eml"},
		{"00000001.META", "_00000001.META"},
		{"12.vcf", "_12.vcf"},
		{"3.ics", "_3.ics"},
		{"1.eml.txt", "1.eml.txt"},
		{"_folder.json", "__folder.json"},
		{"_private", "__private"},
		{long, strings.Repeat("é", 50)},
		{strings.Repeat("a", 99) + "é", strings.Repeat("a", 99)},
	}
	for _, tt := range tests {
		got := safeSegment(tt.in)
		if got != tt.want {
			t.Errorf("safeSegment(%q) = %q, want %q", tt.in, got, tt.want)
		}
		checkSegment(t, tt.in, got)
	}
}

// checkSegment asserts what every produced name must satisfy.
func checkSegment(t *testing.T, in, got string) {
	t.Helper()
	if !utf8.ValidString(got) {
		t.Errorf("safeSegment(%q) = %q: not valid UTF-8", in, got)
	}
	if len(got) > maxSegment+2 {
		t.Errorf("safeSegment(%q) = %d bytes, limit %d", in, len(got), maxSegment+2)
	}
	if strings.ContainsAny(got, "<>:\"/\\|?*") || strings.IndexFunc(got, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		t.Errorf("safeSegment(%q) = %q: holds a forbidden character", in, got)
	}
	if strings.HasSuffix(got, ".") || strings.HasSuffix(got, " ") {
		t.Errorf("safeSegment(%q) = %q: ends in a dot or space", in, got)
	}
	if base, _, _ := strings.Cut(got, "."); windowsReserved[strings.ToUpper(strings.TrimSpace(base))] {
		t.Errorf("safeSegment(%q) = %q: a Windows device name", in, got)
	}
	if itemLike.MatchString(got) {
		t.Errorf("safeSegment(%q) = %q: looks like an item or folder record", in, got)
	}
	if err := safetar.CheckName("mail/" + got + "/x"); err != nil {
		t.Errorf("safeSegment(%q) = %q: refused by the reader: %v", in, got, err)
	}
}

func TestNameTreeUnique(t *testing.T) {
	paths := []string{
		"Foo", "foo", "FOO", "Foo/Bar", "foo/bar", "foo/BAR",
		"a:b", "a?b", "a*b", "a_b", "a_b~2", // sanitise equally, and a name like the suffix
		"CON", "_CON", "con",
		"x.", "x_", "x ",
		"00000001.eml", "_00000001.eml",
		"_folder.json", "__folder.json",
		".", "..", "", // "" is refused by the Writer but nameTree must still cope
		strings.Repeat("é", 80), strings.Repeat("é", 81), // cut to the same prefix
		"deep/er/and/deeper", "Deep/Er/And/Deeper",
		"Kelvin \u212a", "Kelvin k", // Unicode case folding
	}
	tr := newNameTree()
	dirs := map[string]string{}
	for _, k := range []FolderKind{FolderMail, FolderCalendar} {
		for _, p := range paths {
			d := tr.dir(k, p)
			if err := safetar.CheckName(d + "/" + folderFile); err != nil {
				t.Errorf("dir(%q) = %q: refused by the reader: %v", p, d, err)
			}
			if !strings.HasPrefix(d, kindDir[k]+"/") {
				t.Errorf("dir(%s %q) = %q: not below %s/", k, p, d, kindDir[k])
			}
			if again := tr.dir(k, p); again != d {
				t.Errorf("dir(%q) = %q, then %q", p, d, again)
			}
			for _, seg := range strings.Split(d, "/")[1:] {
				checkSegment(t, p, seg)
			}
			key := strings.ToLower(d)
			if other, dup := dirs[key]; dup {
				t.Errorf("folders %q and %q share the directory %q (ignoring case)", other, p, d)
			}
			dirs[key] = p
		}
	}
	// Parents get the directory of their path even when only a child
	// was added.
	if got, want := path.Dir(tr.dir(FolderMail, "deep/er/and/deeper")), tr.dir(FolderMail, "deep/er/and"); got != want {
		t.Errorf("parent of deep/er/and/deeper is %q, want %q", got, want)
	}
}

func TestNameTreeManySiblings(t *testing.T) {
	tr := newNameTree()
	seen := map[string]bool{}
	for i := range 500 {
		// Every one of these sanitises to "a_b".
		d := tr.dir(FolderMail, fmt.Sprintf("a%cb", `<>:"\|?*`[i%8]))
		if i >= 8 {
			d = tr.dir(FolderMail, fmt.Sprintf("a%cb%s", `<>:"\|?*`[i%8], strings.Repeat(" ", i/8)))
		}
		if seen[strings.ToLower(d)] {
			t.Fatalf("directory %q handed out twice", d)
		}
		seen[strings.ToLower(d)] = true
	}
}

func TestArchiveName(t *testing.T) {
	after := time.Date(2024, 3, 1, 12, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	tests := []struct {
		user  string
		after time.Time
		c     Compression
		want  string
	}{
		{"alice@example.com", time.Time{}, Gzip, "alice@example.com.tgz"},
		{"alice@example.com", after, Gzip, "alice@example.com.after-20240301T100000Z.tgz"},
		{"alice@example.com", time.Time{}, Zstd, "alice@example.com.tar.zst"},
		{"alice@example.com", after, None, "alice@example.com.after-20240301T100000Z.tar"},
		{"dom\\bob", time.Time{}, "", "dom_bob.tgz"},
		// Never a hidden file, which listings and file managers pass over.
		{"../evil", time.Time{}, Gzip, "_.._evil.tgz"},
		{".bob@example.com", time.Time{}, Gzip, "_.bob@example.com.tgz"},
		{".bob@example.com", after, Zstd, "_.bob@example.com.after-20240301T100000Z.tar.zst"},
		{"_.bob@example.com", time.Time{}, Gzip, "__.bob@example.com.tgz"},
		{"CON", time.Time{}, Gzip, "_CON.tgz"},
	}
	for _, tt := range tests {
		got := ArchiveName(tt.user, tt.after, tt.c)
		if got != tt.want {
			t.Errorf("ArchiveName(%q, %v, %q) = %q, want %q", tt.user, tt.after, tt.c, got, tt.want)
		}
		if !IsArchiveName(got) {
			t.Errorf("IsArchiveName(%q) = false", got)
		}
	}
	for _, n := range []string{"alice.tgz.sha256", "alice.zip", "alice", "alice.tar.gz.part"} {
		if IsArchiveName(n) {
			t.Errorf("IsArchiveName(%q) = true", n)
		}
	}
}

func TestParseCompression(t *testing.T) {
	tests := []struct {
		in   string
		want Compression
		ext  string
	}{
		{"", Gzip, ".tgz"}, {"gzip", Gzip, ".tgz"}, {"tgz", Gzip, ".tgz"}, {"gz", Gzip, ".tgz"},
		{"zstd", Zstd, ".tar.zst"}, {"zst", Zstd, ".tar.zst"},
		{"none", None, ".tar"}, {"tar", None, ".tar"},
	}
	for _, tt := range tests {
		got, err := ParseCompression(tt.in)
		if err != nil || got != tt.want || got.Ext() != tt.ext {
			t.Errorf("ParseCompression(%q) = %q (%q), %v; want %q (%q)", tt.in, got, got.Ext(), err, tt.want, tt.ext)
		}
	}
	if _, err := ParseCompression("bzip2"); err == nil || !strings.Contains(err.Error(), "bzip2") {
		t.Errorf("ParseCompression(bzip2) error = %v, want one naming it", err)
	}
}

// FolderNamer is the one collision rule of readers and writers: two
// folder paths never get the same archive path.
func TestFolderNamer(t *testing.T) {
	var n FolderNamer
	for _, c := range []struct{ in, want string }{
		{"_..", "_.."}, {"..", "_..~2"}, {"_..~2", "_..~2~2"}, {"..", "_..~2"}, {"a", "a"},
	} {
		if got := n.Name(c.in); got != c.want {
			t.Errorf("Name(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}

// A folder renamed with "~2" keeps its subfolders: they follow it, not
// the other folder whose path it could not take.
func TestFolderNamerKeepsChildrenWithTheirParent(t *testing.T) {
	var n FolderNamer
	for _, c := range []struct{ in, want string }{
		{"_..", "_.."}, {"..", "_..~2"}, {"../x", "_..~2/x"}, {"_../x", "_../x"}, {"a/../b", "a/_../b"},
	} {
		if got := n.Name(c.in); got != c.want {
			t.Errorf("Name(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}
