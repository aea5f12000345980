package maildir

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/format"
)

// A delta's state record lists every message of the Maildir with its
// folder and flags, read from the listing alone: a flag set, a move and a
// deletion since the full export show as exactly that, and only the new
// message is opened.
func TestDeltaStateFlagMoveDelete(t *testing.T) {
	root, out := t.TempDir(), t.TempDir()
	writeTree(t, root,
		file{path: "cur/1000000001.M1P1.host,S=38:2,S", body: msg("<a@x>", "a")},
		file{path: "cur/1000000002.M2P2.host:2,S", body: msg("<b@x>", "b")},
		file{path: "cur/1000000003.M3P3.host:2,S", body: msg("<c@x>", "c")},
		file{path: ".Archive/cur/1000000004.M4P4.host:2,RS", body: msg("<d@x>", "d")},
		file{path: ".Trash/cur/1000000005.M5P5.host:2,ST", body: msg("<e@x>", "e")},
	)
	full := exporttest.Export(t, "maildir", root, &Source{Root: root}, out, "")
	fullItems, fullState := exporttest.ReadArchive(t, full)
	if len(fullItems) != 5 || len(fullState) != 0 {
		t.Fatalf("full export: %d items, %d state lines; want 5 items and no state", len(fullItems), len(fullState))
	}

	mv := func(from, to string) {
		if err := os.Rename(filepath.Join(root, from), filepath.Join(root, to)); err != nil {
			t.Fatal(err)
		}
	}
	mv("cur/1000000002.M2P2.host:2,S", "cur/1000000002.M2P2.host:2,FS")         // flagged
	mv("cur/1000000003.M3P3.host:2,S", ".Archive/cur/1000000003.M3P3.host:2,S") // moved
	if err := os.Remove(filepath.Join(root, ".Trash/cur/1000000005.M5P5.host:2,ST")); err != nil {
		t.Fatal(err)
	}
	newName := fmt.Sprintf("%d.M6P6.host", time.Now().Add(time.Hour).Unix())
	writeTree(t, root, file{path: "new/" + newName, body: msg("<f@x>", "f")})

	var opened []string
	hookOpen(t, func(name string, open func() (*os.File, error)) (*os.File, error) {
		opened = append(opened, filepath.Base(name))
		return open()
	})
	delta := exporttest.Export(t, "maildir", root, &Source{Root: root}, t.TempDir(), full)
	items, state := exporttest.ReadArchive(t, delta)
	if !slices.Equal(opened, []string{newName}) {
		t.Errorf("the delta opened %q; want only the new message", opened)
	}
	if len(items) != 1 || items["INBOX/"+newName].SourceID == "" {
		t.Errorf("delta items %v; want the new message alone", items)
	}

	want := map[string]format.StateItem{
		"INBOX/1000000001.M1P1.host,S=38": {Kind: format.KindMessage, Folder: "INBOX", SourceID: "INBOX/1000000001.M1P1.host,S=38",
			Key: "1000000001.M1P1.host,S=38", Flags: []string{`\Seen`}, Received: time.Unix(1000000001, 0).UTC(), Size: 38},
		"INBOX/1000000002.M2P2.host": {Kind: format.KindMessage, Folder: "INBOX", SourceID: "INBOX/1000000002.M2P2.host",
			Key: "1000000002.M2P2.host", Flags: []string{`\Flagged`, `\Seen`}, Received: time.Unix(1000000002, 0).UTC()},
		"Archive/1000000003.M3P3.host": {Kind: format.KindMessage, Folder: "Archive", SourceID: "Archive/1000000003.M3P3.host",
			Key: "1000000003.M3P3.host", Flags: []string{`\Seen`}, Received: time.Unix(1000000003, 0).UTC()},
		"Archive/1000000004.M4P4.host": {Kind: format.KindMessage, Folder: "Archive", SourceID: "Archive/1000000004.M4P4.host",
			Key: "1000000004.M4P4.host", Flags: []string{`\Answered`, `\Seen`}, Received: time.Unix(1000000004, 0).UTC()},
		"INBOX/" + newName: {Kind: format.KindMessage, Folder: "INBOX", SourceID: "INBOX/" + newName,
			Key: newName, Received: items["INBOX/"+newName].Received},
	}
	for id, w := range want {
		got, ok := state[id]
		if !ok {
			t.Errorf("state misses %s", id)
			continue
		}
		slices.Sort(got.Flags)
		slices.Sort(w.Flags)
		if !reflect.DeepEqual(got, w) {
			t.Errorf("state of %s:\n got %+v\nwant %+v", id, got, w)
		}
	}
	if len(state) != len(want) {
		t.Errorf("state has %d lines, want %d: %v", len(state), len(want), state)
	}

	// What an importer reads from it, against the full archive.
	var flagged, moved, deleted []string
	keys := map[string]string{}
	for id, s := range state {
		keys[s.Key] = id
	}
	for id, it := range fullItems {
		s, ok := state[id]
		switch {
		case ok && !slices.Equal(sortedCopy(s.Flags), sortedCopy(it.Flags)):
			flagged = append(flagged, id)
		case !ok && keys[filepath.Base(id)] != "":
			moved = append(moved, id+" -> "+keys[filepath.Base(id)])
		case !ok:
			deleted = append(deleted, id)
		}
	}
	if !slices.Equal(flagged, []string{"INBOX/1000000002.M2P2.host"}) ||
		!slices.Equal(moved, []string{"INBOX/1000000003.M3P3.host -> Archive/1000000003.M3P3.host"}) ||
		!slices.Equal(deleted, []string{"Trash/1000000005.M5P5.host"}) {
		t.Errorf("from the state: flagged %q, moved %q, deleted %q", flagged, moved, deleted)
	}
}
