package mbox

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/format"
)

// stateMsg is a message of the state test, received in November 2026
// (before any export of it) unless from says otherwise.
func stateMsg(from, id, status string) string {
	return from + "Message-ID: <" + id + "@x>\n" + status + "Subject: " + id + "\n\nbody\n\n"
}

// A delta's state record lists every message of the mbox tree with its
// folder, flags (Status, X-Status, X-Keywords) and Message-ID, from the
// header scan: flags set, a move and a deletion since the full export
// show as exactly that (found by Message-ID: rewriting an mbox file shifts
// the offsets its SourceIDs hold).
func TestDeltaStateFlagMoveDelete(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	seen := "Status: RO\n"
	writeFiles(t, dir, map[string]string{
		"Inbox":   stateMsg(sep, "a", seen) + stateMsg(sep, "b", seen) + stateMsg(sep, "c", seen),
		"Archive": stateMsg(sep, "d", seen+"X-Status: A\n"),
		"Trash":   stateMsg(sep, "e", seen),
	})
	src := &Source{Path: dir}
	full := exporttest.Export(t, "mbox", dir, src, out, "")
	fullItems, fullState := exporttest.ReadArchive(t, full)
	if len(fullItems) != 5 || len(fullState) != 0 {
		t.Fatalf("full export: %d items, %d state lines; want 5 items and no state", len(fullItems), len(fullState))
	}

	// A client flags b, tags a, moves c to Archive, deletes e, and a new
	// message f arrives.
	future := "From a@example.com Thu Jan  7 12:00:00 2100\n"
	writeFiles(t, dir, map[string]string{
		"Inbox": stateMsg(sep, "a", seen+"X-Keywords: $Work\n") + stateMsg(sep, "b", seen+"X-Status: F\n") +
			stateMsg(future, "f", ""),
		"Archive": stateMsg(sep, "d", seen+"X-Status: A\n") + stateMsg(sep, "c", seen),
		"Trash":   "",
	})
	delta := exporttest.Export(t, "mbox", dir, src, t.TempDir(), full)
	items, state := exporttest.ReadArchive(t, delta)
	if len(items) != 1 {
		t.Errorf("delta items %v; want the new message alone", items)
	}
	for _, it := range items {
		if it.MessageID != "f@x" {
			t.Errorf("delta holds %s, want <f@x>", it.MessageID)
		}
	}

	// By Message-ID: folder and sorted flags.
	got := map[string]string{}
	for _, s := range state {
		flags := slices.Clone(s.Flags)
		slices.Sort(flags)
		got[s.MessageID] = s.Folder + " " + strings.Join(flags, ",")
		if s.Kind != format.KindMessage || s.Received.IsZero() {
			t.Errorf("state line %+v", s)
		}
		if it, ok := items[s.SourceID]; s.MessageID == "f@x" && (!ok || it.Folder != s.Folder) {
			t.Errorf("the new message's state has SourceID %s in %s, its item another (%+v)", s.SourceID, s.Folder, it)
		}
	}
	want := map[string]string{
		"a@x": `INBOX $Work,\Seen`,
		"b@x": `INBOX \Flagged,\Seen`,
		"f@x": `INBOX `,
		"d@x": `Archive \Answered,\Seen`,
		"c@x": `Archive \Seen`,
	}
	if len(got) != len(want) || len(state) != len(want) {
		t.Errorf("state %v (%d lines); want %v", got, len(state), want)
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("state of %s: %q, want %q", id, got[id], w)
		}
	}
	// The Trash file is still a folder, now empty: e is gone from the state.
	if _, err := os.Stat(filepath.Join(dir, "Trash")); err != nil {
		t.Fatal(err)
	}
}
