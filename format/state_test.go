package format

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

const goldenDelta = "testdata/golden/delta-state.tar"

// sampleState is the state record of the sample delta: a message whose
// data is in the archive, one that is not (moved: its Key stays), and a
// contact and an event with their digests.
func sampleState() []StateItem {
	return []StateItem{
		{Kind: KindMessage, Folder: "INBOX", SourceID: "1700000001.M1P1.mx1", Key: "1700000001.M1P1.mx1",
			Flags: []string{`\Seen`, `\Flagged`, "$Forwarded"}, Received: time.Date(2024, 3, 1, 9, 20, 30, 0, time.UTC), Size: 82},
		{Kind: KindMessage, Folder: "Work/2024", SourceID: "Work/2024/1600000000.M9P9.mx1", Key: "1600000000.M9P9.mx1",
			Flags: []string{`\Seen`}, MessageID: "<old@example.com>"},
		{Kind: KindContact, Folder: "Personal", SourceID: "c1", UID: "contact-1", SHA256: sha([]byte("x"))},
		{Kind: KindEvent, Folder: "Calendar", SourceID: "e1", UID: "event-1", SHA256: sha([]byte("y"))},
	}
}

// deltaArchive is the sample archive as a delta with its state record.
func deltaArchive(t testing.TB, c Compression, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	m := testManifest()
	m.After = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	w, err := NewWriter(&buf, m, &WriterOptions{Compression: c, Now: fixedClock, SpillDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	writeSample(t, w)
	for _, s := range sampleState() {
		if err := w.AddState(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readState reads an archive with ReaderOptions.State and returns its
// entries other than the state, and the state's items.
func readState(data []byte) ([]readEntry, []StateItem, error) {
	r, err := NewReader(bytes.NewReader(data), &ReaderOptions{Name: "delta", State: true})
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	var ents []readEntry
	var st []StateItem
	for {
		e, err := r.Next()
		if err == io.EOF {
			return ents, st, nil
		}
		if err != nil {
			return ents, st, err
		}
		if e.State == nil {
			ents = append(ents, readEntry{Entry: e})
			continue
		}
		for it, err := range e.State {
			if err != nil {
				return ents, st, err
			}
			st = append(st, it)
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	for _, c := range []Compression{None, Gzip, Zstd} {
		t.Run(string(c), func(t *testing.T) {
			data := deltaArchive(t, c, t.TempDir())
			ents, st, err := readState(data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(st, sampleState()) {
				t.Errorf("state read back:\n%+v\nwant:\n%+v", st, sampleState())
			}
			if n := len(ents); n != len(sampleFolders())+len(sampleItems())+1 {
				t.Errorf("read %d entries besides the state, want %d", n, len(sampleFolders())+len(sampleItems())+1)
			}
			sum := ents[len(ents)-1].Summary
			if sum == nil || sum.State == nil || *sum.State != (Counts{Messages: 2, Contacts: 1, Events: 1, Bytes: 82}) {
				t.Errorf("summary announces state %+v", sum)
			}
			// Without asking, the reader checks the record and hands out
			// the same entries as for an archive without one.
			_, plain, err := readAll(data, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(plain) != len(ents) {
				t.Errorf("read %d entries without State, %d with", len(plain), len(ents))
			}
		})
	}
}

// TestStateOldReader: the state record is the archive's tail, after the
// end-of-archive blocks, so what a format 1 reader of before it (and tar)
// reads is the archive as it would be without it. The golden delta pins
// the bytes; the main branch's reader was run on it by hand as well
// (see the commit).
func TestStateOldReader(t *testing.T) {
	got := deltaArchive(t, None, t.TempDir())
	if *update {
		if err := os.WriteFile(goldenDelta, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenDelta)
	if err != nil {
		t.Fatalf("%v (run go test ./format -run TestStateOldReader -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("delta archive differs from %s; rerun with -update if the change is intended", goldenDelta)
	}
	// tar (and archive/tar) stop at the end-of-archive blocks: the
	// listing is that of the archive without the state, but for the
	// summary's one added field.
	var plain bytes.Buffer
	m := testManifest()
	m.After = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	w, err := NewWriter(&plain, m, &WriterOptions{Compression: None, Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	writeSample(t, w)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	gotList, wantList := listing(t, want), listing(t, plain.Bytes())
	if cut(gotList) != cut(wantList) || !strings.HasSuffix(gotList, " summary.json\n") {
		t.Errorf("tar listing of the delta:\n%s\nwithout state:\n%s", gotList, wantList)
	}
	// The tail is a tar stream of its own, for a reader that goes on
	// past the end blocks.
	tail := tar.NewReader(readerAfterEnd(t, want))
	hdr, err := tail.Next()
	if err != nil || hdr.Name != stateName {
		t.Fatalf("tail starts with %v, %v; want %s", hdr, err, stateName)
	}
}

// cut is a listing without its last line (the summary's).
func cut(list string) string {
	return list[:strings.LastIndexByte(strings.TrimSuffix(list, "\n"), '\n')+1]
}

// readerAfterEnd returns what follows the end-of-archive blocks of the
// plain tar data.
func readerAfterEnd(t *testing.T, data []byte) io.Reader {
	t.Helper()
	r := bytes.NewReader(data)
	tr := tar.NewReader(r)
	for {
		if _, err := tr.Next(); err == io.EOF {
			return r
		} else if err != nil {
			t.Fatal(err)
		}
	}
}

// tailArchive is validEnts' archive with the summary announcing state
// and the given tail entries after its end blocks.
func tailArchive(t *testing.T, announce *Counts, tail []ent) []byte {
	t.Helper()
	ents := validEnts(t)
	var s Summary
	if err := json.Unmarshal(ents[len(ents)-1].body, &s); err != nil {
		t.Fatal(err)
	}
	s.State = announce
	ents[len(ents)-1].body = mustJSON(t, s)
	data := craftTar(t, ents)
	if tail != nil {
		data = append(data, craftTar(t, tail)...)
	}
	return data
}

func stateLines(t *testing.T, items ...StateItem) []byte {
	var b bytes.Buffer
	for _, it := range items {
		b.Write(mustJSON(t, it))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func TestStateRefused(t *testing.T) {
	msg := StateItem{Kind: KindMessage, Folder: "INBOX", SourceID: "a", Size: 5}
	one := &Counts{Messages: 1, Bytes: 5}
	cases := []struct {
		name     string
		announce *Counts
		tail     []ent
		want     error
	}{
		{"announced, missing", one, nil, ErrTruncated},
		{"not announced", nil, []ent{{name: stateName, body: stateLines(t, msg)}}, ErrStructure},
		{"counts differ", &Counts{Messages: 2, Bytes: 5}, []ent{{name: stateName, body: stateLines(t, msg)}}, ErrStructure},
		{"bad line", one, []ent{{name: stateName, body: []byte("{\"kind\":\n")}}, ErrStructure},
		{"unknown kind", one, []ent{{name: stateName, body: stateLines(t, StateItem{Kind: "fax", Folder: "INBOX", SourceID: "a"})}}, ErrStructure},
		{"no sourceId", one, []ent{{name: stateName, body: stateLines(t, StateItem{Kind: KindMessage, Folder: "INBOX"})}}, ErrStructure},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := tailArchive(t, tc.announce, tc.tail)
			_, _, err := readAll(data, &ReaderOptions{Name: "crafted"})
			checkErr(t, err, tc.want, "crafted")
			_, _, err = readState(data)
			if !errors.Is(err, tc.want) {
				t.Errorf("with State: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestStateTailUnknownSkipped: a later version may add tail entries of
// its own; this reader skips them, as it skips the whole tail when asked
// nothing.
func TestStateTailUnknownSkipped(t *testing.T) {
	msg := StateItem{Kind: KindMessage, Folder: "INBOX", SourceID: "a", Flags: []string{`\Seen`}}
	data := tailArchive(t, &Counts{Messages: 1}, []ent{
		{name: "future.json", body: []byte("{}")},
		{name: stateName, body: stateLines(t, msg)},
		{name: "later.bin", body: []byte("zz")},
	})
	_, st, err := readState(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st, []StateItem{msg}) {
		t.Errorf("state %+v", st)
	}
}

// TestStateEarlyStop: a caller that stops walking the state early still
// gets the rest checked by Next.
func TestStateEarlyStop(t *testing.T) {
	data := deltaArchive(t, Gzip, t.TempDir())
	r, err := NewReader(bytes.NewReader(data), &ReaderOptions{State: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	seen := 0
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.State == nil {
			continue
		}
		for range e.State {
			seen++
			break
		}
	}
	if seen != 1 {
		t.Errorf("walked %d state items, want 1", seen)
	}
}

// TestStateFlatMemory writes and reads a state record of 300,000 items
// (a large mailbox's) and checks that neither side holds it in memory:
// the writer spools it to a file, the reader walks it line by line.
func TestStateFlatMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 300,000 state items")
	}
	const n = 300_000
	dir := t.TempDir()
	path := filepath.Join(dir, "big.tar.zst")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(f, testManifest(), &WriterOptions{Compression: Zstd, SpillDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.AddFolder(Folder{Kind: FolderMail, Path: "INBOX"}); err != nil {
		t.Fatal(err)
	}
	base := heap()
	var peak uint64
	for i := range n {
		s := StateItem{Kind: KindMessage, Folder: "INBOX", SourceID: fmt.Sprintf("INBOX/%d.M%dP1.host,S=4242", 1700000000+i, i),
			Key: fmt.Sprintf("%d.M%dP1.host,S=4242", 1700000000+i, i), Flags: []string{`\Seen`, "$Label1"}, Size: 4242}
		if err := w.AddState(s); err != nil {
			t.Fatal(err)
		}
		if i%50_000 == 0 {
			peak = max(peak, heap())
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// 300,000 lines are some 45 MB of JSON; the writer holds buffers.
	if grown := int64(peak) - int64(base); grown > 16<<20 {
		t.Errorf("writer heap grew by %d MB while adding state", grown>>20)
	}
	count := 0
	peak = 0
	for it, err := range ReadState(path, nil) {
		if err != nil {
			t.Fatal(err)
		}
		if it.Size != 4242 {
			t.Fatalf("item %d: %+v", count, it)
		}
		if count++; count%50_000 == 0 {
			peak = max(peak, heap())
		}
	}
	if count != n {
		t.Errorf("read %d state items, want %d", count, n)
	}
	if grown := int64(peak) - int64(base); grown > 32<<20 {
		t.Errorf("reader heap grew by %d MB while walking the state", grown>>20)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("spool files left in the output directory: %v", ents)
	}
}

func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestStateTrailingBytes: bytes after the compressed stream are still
// not the archive's when it has a tail.
func TestStateTrailingBytes(t *testing.T) {
	for _, c := range []Compression{Gzip, Zstd} {
		data := append(deltaArchive(t, c, t.TempDir()), "garbage after the stream"...)
		if _, st, err := readState(data); err != nil || len(st) != len(sampleState()) {
			t.Errorf("%s with trailing bytes: %d state items, %v", c, len(st), err)
		}
	}
}
