package journal

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestJournalSurvivesReopenAndTornTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "alice.imap.journal")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	a, b := Key(sha256.Sum256([]byte("a"))), Key(sha256.Sum256([]byte("b")))
	if err := j.Write(Record{Key: a, State: Pending, Where: "INBOX"}, Record{Key: b, State: Pending, Where: "Sent"}); err != nil {
		t.Fatal(err)
	}
	if err := j.Write(Record{Key: a, State: Done, Where: "INBOX", Ref: "1700:1"}); err != nil {
		t.Fatal(err)
	}
	j.Close()

	// A kill in the middle of a write leaves half a line behind.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"key":"` + b.String() + `","state":"do`)
	f.Close()

	j, err = Open(path)
	if err != nil {
		t.Fatalf("reopen with a torn tail: %v", err)
	}
	defer j.Close()
	if st, ok := j.Lookup(a); !ok || st != Done {
		t.Errorf("Lookup(a) = %s, %v; want done", st, ok)
	}
	if st, ok := j.Lookup(b); !ok || st != Pending || !j.HasPending() {
		t.Errorf("Lookup(b) = %s, %v, HasPending %v; want b pending (its outcome was torn)", st, ok, j.HasPending())
	}
	// Where an item landed stays in the file, for people and tools.
	if recs, err := Records(path); err != nil || recs[a].Ref != "1700:1" || recs[a].State != Done || recs[b].State != Pending {
		t.Errorf("Records = %+v, %v; want a done at 1700:1, b pending", recs, err)
	}
	// New lines must start cleanly after the torn tail was dropped.
	if err := j.Write(Record{Key: b, State: Done, Where: "Sent", Ref: "1700:2"}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	j, err = Open(path)
	if err != nil {
		t.Fatalf("reopen after writing past a torn tail: %v", err)
	}
	if j.HasPending() || j.Len() != 2 {
		t.Errorf("after reopen: pending %v, %d known; want none and 2", j.HasPending(), j.Len())
	}
}

func TestJournalRefusesCorruptMiddle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	os.WriteFile(path, []byte("not json\n{}\n"), 0o644)
	if _, err := Open(path); err == nil {
		t.Fatal("a corrupt complete line must be an error, not silently dropped")
	}
}

func TestSelect(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	a, b := Key{1}, Key{2}
	if err := j.Write(Record{Key: a, State: Pending, Where: "x", Ref: "collection"}, Record{Key: b, State: Done, Where: "y"},
		Record{Key: a, State: Done, Where: "z", Ref: "collection"}); err != nil {
		t.Fatal(err)
	}
	got, err := j.Select(func(r Record) bool { return r.Ref == "collection" })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[a].Where != "z" || got[a].State != Done {
		t.Errorf("Select = %+v, want only a's latest record (z, done)", got)
	}
}

// TestPlacedAndScan checks what the journal tells beyond the state: which
// items are Done with a Ref, and every record in order, after a reopen.
func TestPlacedAndScan(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := Key{1}, Key{2}, Key{3}
	if err := j.Write(Record{Key: a, State: Pending, Where: "INBOX"}, Record{Key: b, State: Done, Where: "INBOX"},
		Record{Key: a, State: Done, Where: "INBOX", Ref: "7:42"}, Record{Key: c, State: Pending, Where: "X"}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if j, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if !j.Placed(a) || j.Placed(b) || j.Placed(c) {
		t.Errorf("placed: a %v b %v c %v; want true false false", j.Placed(a), j.Placed(b), j.Placed(c))
	}
	if st, _ := j.Lookup(b); st != Done {
		t.Errorf("b is %s, want done", st)
	}
	var refs []string
	if err := j.Scan(func(r Record) { refs = append(refs, r.Key.String()[:2]+r.Ref) }); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(refs); got != "[01 02 017:42 03]" {
		t.Errorf("scan: %s", got)
	}
}

// Journals name mailboxes and message ids: only their owner reads them.
func TestOpenCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "alice")
	j, err := Open(filepath.Join(dir, "j.journal"))
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "j.journal"): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got&^want != 0 {
			t.Errorf("%s has mode %v, want at most %v", path, got, want)
		}
	}
}

// A journal that cannot be created (here its directory cannot be made)
// says how to keep it elsewhere.
func TestOpenFailureNamesState(t *testing.T) {
	file := filepath.Join(t.TempDir(), "archive.tgz")
	os.WriteFile(file, nil, 0o600)
	_, err := Open(filepath.Join(file, "alice", "j.journal"))
	if err == nil || !strings.Contains(err.Error(), "--state DIR") {
		t.Errorf("Open: %v; want an error that says to pass --state DIR", err)
	}
}

// A dry run reads the journal and writes nothing: no directory, no file,
// no record.
func TestOpenReadOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "j.journal")
	j, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	if j.Len() != 0 || j.Scan(func(Record) { t.Error("a record in a missing journal") }) != nil {
		t.Error("a missing journal is not empty")
	}
	j.Close()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("OpenReadOnly created %s (%v)", dir, err)
	}
	k := Key(sha256.Sum256([]byte("a")))
	w, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(Record{Key: k, State: Done, Where: "INBOX"})
	w.Close()
	before, _ := os.ReadFile(path)
	j, err = OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := j.Lookup(k); !ok || st != Done {
		t.Errorf("read-only journal: %v %v, want done", st, ok)
	}
	if err := j.Write(Record{Key: k, State: Pending}); err == nil {
		t.Error("a read-only journal took a record")
	}
	j.Close()
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Errorf("the read-only journal changed the file:\n%s\nto\n%s", before, after)
	}
}

// TestGoneAndCutoverFields: a record of an item deleted on purpose reads
// back as Gone (neither pending nor done), and the cutover fields survive
// a reopen; an older line without them still reads.
func TestGoneAndCutoverFields(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	os.WriteFile(path, []byte(`{"key":"`+Key{9}.String()+`","state":"done","where":"INBOX","ref":"1:1","at":"2024-01-01T00:00:00Z"}`+"\n"), 0o600)
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	a, b := Key{1}, Key{2}
	if err := j.Write(Record{Key: a, State: Done, Where: "INBOX", Ref: "7:1", Source: "INBOX/u1", Folder: "INBOX", Flags: []string{`\Seen`}, MessageID: "<m@x>", Size: 42},
		Record{Key: b, State: Done, Where: "Trash", Ref: "7:2", Source: "Trash/u2", Folder: "Trash"},
		Record{Key: b, State: Gone, Where: "Trash", Ref: "7:2", Source: "Trash/u2", Folder: "Trash"}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if j, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if st, ok := j.Lookup(b); !ok || st != Gone || j.HasPending() || j.Placed(b) {
		t.Errorf("b: %s %v, pending %v, placed %v; want gone, nothing pending, not placed", st, ok, j.HasPending(), j.Placed(b))
	}
	if st, _ := j.Lookup(Key{9}); st != Done || !j.Placed(Key{9}) {
		t.Errorf("the old line reads as %s", st)
	}
	recs, err := Records(path)
	if r := recs[a]; err != nil || r.Source != "INBOX/u1" || r.Folder != "INBOX" || fmt.Sprint(r.Flags) != `[\Seen]` || r.MessageID != "<m@x>" || r.Size != 42 {
		t.Errorf("a read back as %+v, %v", r, err)
	}
}
