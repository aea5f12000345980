package exporttest

import (
	"io"
	"testing"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/format"
)

// ReadArchive reads the archive at path, checking it whole, and returns
// its items and its state record, each by SourceID (a SourceID the state
// lists twice fails the test).
func ReadArchive(t testing.TB, path string) (items map[string]format.Item, state map[string]format.StateItem) {
	t.Helper()
	items, state = map[string]format.Item{}, map[string]format.StateItem{}
	r, err := format.Open(path, &format.ReaderOptions{State: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		e, err := r.Next()
		if err == io.EOF {
			return items, state
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Item != nil {
			items[e.Item.SourceID] = *e.Item
		}
		for s, err := range stateOf(e) {
			if err != nil {
				t.Fatal(err)
			}
			if _, dup := state[s.SourceID]; dup {
				t.Errorf("%s: the state lists %s twice", path, s.SourceID)
			}
			state[s.SourceID] = s
		}
	}
}

func stateOf(e *format.Entry) func(func(format.StateItem, error) bool) {
	if e.State == nil {
		return func(func(format.StateItem, error) bool) {}
	}
	return e.State
}

// Export runs one export job of src (of kind, at path) into out as the
// command line does, a delta when since names the archive it follows,
// and returns the archive's path.
func Export(t testing.TB, kind, path string, src export.Source, out, since string) string {
	t.Helper()
	rep, err := export.Run(t.Context(), export.Job{
		User: "alice@example.org", Kind: kind, Path: path,
		Source: src, Out: out, Since: since, Compress: "zstd",
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep.Archive
}
