package mbox

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
)

// A client rewriting an mbox file (compacting it after a deletion, writing
// flags into Status, X-Status and X-Mozilla-Status) changes every offset
// after the change and the bytes of the flagged messages; each message
// keeps its sourceId. Two identical messages, with or without a
// Message-ID, stay two.
func TestSourceIDSurvivesRewrite(t *testing.T) {
	with := func(id, extra string) string {
		return sep + "Message-ID: <" + id + "@x>\n" + extra + "Subject: " + id + "\n\nbody of " + id + "\n\n"
	}
	anon := func(extra string) string { return sep + "Subject: no id\n" + extra + "\nsame body\n\n" }
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f": with("gone", "") + with("a", "Status: O\n") + with("twin", "") +
		with("twin", "") + anon("") + anon("X-Mozilla-Status: 0000\n") + with("b", "")})
	before := exportDir(t, filepath.Join(dir, "f"), export.Options{})

	// "gone" deleted (every offset shifts), a read and flagged, one twin
	// and one anonymous copy marked read, b's Content-Length added.
	writeFiles(t, dir, map[string]string{"f": with("a", "Status: RO\nX-Status: F\n") + with("twin", "Status: RO\n") +
		with("twin", "") + anon("Status: RO\n") + anon("X-Mozilla-Status: 0001\n") + with("b", "Content-Length: 12\n")})
	after := exportDir(t, filepath.Join(dir, "f"), export.Options{})

	ids := func(s *exporttest.Sink) []string {
		var out []string
		for _, it := range s.Items {
			out = append(out, it.SourceID)
		}
		return out
	}
	b, a := ids(before), ids(after)
	if len(b) != 7 || len(a) != 6 {
		t.Fatalf("items before %v, after %v; want 7 and 6", b, a)
	}
	if !slices.Equal(b[1:], a) {
		t.Errorf("sourceIds changed by the rewrite:\nbefore %q\nafter  %q", b[1:], a)
	}
	want := []string{"f#<gone@x>", "f#<a@x>", "f#<twin@x>", "f#<twin@x>+2"}
	if !slices.Equal(b[:4], want) {
		t.Errorf("sourceIds %q, want %q first", b, want)
	}
	if b[4] == b[5] || b[5] != b[4]+"+2" {
		t.Errorf("the identical copies without Message-ID got %q and %q, want one identity, numbered", b[4], b[5])
	}
	if it := after.Items[0]; !slices.Contains(it.Flags, `\Flagged`) {
		t.Errorf("a's flags after the rewrite %v, want \\Flagged (the bytes changed)", it.Flags)
	}
}

// A copy Thunderbird marked expunged is no message: it takes no number,
// so compacting it away changes no sourceId.
func TestSourceIDIgnoresExpunged(t *testing.T) {
	m := func(extra string) string {
		return sep + "Message-ID: <dup@x>\n" + extra + "Subject: dup\n\nbody\n\n"
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f": m("X-Mozilla-Status: 0008\n") + m("")})
	before := exportDir(t, filepath.Join(dir, "f"), export.Options{})
	writeFiles(t, dir, map[string]string{"f": m("")})
	after := exportDir(t, filepath.Join(dir, "f"), export.Options{})
	if len(before.Items) != 1 || len(after.Items) != 1 || before.Items[0].SourceID != after.Items[0].SourceID ||
		before.Items[0].SourceID != "f#<dup@x>" {
		t.Errorf("before compaction %+v, after %+v; want one item f#<dup@x> both times", before.Items, after.Items)
	}
}
