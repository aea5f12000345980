// Package localfiletest writes small archives for the tests of the local
// restore targets and of the archive walk they share.
package localfiletest

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
)

// Item is an archive item: a message unless Kind says otherwise.
type Item struct {
	Folder, ID string
	Flags      []string
	Recv       time.Time
	Body       string
	Kind       format.Kind
	UID        string // of a contact or calendar object
}

// WriteArchive writes the folders ("path" for mail, "path|contacts" or
// "path|calendar" for others) and items to an archive at path, and
// unread, the items its export could not read, to its summary.
func WriteArchive(t testing.TB, path string, folders []string, items []Item, unread ...format.Problem) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := format.NewWriter(f, format.Manifest{User: "alice", Source: format.Source{Kind: "test"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range folders {
		kind := format.FolderMail
		if name, k, ok := strings.Cut(p, "|"); ok {
			p, kind = name, format.FolderKind(k)
		}
		if err := w.AddFolder(format.Folder{Path: p, Kind: kind}); err != nil {
			t.Fatal(err)
		}
	}
	for _, it := range items {
		kind := it.Kind
		if kind == "" {
			kind = format.KindMessage
		}
		fi := format.Item{Kind: kind, Folder: it.Folder, Flags: it.Flags, Received: it.Recv, SourceID: it.ID, UID: it.UID}
		if err := w.AddItem(fi, strings.NewReader(it.Body)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range unread {
		w.AddError(p)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// damage writes the archive at gz, uncompressed, to a .tar beside it with
// one byte of the last occurrence of marker flipped: that item then fails
// its checksum once read to its end. It returns the .tar's path.
func damage(t testing.TB, gz, marker string) string {
	t.Helper()
	f, err := os.Open(gz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.LastIndex(plain, []byte(marker))
	if i < 0 {
		t.Fatalf("%q not in %s", marker, gz)
	}
	plain[i] ^= 0x20
	path := strings.TrimSuffix(gz, ".gz")
	if err := os.WriteFile(path, plain, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// LinkedDir makes the restore directory tmp/out with a link named link in
// it to tmp/outside, where a write through the link would land, and
// returns both. WantNothingOutside checks afterwards.
func LinkedDir(t testing.TB, tmp, link string) (dir, outside string) {
	t.Helper()
	dir, outside = filepath.Join(tmp, "out"), filepath.Join(tmp, "outside")
	for _, d := range []string{dir, outside} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(dir, link)); err != nil {
		t.Fatal(err)
	}
	return dir, outside
}

// WantNothingOutside fails the test if anything was written in outside.
func WantNothingOutside(t testing.TB, outside string) {
	t.Helper()
	if entries, err := os.ReadDir(outside); err != nil || len(entries) != 0 {
		t.Errorf("restore wrote %d entries outside its directory (%v)", len(entries), err)
	}
}

// DamagedArchive writes to dir an archive whose INBOX holds message "1",
// then message "2" whose bytes fail their checksum once read to the end,
// then more, all received at recv; it returns the damaged archive's path.
func DamagedArchive(t testing.TB, dir string, recv time.Time, more ...Item) string {
	t.Helper()
	gz := filepath.Join(dir, "a.tar.gz")
	items := append([]Item{
		{Folder: "INBOX", ID: "1", Recv: recv, Body: "Subject: 1\n\n1\n"},
		{Folder: "INBOX", ID: "2", Recv: recv, Body: "Subject: 2\n\n" + strings.Repeat("damaged soon\n", 1000)},
	}, more...)
	WriteArchive(t, gz, []string{"INBOX"}, items)
	return damage(t, gz, "damaged soon")
}
