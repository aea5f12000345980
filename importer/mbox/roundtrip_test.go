package mbox_test

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/export"
	exportmaildir "github.com/mailhaul/mailhaul/export/maildir"
	exportmbox "github.com/mailhaul/mailhaul/export/mbox"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/importer/eml"
	"github.com/mailhaul/mailhaul/importer/mbox"
)

// corpora are the mbox files and trees in testdata.
var corpora = []string{
	"corpus/mbox/mimekit/content-length.mbox",
	"corpus/mbox/mimekit/gmail-takeout-style.mbox",
	"corpus/mbox/mimekit/simple.mbox",
	"corpus/mbox/mimekit/unmunged.mbox",
	"corpus/mbox/mox/imaptest.mbox",
	"corpus/mbox/mox/importtest.mbox",
	"corpus/mbox/thunderbird/mbox_mboxrd.mbox",
	"corpus/mbox/thunderbird/mbox_modern.mbox",
	"corpus/mbox/thunderbird/mbox_unquoted.mbox",
	"corpus/mbox/thunderbird/movemailspool.mbox",
	"mbox/takeout.mbox",
	"sample/bob-mbox",
}

// exportArchive runs export mbox on src into an archive at path.
func exportArchive(t *testing.T, src, path string) {
	t.Helper()
	exportSource(t, &exportmbox.Source{Path: src}, path)
}

