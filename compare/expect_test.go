package compare

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
)

type testItem struct {
	folder, id, msgid, body string
	flags                   []string
}

// writeArchive writes an archive of mail items, with a state record when
// state is not nil.
func writeArchive(t *testing.T, dir string, after time.Time, items []testItem, state []format.StateItem) string {
	t.Helper()
	f, err := format.Create(dir, format.Manifest{User: "alice", After: after, Source: format.Source{Kind: "test"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	folders := map[string]bool{}
	for _, it := range items {
		if !folders[it.folder] {
			folders[it.folder] = true
			if err := f.AddFolder(format.Folder{Kind: format.FolderMail, Path: it.folder}); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.AddItem(format.Item{Kind: format.KindMessage, Folder: it.folder, SourceID: it.id, MessageID: it.msgid,
			Flags: it.flags, Received: time.Unix(1700000000, 0)}, strings.NewReader(it.body)); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range state {
		if err := f.AddState(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Path()
}

// crlfKey counts a body as the IMAP importer sends it (each LF a CRLF),
// with the Message-ID the test gives in the body's first line.
func crlfKey(body io.Reader) (string, int64, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return "", 0, err
	}
	id, _, _ := strings.Cut(string(b), "\n")
	return id, int64(len(b) + strings.Count(string(b), "\n")), nil
}

func flat(ex *Expected) []string {
	var out []string
	for _, f := range ex.Folders {
		for _, it := range ex.Items[f.Path] {
			out = append(out, f.Path+" "+it.Ref+" "+it.MessageID+" "+strings.Join(it.Flags, ","))
		}
	}
	return out
}

// TestReadUnion: without a state record, every item of the archives,
// the latest version of a sourceId winning, keyed by Options.Key.
func TestReadUnion(t *testing.T) {
	dir := t.TempDir()
	full := writeArchive(t, dir, time.Time{}, []testItem{
		{folder: "INBOX", id: "INBOX/u1", body: "<a>\nA\n"},
		{folder: "INBOX", id: "INBOX/u2", body: "<b>\nB\n"},
	}, nil)
	delta := writeArchive(t, dir, time.Unix(1700000000, 0), []testItem{
		{folder: "INBOX", id: "INBOX/u2", body: "<b>\nB\n", flags: []string{`\Seen`}}, // b read since
		{folder: "Sent", id: "Sent/u3", body: "<c>\nC\n"},
	}, nil)
	ex, err := Read(context.Background(), []string{full, delta}, Options{Kinds: []format.Kind{format.KindMessage}, Key: crlfKey})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"INBOX INBOX/u1 <a> ", `INBOX INBOX/u2 <b> \Seen`, "Sent Sent/u3 <c> "}
	if got := flat(ex); !slices.Equal(got, want) || ex.State != "" {
		t.Errorf("expected %q (state %q); want %q", got, ex.State, want)
	}
	if ex.Items["INBOX"][0].Size != 8 {
		t.Errorf("size %d; want 8, the CRLF size Key gives", ex.Items["INBOX"][0].Size)
	}
}

// TestReadState: the last archive's state record is the whole truth:
// folders and flags from it, keys from the item records it names (by
// sourceId, or for a moved message by its key), a deleted item gone.
func TestReadState(t *testing.T) {
	dir := t.TempDir()
	full := writeArchive(t, dir, time.Time{}, []testItem{
		{folder: "INBOX", id: "INBOX/u1", body: "<a>\nA\n"},
		{folder: "INBOX", id: "INBOX/u2", body: "<b>\nB\n"},
		{folder: "Trash", id: "Trash/u3", body: "<c>\nC\n"},
	}, nil)
	delta := writeArchive(t, dir, time.Unix(1700000000, 0), []testItem{
		{folder: "INBOX", id: "INBOX/u4", body: "<d>\nD\n"},
	}, []format.StateItem{
		{Kind: format.KindMessage, Folder: "INBOX", SourceID: "INBOX/u1", Key: "u1", Flags: []string{`\Seen`}},
		{Kind: format.KindMessage, Folder: "Archive", SourceID: "Archive/u2", Key: "u2"}, // moved
		{Kind: format.KindMessage, Folder: "INBOX", SourceID: "INBOX/u4", Key: "u4"},
		{Kind: format.KindMessage, Folder: "INBOX", SourceID: "INBOX/u9", Key: "u9", MessageID: "<z>", Size: 3}, // in no archive
	})
	ex, err := Read(context.Background(), []string{full, delta}, Options{Kinds: []format.Kind{format.KindMessage}, Key: crlfKey})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`INBOX INBOX/u1 <a> \Seen`, "INBOX INBOX/u4 <d> ", "INBOX INBOX/u9 <z> ", "Archive Archive/u2 <b> "}
	if got := flat(ex); !slices.Equal(got, want) || ex.State != delta {
		t.Errorf("expected %q (state %q); want %q from the delta's state", got, ex.State, want)
	}
	if len(ex.Items["Trash"]) != 0 {
		t.Errorf("Trash expects %v; the state says it was deleted", ex.Items["Trash"])
	}
	if len(ex.Notes) != 1 || !strings.Contains(ex.Notes[0], "1 items of the state record are in none of the archives") {
		t.Errorf("notes %q", ex.Notes)
	}
	// A state record in an earlier archive only: the union, with a note.
	ex, err = Read(context.Background(), []string{delta, full}, Options{Kinds: []format.Kind{format.KindMessage}, Key: crlfKey})
	if err != nil || ex.State != "" || len(flat(ex)) != 4 || len(ex.Notes) != 1 || !strings.Contains(ex.Notes[0], "has no state record") {
		t.Errorf("state not last: %v %q %q %q", err, ex.State, flat(ex), ex.Notes)
	}
}

// TestReadStateShiftedOffset: an mbox's sourceId is an offset, and a
// rewrite of the file gives a deleted message's offset to another one.
// The state line's Message-ID tells that the item record of that sourceId
// is another message: expected is the one the state names (by its
// Message-ID), never the deleted one, whose presence on the target would
// hide the other's absence.
func TestReadStateShiftedOffset(t *testing.T) {
	dir := t.TempDir()
	full := writeArchive(t, dir, time.Time{}, []testItem{
		{folder: "INBOX", id: "INBOX:0", msgid: "<a>", body: "<a>\nA\n"},
		{folder: "INBOX", id: "INBOX:100", msgid: "<b>", body: "<b>\nBB\n"},
	}, nil)
	// a deleted: b now starts at 0.
	delta := writeArchive(t, dir, time.Unix(1700000000, 0), nil, []format.StateItem{
		{Kind: format.KindMessage, Folder: "INBOX", SourceID: "INBOX:0", MessageID: "b"},
	})
	ex, err := Read(context.Background(), []string{full, delta}, Options{Kinds: []format.Kind{format.KindMessage}, Key: crlfKey})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := flat(ex), []string{"INBOX INBOX:0 <b> "}; !slices.Equal(got, want) {
		t.Fatalf("expected %q; want %q (b, which the state line names)", got, want)
	}
	if it := ex.Items["INBOX"][0]; it.Size != 9 {
		t.Errorf("size %d; want 9, b's CRLF size", it.Size)
	}
	// The target holding a (deleted at the source, the deletion not
	// applied) but not b: b is missing.
	var f Folder
	Mail(&f, []Message{ex.Items["INBOX"][0].Message}, []Message{{MessageID: "<a>", Size: 8, Ref: "UID 1"}})
	if len(f.Missing) != 1 || f.Missing[0].MessageID != "<b>" {
		t.Errorf("missing %+v; want b", f.Missing)
	}
}
