package format

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestScanSummary(t *testing.T) {
	for _, c := range []Compression{None, Gzip, Zstd} {
		path := filepath.Join(t.TempDir(), "a")
		if err := os.WriteFile(path, sampleArchive(t, c), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ScanSummary(context.Background(), path)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		_, ents, err := readAll(sampleArchive(t, c), nil)
		if err != nil {
			t.Fatal(err)
		}
		want := ents[len(ents)-1].Summary
		if want == nil || !reflect.DeepEqual(got.Counts, want.Counts) || len(got.Folders) != len(want.Folders) {
			t.Errorf("%s: scanned summary %+v, want %+v", c, got, want)
		}
	}
	// An archive without a summary has no totals to give.
	path := filepath.Join(t.TempDir(), "b")
	os.WriteFile(path, craftTar(t, validEnts(t)[:4]), 0o600)
	if _, err := ScanSummary(context.Background(), path); err == nil {
		t.Error("an archive without a summary gave one")
	}
}