// exportSource runs an export of src into an archive at path.
func exportSource(t *testing.T, src export.Source, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := format.NewWriter(f, format.Manifest{User: "bob", Source: format.Source{Kind: "test"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Export(t.Context(), w, export.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

type archived struct {
	folders []string // "path:role"
	items   []string // folder, checksum, flags, received: what must survive
	bodies  map[string]string
	noEOL   int      // messages without a final line ending
	kept    []string // folder, flags, received, Message-ID: what a header rewrite keeps
}

func readArchive(t *testing.T, path string) archived {
	t.Helper()
	a := archived{bodies: map[string]string{}}
	err := importer.Walk(t.Context(), []string{path}, importer.Visitor{
		Folder: func(_ string, f format.Folder, _ []string) error {
			a.folders = append(a.folders, f.Path+":"+string(f.Role))
			return nil
		},
		Item: func(_ string, e *format.Entry) error {
			b, err := io.ReadAll(e.Body)
			it := e.Item
			flags := slices.Clone(it.Flags)
			slices.Sort(flags)
			sum := it.SHA256
			if len(b) > 0 && b[len(b)-1] != '\n' {
				// mboxrd cannot end a message without a line ending: the
				// restore adds one (and says so), so compare as if added.
				sum = fmt.Sprintf("%x", sha256.Sum256(append(b, '\n')))
				a.noEOL++
			}
			a.items = append(a.items, fmt.Sprintf("%s %s %q %s", it.Folder, sum, flags, it.Received.Format("2006-01-02T15:04:05Z07:00")))
			a.kept = append(a.kept, fmt.Sprintf("%s %q %s %s", it.Folder, flags, it.Received.Format("2006-01-02T15:04:05Z07:00"), it.MessageID))
			a.bodies[it.SHA256] = string(b)
			return err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(a.folders)
	slices.Sort(a.items)
	slices.Sort(a.kept)
	return a
}

// TestRoundTripThroughMbox: mbox → export → archive → restore --to mbox →
// export → archive gives the same folders and, item for item, the same
// checksum, flags and received time; restore --to eml gives every message
// back byte for byte.
func TestRoundTripThroughMbox(t *testing.T) {
	for _, c := range corpora {
		t.Run(c, func(t *testing.T) {
			tmp := t.TempDir()
			src := filepath.Join("..", "..", "testdata", filepath.FromSlash(c))
			first, second := filepath.Join(tmp, "first.tar.gz"), filepath.Join(tmp, "second.tar.gz")
			exportArchive(t, src, first)
			out := filepath.Join(tmp, "mbox")
			res, err := mbox.New(out).Import(t.Context(), importer.Request{User: "bob", Archives: []string{first}})
			if err != nil || res.Report.Failed != 0 {
				t.Fatalf("restore: %v %+v", err, res.Report)
			}
			exportArchive(t, out, second)
			a, b := readArchive(t, first), readArchive(t, second)
			if added := strings.Count(strings.Join(res.Report.Notes, "\n"), "did not end with a line ending"); added != a.noEOL || b.noEOL != 0 {
				t.Errorf("%d messages without a final line ending, %d notes saying one was added, %d left without one", a.noEOL, added, b.noEOL)
			}
			if len(a.items) == 0 {
				t.Fatal("the corpus exported no message")
			}
			if !slices.Equal(a.folders, b.folders) {
				t.Errorf("folders\n %q\nbecame\n %q", a.folders, b.folders)
			}
			if !slices.Equal(a.items, b.items) {
				t.Errorf("items\n %s\nbecame\n %s", strings.Join(a.items, "\n "), strings.Join(b.items, "\n "))
			}

			emlDir := filepath.Join(tmp, "eml")
			res, err = eml.New(emlDir).Import(t.Context(), importer.Request{User: "bob", Archives: []string{first}})
			if err != nil || res.Report.Failed != 0 || res.Report.Imported != len(a.items) {
				t.Fatalf("restore --to eml: %v %+v", err, res.Report)
			}
			found := map[string]bool{}
			filepath.WalkDir(emlDir, func(p string, d os.DirEntry, err error) error {
				if err == nil && strings.HasSuffix(p, ".eml") {
					data, _ := os.ReadFile(p)
					for sum, body := range a.bodies {
						if body == string(data) {
							found[sum] = true
						}
					}
				}
				return nil
			})
			if len(found) != len(a.bodies) {
				t.Errorf(".eml files hold %d of the %d distinct messages byte for byte", len(found), len(a.bodies))
			}
		})
	}
}

// TestKilledRestoreOfACorpusThenRerun: a restore killed part way through
// a corpus (a message half written) and run again gives what one whole
// run gives: exported again, the same items, none twice, none torn.
func TestKilledRestoreOfACorpusThenRerun(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join("..", "..", "testdata", "corpus", "mbox", "mox", "imaptest.mbox")
	first, second := filepath.Join(tmp, "first.tar.gz"), filepath.Join(tmp, "second.tar.gz")
	exportArchive(t, src, first)
	out := filepath.Join(tmp, "mbox")
	req := importer.Request{User: "bob", Archives: []string{first}}
	undo := mbox.CrashAfter(30 << 10)
	res, err := mbox.New(out).Import(t.Context(), req)
	undo()
	if err == nil || res.Report.Imported == 0 {
		t.Fatalf("the killed run: %v %+v; want it stopped part way", err, res.Report)
	}
	res, err = mbox.New(out).Import(t.Context(), req)
	if err != nil || res.Report.Failed != 0 || len(res.Report.Notes) != 1 {
		t.Fatalf("re-run: %v %+v; want one note on the message cut back", err, res.Report)
	}
	exportArchive(t, out, second)
	a, b := readArchive(t, first), readArchive(t, second)
	if !slices.Equal(a.items, b.items) {
		t.Errorf("items\n %s\nbecame\n %s", strings.Join(a.items, "\n "), strings.Join(b.items, "\n "))
	}
}

// TestMaildirThroughMbox: messages whose flags are not in their header (a
// Maildir keeps them in file names) get them as Status, X-Status and
// X-Keywords, and an export of the restored mbox finds the same folders,
// flags and received times.
func TestMaildirThroughMbox(t *testing.T) {
	for _, root := range []string{"sample/alice-maildir", "corpus/maildir/stalwart-maildirpp"} {
		t.Run(root, func(t *testing.T) {
			tmp := t.TempDir()
			first, second := filepath.Join(tmp, "first.tar.gz"), filepath.Join(tmp, "second.tar.gz")
			exportSource(t, &exportmaildir.Source{Root: filepath.Join("..", "..", "testdata", filepath.FromSlash(root))}, first)
			out := filepath.Join(tmp, "mbox")
			res, err := mbox.New(out).Import(t.Context(), importer.Request{User: "alice", Archives: []string{first}})
			if err != nil || res.Report.Failed != 0 {
				t.Fatalf("restore: %v %+v", err, res.Report)
			}
			exportArchive(t, out, second)
			a, b := readArchive(t, first), readArchive(t, second)
			flagged := 0
			for _, k := range a.kept {
				if !strings.Contains(k, "[]") {
					flagged++
				}
			}
			if len(a.kept) == 0 || flagged == 0 {
				t.Fatalf("the sample has %d messages, %d with flags: it tests nothing", len(a.kept), flagged)
			}
			if !slices.Equal(a.kept, b.kept) {
				t.Errorf("items\n %s\nbecame\n %s", strings.Join(a.kept, "\n "), strings.Join(b.kept, "\n "))
			}
			if !slices.Equal(a.folders, b.folders) {
				t.Errorf("folders %q became %q", a.folders, b.folders)
			}
		})
	}
}
