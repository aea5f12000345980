// Package localfiletest writes small archives for the tests of the local
// restore targets.
package localfiletest

import (
	"os"
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
}

// WriteArchive writes the folders ("path" for mail, "path|contacts" or
// "path|calendar" for others) and items to an archive at path.
func WriteArchive(t testing.TB, path string, folders []string, items []Item) {
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
		fi := format.Item{Kind: kind, Folder: it.Folder, Flags: it.Flags, Received: it.Recv, SourceID: it.ID}
		if err := w.AddItem(fi, strings.NewReader(it.Body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
