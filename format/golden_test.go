package format

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const (
	goldenArchive = "testdata/golden/sample.tar"
	goldenListing = "testdata/golden/sample.list"
)

// listing is a `tar tv`-like listing: mode, size, mtime and name of every
// entry, as archive/tar reads them.
func listing(t testing.TB, plain []byte) string {
	t.Helper()
	var b strings.Builder
	tr := tar.NewReader(bytes.NewReader(plain))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return b.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %8d %s %s\n", os.FileMode(hdr.Mode).Perm(), hdr.Size, hdr.ModTime.UTC().Format("2006-01-02 15:04:05"), hdr.Name)
	}
}

// TestGolden pins the bytes the Writer produces for the sample archive.
// A change here changes the format: see the versioning rule in FORMAT.md.
func TestGolden(t *testing.T) {
	got := sampleArchive(t, None)
	gotList := listing(t, got)
	if *update {
		os.MkdirAll(filepath.Dir(goldenArchive), 0o755)
		if err := os.WriteFile(goldenArchive, got, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenListing, []byte(gotList), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenArchive)
	if err != nil {
		t.Fatalf("%v (run go test ./format -run TestGolden -update)", err)
	}
	wantList, err := os.ReadFile(goldenListing)
	if err != nil {
		t.Fatal(err)
	}
	if gotList != string(wantList) {
		t.Errorf("listing differs from %s:\ngot:\n%s\nwant:\n%s", goldenListing, gotList, wantList)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("archive differs from %s (%d bytes, want %d); rerun with -update if the change is intended", goldenArchive, len(got), len(want))
	}
}

// TestGoldenReads keeps archives written by this version readable by
// later ones.
func TestGoldenReads(t *testing.T) {
	data, err := os.ReadFile(goldenArchive)
	if err != nil {
		t.Fatal(err)
	}
	_, entries, err := readAll(data, &ReaderOptions{Name: goldenArchive})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(entries); n != len(sampleFolders())+len(sampleItems())+1 {
		t.Errorf("read %d entries, want %d", n, len(sampleFolders())+len(sampleItems())+1)
	}
}
