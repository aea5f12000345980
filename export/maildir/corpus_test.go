package maildir

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/format"
	mdir "github.com/mailhaul/mailhaul/mailbox/maildir"
)

const corpus = "../../testdata/corpus/maildir"

// corpusWant is what one corpus message must export as.
type corpusWant struct {
	id        string
	flags     []string
	messageID string
}

func checkCorpusItems(t *testing.T, root string, got []string, byID func(string) (flags []string, mid string, received time.Time), want []corpusWant) {
	t.Helper()
	var wantIDs []string
	for _, w := range want {
		wantIDs = append(wantIDs, w.id)
	}
	if !slices.Equal(got, wantIDs) {
		t.Fatalf("%s: items %q; want %q", root, got, wantIDs)
	}
	for _, w := range want {
		flags, mid, received := byID(w.id)
		unique := w.id[strings.LastIndexByte(w.id, '/')+1:]
		sec, _ := mdir.NameTime(unique)
		if !slices.Equal(flags, w.flags) || mid != w.messageID || !received.Equal(time.Unix(sec, 0)) {
			t.Errorf("%s: flags %q Message-ID %q received %v; want %q %q %v",
				w.id, flags, mid, received, w.flags, w.messageID, time.Unix(sec, 0).UTC())
		}
	}
}

func TestCorpusStalwartMaildirPP(t *testing.T) {
	root := filepath.Join(corpus, "stalwart-maildirpp")
	s := run(t, &Source{Root: root}, export.Options{})
	wantFolders := []string{"INBOX", "My Folder", "My Folder/Nested Folder"}
	if got := folderPaths(s); !slices.Equal(got, wantFolders) {
		t.Fatalf("folders %q; want %q", got, wantFolders)
	}
	var ids []string
	for _, it := range s.Items {
		ids = append(ids, it.SourceID)
	}
	byID := func(id string) ([]string, string, time.Time) {
		it := itemBySource(t, s, id)
		return it.Flags, it.MessageID, it.Received
	}
	checkCorpusItems(t, root, ids, byID, []corpusWant{
		// new/ ...;2,Sb and cur/ ...;2,STln: b, l, n have no keywords file.
		{"INBOX/1234567890.M20046P2137.mailserver,S=4542,W=4642", []string{`\Seen`}, ""},
		{"INBOX/1491941793.M41850P8566V0000000000000015I0000000004F3030E_0.mx1.example.com,S=10956", []string{`\Seen`, `\Deleted`}, ""},
		{"My Folder/1035478339.27041_118.foo.org,S=1000,W=1030", []string{`\Draft`, `\Answered`, `\Deleted`}, ""},
		{"My Folder/1276528487.M364837P9451.kurkku,S=1355,W=1394", nil, ""},
		// ";2,RDF," has a trailing comma.
		{"My Folder/Nested Folder/1035478339.27041_118.foo.org,S=1000,W=1030", []string{`\Draft`, `\Flagged`, `\Answered`}, ""},
		{"My Folder/Nested Folder/1276533073.M242911P3632.kurkku", []string{`\Flagged`, `$Forwarded`}, ""},
	})
	if len(s.Warnings) != 1 || s.Warnings[0].Folder != "INBOX" || !strings.Contains(s.Warnings[0].Reason, `"bln"`) {
		t.Errorf("warnings %+v; want one for INBOX naming letters \"bln\"", s.Warnings)
	}
	if len(s.Errors) != 0 {
		t.Errorf("errors %+v", s.Errors)
	}
	assertBodiesMatchFiles(t, root, s)
}

func TestCorpusMoxImporttest(t *testing.T) {
	root := filepath.Join(corpus, "mox-importtest")
	s := run(t, &Source{Root: root}, export.Options{})
	if got := folderPaths(s); !slices.Equal(got, []string{"INBOX"}) {
		t.Fatalf("folders %q; want [INBOX]", got)
	}
	if f := s.Folders[0]; f.Role != format.RoleInbox || !f.Subscribed {
		t.Errorf("INBOX %+v; want role inbox, subscribed (no subscriptions file)", f)
	}
	byID := func(id string) ([]string, string, time.Time) {
		it := itemBySource(t, s, id)
		return it.Flags, it.MessageID, it.Received
	}
	// The checked-in names have no ":2," (git on some systems cannot
	// store ":"), so no flags; the new/ message's DKIM h= list folds a
	// "Message-ID:" onto a continuation line, which must not be taken.
	checkCorpusItems(t, root, itemIDs(s, "INBOX"), byID, []corpusWant{
		{"INBOX/1642966915.1.mox", nil, "12312312-f95c-09ec-97c6-94d124f0932d@mox.test"},
		{"INBOX/1642968136.5.mox", nil, "405af0b6-71ce-a2bd-ec57-7e320bd0e6e0@c.mox"},
	})
	if len(s.Warnings)+len(s.Errors) != 0 {
		t.Errorf("warnings %+v errors %+v", s.Warnings, s.Errors)
	}
	assertBodiesMatchFiles(t, root, s)
}

// TestCorpusMoxImporttestTgz exports the complete Maildir in the tarball,
// with its real ":2," names and five keywords.
func TestCorpusMoxImporttestTgz(t *testing.T) {
	dir := t.TempDir()
	extractTgz(t, filepath.Join(corpus, "mox-importtest.maildir.tgz"), dir)
	root := filepath.Join(dir, "maildir")
	s := run(t, &Source{Root: root}, export.Options{})
	byID := func(id string) ([]string, string, time.Time) {
		it := itemBySource(t, s, id)
		return it.Flags, it.MessageID, it.Received
	}
	// dovecot-keywords: a=$Junk b=$Forwarded c=$NotJunk d=Custom e=custom;
	// "custom" repeats "Custom" to IMAP and is sent once.
	checkCorpusItems(t, root, itemIDs(s, "INBOX"), byID, []corpusWant{
		{"INBOX/1642966915.1.mox", []string{`\Flagged`, `\Answered`, `\Seen`, "$Forwarded", "$NotJunk", "Custom"}, "12312312-f95c-09ec-97c6-94d124f0932d@mox.test"},
		{"INBOX/1642968136.5.mox", []string{`\Deleted`, "$Junk", "Custom"}, "405af0b6-71ce-a2bd-ec57-7e320bd0e6e0@c.mox"},
	})
	if len(s.Warnings)+len(s.Errors) != 0 {
		t.Errorf("warnings %+v errors %+v", s.Warnings, s.Errors)
	}
	assertBodiesMatchFiles(t, root, s)
}

// extractTgz unpacks a small trusted fixture; names are still checked so a
// bad fixture cannot write outside dir.
func extractTgz(t *testing.T, tgz, dir string) {
	t.Helper()
	f, err := os.Open(tgz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if !filepath.IsLocal(h.Name) {
			t.Fatalf("fixture entry %q escapes", h.Name)
		}
		p := filepath.Join(dir, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
