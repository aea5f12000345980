package format

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	for _, c := range []Compression{Gzip, Zstd, None} {
		t.Run(string(c), func(t *testing.T) {
			data := sampleArchive(t, c)
			r, entries, err := readAll(data, &ReaderOptions{Name: "sample"})
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if got := r.Compression(); got != c {
				t.Errorf("Compression() = %q, want %q", got, c)
			}
			m := r.Manifest()
			want := testManifest()
			want.Format = Version
			if !reflect.DeepEqual(m, want) {
				t.Errorf("manifest = %+v, want %+v", m, want)
			}

			var folders []Folder
			var items []readEntry
			var sum *Summary
			for _, e := range entries {
				switch {
				case e.Folder != nil:
					folders = append(folders, *e.Folder)
				case e.Item != nil:
					items = append(items, e)
				case e.Summary != nil:
					sum = e.Summary
				}
			}
			if !reflect.DeepEqual(folders, sampleFolders()) {
				t.Errorf("folders = %+v, want %+v", folders, sampleFolders())
			}
			wantItems := sampleItems()
			if len(items) != len(wantItems) {
				t.Fatalf("read %d items, want %d", len(items), len(wantItems))
			}
			roles := map[string]Role{}
			for _, f := range sampleFolders() {
				roles[string(f.Kind)+f.Path] = f.Role
			}
			for i, got := range items {
				w := wantItems[i]
				if !bytes.Equal(got.body, w.body) {
					t.Errorf("item %s: body %q, want %q", w.SourceID, got.body, w.body)
				}
				g := *got.Item
				if !g.Received.Equal(w.Received) || g.Received.Location() != time.UTC {
					t.Errorf("item %s: received %v, want %v in UTC", w.SourceID, g.Received, w.Received)
				}
				if g.Size != int64(len(w.body)) || g.SHA256 != sha(w.body) {
					t.Errorf("item %s: size %d sha %s, want %d %s", w.SourceID, g.Size, g.SHA256, len(w.body), sha(w.body))
				}
				if wantRole := roles[string(w.Kind.FolderKind())+w.Folder]; g.Role != wantRole {
					t.Errorf("item %s: role %q, want the folder's %q", w.SourceID, g.Role, wantRole)
				}
				g.Received, g.Size, g.SHA256, g.Role = w.Received, w.Size, w.SHA256, w.Role
				if !reflect.DeepEqual(g, w.Item) {
					t.Errorf("item = %+v\nwant %+v", g, w.Item)
				}
				if !strings.HasSuffix(got.Name, w.Kind.Ext()) || got.MetaName != strings.TrimSuffix(got.Name, w.Kind.Ext())+".meta" {
					t.Errorf("item %s: entry %s, meta %s", w.SourceID, got.Name, got.MetaName)
				}
			}

			if sum == nil {
				t.Fatal("no summary")
			}
			if !sum.Finished.Equal(testFinished) {
				t.Errorf("summary finished %v, want %v", sum.Finished, testFinished)
			}
			wantCounts := Counts{Messages: 5, Contacts: 1, Events: 1, Tasks: 1}
			for _, it := range wantItems {
				wantCounts.Bytes += int64(len(it.body))
			}
			if sum.Counts != wantCounts {
				t.Errorf("summary counts %+v, want %+v", sum.Counts, wantCounts)
			}
			if got := r.Counts(); got != wantCounts {
				t.Errorf("reader counts %+v, want %+v", got, wantCounts)
			}
			if len(sum.Folders) != len(sampleFolders()) {
				t.Fatalf("summary lists %d folders, want %d", len(sum.Folders), len(sampleFolders()))
			}
			inbox := sum.Folders[0]
			if inbox.Path != "INBOX" || inbox.Role != RoleInbox || inbox.Messages != 2 || inbox.Bytes != int64(len(wantItems[0].body)) {
				t.Errorf("summary INBOX = %+v", inbox)
			}
			if empty := sum.Folders[3]; empty.Path != "Empty" || empty.Items() != 0 {
				t.Errorf("summary Empty = %+v", empty)
			}
			wantErrs := []Problem{{Folder: "INBOX", Item: "1700000003.M3P3.mx1", Reason: "permission denied"}}
			wantWarns := []Problem{{Folder: "Calendar", Item: "e1", Reason: "UID generated"}}
			if !reflect.DeepEqual(sum.Errors, wantErrs) || !reflect.DeepEqual(sum.Warnings, wantWarns) {
				t.Errorf("summary errors %+v warnings %+v, want %+v %+v", sum.Errors, sum.Warnings, wantErrs, wantWarns)
			}
			if want := map[string]int{"expunged": 3, "received before the cutoff": 4}; !reflect.DeepEqual(sum.Skipped, want) {
				t.Errorf("summary skipped %v, want %v", sum.Skipped, want)
			}
		})
	}
}

func TestWriterSummaryMatchesArchive(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testManifest(), &WriterOptions{Compression: None, Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	writeSample(t, w)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, entries, err := readAll(buf.Bytes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	last := entries[len(entries)-1].Summary
	if got := w.Summary(); !reflect.DeepEqual(got, *last) {
		t.Errorf("Writer.Summary() = %+v\narchive's summary %+v", got, *last)
	}
}

func TestWriterMaxProblems(t *testing.T) {
	w, err := NewWriter(io.Discard, testManifest(), &WriterOptions{Compression: None, MaxProblems: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		w.AddError(Problem{Item: string(rune('a' + i)), Reason: "bad"})
	}
	w.AddWarning(Problem{Item: "w", Reason: "odd"})
	s := w.Summary()
	if len(s.Errors) != 3 || len(s.Warnings) != 0 || s.Truncated != 3 {
		t.Errorf("errors %d warnings %d truncated %d, want 3 0 3", len(s.Errors), len(s.Warnings), s.Truncated)
	}
}

func TestWriterRefuses(t *testing.T) {
	tests := []struct {
		name string
		do   func(w *Writer) error
		want string
	}{
		{"item before its folder", func(w *Writer) error {
			return w.AddItem(Item{Kind: KindMessage, Folder: "INBOX", SourceID: "x"}, strings.NewReader("x"))
		}, "not added first"},
		{"item in a folder of another kind", func(w *Writer) error {
			w.AddFolder(Folder{Kind: FolderMail, Path: "Personal"})
			return w.AddItem(Item{Kind: KindContact, Folder: "Personal", SourceID: "x"}, strings.NewReader("x"))
		}, "not added first"},
		{"folder twice", func(w *Writer) error {
			w.AddFolder(Folder{Kind: FolderMail, Path: "INBOX"})
			return w.AddFolder(Folder{Kind: FolderMail, Path: "INBOX"})
		}, "added twice"},
		{"empty path", func(w *Writer) error { return w.AddFolder(Folder{Kind: FolderMail}) }, "empty path"},
		{"empty level", func(w *Writer) error { return w.AddFolder(Folder{Kind: FolderMail, Path: "a//b"}) }, "empty level"},
		{"leading slash", func(w *Writer) error { return w.AddFolder(Folder{Kind: FolderMail, Path: "/a"}) }, "empty level"},
		{"trailing slash", func(w *Writer) error { return w.AddFolder(Folder{Kind: FolderMail, Path: "a/"}) }, "empty level"},
		{"dot-dot level", func(w *Writer) error { return w.AddFolder(Folder{Kind: FolderMail, Path: "a/../b"}) }, `".." level`},
		{"dot level", func(w *Writer) error { return w.AddFolder(Folder{Kind: FolderMail, Path: "."}) }, `"." level`},
		{"NUL", func(w *Writer) error { return w.AddFolder(Folder{Kind: FolderMail, Path: "a\x00b"}) }, "NUL"},
		{"unknown folder kind", func(w *Writer) error { return w.AddFolder(Folder{Kind: "notes", Path: "a"}) }, "unknown kind"},
		{"unknown item kind", func(w *Writer) error {
			w.AddFolder(Folder{Kind: FolderMail, Path: "INBOX"})
			return w.AddItem(Item{Kind: "memo", Folder: "INBOX"}, strings.NewReader("x"))
		}, "unknown kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := NewWriter(io.Discard, testManifest(), &WriterOptions{Compression: None})
			if err != nil {
				t.Fatal(err)
			}
			err = tt.do(w)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "format: ") {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
			// A refused call leaves the archive usable.
			if err := w.Close(); err != nil {
				t.Errorf("Close after a refused call: %v", err)
			}
		})
	}
}

func TestWriterSameNameDifferentKinds(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, testManifest(), &WriterOptions{Compression: None})
	for _, k := range []FolderKind{FolderMail, FolderContacts, FolderCalendar} {
		if err := w.AddFolder(Folder{Kind: k, Path: "Shared"}); err != nil {
			t.Fatalf("AddFolder(%s Shared): %v", k, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readAll(buf.Bytes(), nil); err != nil {
		t.Fatal(err)
	}
}

// failingWriter fails every write after the first n bytes.
type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		return 0, os.ErrClosed
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriterErrorIsSticky(t *testing.T) {
	w, err := NewWriter(&failingWriter{n: 2048}, testManifest(), &WriterOptions{Compression: None})
	if err != nil {
		t.Fatal(err)
	}
	w.AddFolder(Folder{Kind: FolderMail, Path: "INBOX"})
	big := bytes.Repeat([]byte("x"), 10000)
	first := w.AddItem(Item{Kind: KindMessage, Folder: "INBOX"}, bytes.NewReader(big))
	if first == nil {
		t.Fatal("AddItem into a failing writer succeeded")
	}
	if err := w.AddFolder(Folder{Kind: FolderMail, Path: "Other"}); err == nil {
		t.Error("AddFolder after a write error succeeded")
	}
	if err := w.Close(); err == nil {
		t.Error("Close after a write error succeeded")
	}
}

func TestSpill(t *testing.T) {
	spillDir := t.TempDir()
	// The archive goes to a file so that only the Writer's own memory
	// is measured.
	out, err := os.Create(filepath.Join(t.TempDir(), "out.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	opt := &WriterOptions{Compression: None, SpillDir: spillDir, SpillThreshold: 1024}
	w, err := NewWriter(out, testManifest(), opt)
	if err != nil {
		t.Fatal(err)
	}
	w.AddFolder(Folder{Kind: FolderMail, Path: "INBOX"})
	small := []byte("small\n")
	bodies := [][]byte{small, makeMail(4 << 20), small, makeMail(5000), makeMail(1025)}

	for i, b := range bodies {
		// The large item's heap cost must not grow with its size.
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		err := w.AddItem(Item{Kind: KindMessage, Folder: "INBOX", SourceID: string(rune('a' + i))}, &onlyReader{bytes.NewReader(b)})
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatalf("AddItem %d: %v", i, err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; len(b) > 1<<20 && alloc > 1<<20 {
			t.Errorf("item of %d bytes allocated %d bytes", len(b), alloc)
		}
		if i == 1 {
			if n := w.buf.Cap(); n > 4*1024 {
				t.Errorf("memory buffer grew to %d bytes for a spilled item; threshold 1024", n)
			}
			if w.spill == nil {
				t.Error("a 4 MiB item with a 1 KiB threshold did not use the spill file")
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(spillDir); len(left) != 0 {
		t.Errorf("spill directory holds %d files after Close, want none (unlinked at once)", len(left))
	}
	data, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	_, entries, err := readAll(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	for _, e := range entries {
		if e.Item != nil {
			got = append(got, e.body)
		}
	}
	if len(got) != len(bodies) {
		t.Fatalf("read %d items, want %d", len(got), len(bodies))
	}
	for i := range bodies {
		if !bytes.Equal(got[i], bodies[i]) {
			t.Errorf("item %d: %d bytes read back differ from the %d written", i, len(got[i]), len(bodies[i]))
		}
	}
}

// onlyReader hides WriterTo and other fast paths.
type onlyReader struct{ r io.Reader }

func (o *onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestSpillDirMissing(t *testing.T) {
	w, _ := NewWriter(io.Discard, testManifest(), &WriterOptions{Compression: None, SpillThreshold: 10,
		SpillDir: filepath.Join(t.TempDir(), "missing")})
	w.AddFolder(Folder{Kind: FolderMail, Path: "INBOX"})
	err := w.AddItem(Item{Kind: KindMessage, Folder: "INBOX", SourceID: "big"}, strings.NewReader(strings.Repeat("x", 100)))
	if err == nil || !strings.Contains(err.Error(), "big") {
		t.Errorf("got %v, want an error naming the item", err)
	}
}

func TestWriterDeterministic(t *testing.T) {
	for _, c := range []Compression{None, Gzip, Zstd} {
		a, b := sampleArchive(t, c), sampleArchive(t, c)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two runs with a fixed clock differ", c)
		}
	}
	// Received times of items and the clock set the entries' mtimes.
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, Manifest{User: "u"}, &WriterOptions{Compression: None, Now: fixedClock})
	w.Close()
	r, err := NewReader(&buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Manifest().Started; !got.Equal(testFinished) {
		t.Errorf("Started = %v, want the clock's %v", got, testFinished)
	}
}

// makeMail returns a mail-like message of about n bytes: headers, a text
// part and a base64 part of pseudo-random bytes.
func makeMail(n int) []byte {
	var b bytes.Buffer
	b.WriteString("From: Bob Example <bob@example.com>\r\nTo: alice@example.com\r\nSubject: Quarterly report\r\n" +
		"Message-ID: <report@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	words := strings.Fields("the report for the quarter shows revenue grew while costs fell please see the attached figures and reply with questions")
	x := uint32(n)
	for i := 0; b.Len() < n/3; i++ {
		x = x*1664525 + 1013904223
		b.WriteString(words[x%uint32(len(words))])
		if i%12 == 11 {
			b.WriteString("\r\n")
		} else {
			b.WriteByte(' ')
		}
	}
	b.WriteString("\r\n--b1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for b.Len() < n-20 {
		for range 76 {
			x = x*1664525 + 1013904223
			b.WriteByte(alphabet[x>>26])
		}
		b.WriteString("\r\n")
	}
	b.WriteString("--b1--\r\n")
	return b.Bytes()
}

func TestNameTreeInWriter(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, testManifest(), &WriterOptions{Compression: None})
	for _, p := range []string{"Foo", "foo", "a:b", "a?b", "00000001.eml", "_folder.json", "x/...", "...", ". ", "a\x1bb"} {
		if err := w.AddFolder(Folder{Kind: FolderMail, Path: p}); err != nil {
			t.Fatalf("AddFolder(%q): %v", p, err)
		}
		if err := w.AddItem(Item{Kind: KindMessage, Folder: p, SourceID: p}, strings.NewReader(p)); err != nil {
			t.Fatalf("AddItem in %q: %v", p, err)
		}
	}
	w.Close()
	_, entries, err := readAll(buf.Bytes(), nil)
	if err != nil {
		t.Fatalf("reading back: %v", err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		for _, n := range []string{e.Name, e.MetaName} {
			if n == "" {
				continue
			}
			if seen[strings.ToLower(n)] {
				t.Errorf("entry %s appears twice (ignoring case)", n)
			}
			seen[strings.ToLower(n)] = true
		}
		if e.Item != nil && string(e.body) != e.Item.Folder {
			t.Errorf("item in %q has body %q", e.Item.Folder, e.body)
		}
	}
	if !slices.ContainsFunc(entries, func(e readEntry) bool { return e.Folder != nil && e.Folder.Path == "x/..." }) {
		t.Error("folder x/... not read back")
	}
}

// failingReader returns some bytes, then an error, as a file on a failing
// disk would.
type failingReader struct{ sent bool }

func (f *failingReader) Read(p []byte) (int, error) {
	if !f.sent {
		f.sent = true
		return copy(p, "Subject: half a message\r\n"), nil
	}
	return 0, errors.New("input/output error")
}

func TestWriterGoesOnAfterAnItemBodyFails(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Manifest{User: "a@b"}, &WriterOptions{Compression: None})
	if err != nil {
		t.Fatal(err)
	}
	w.AddFolder(Folder{Kind: FolderMail, Path: "INBOX"})
	err = w.AddItem(Item{Kind: KindMessage, Folder: "INBOX", SourceID: "bad"}, &failingReader{})
	if !errors.Is(err, ErrItemBody) || !strings.Contains(err.Error(), "input/output error") || !strings.Contains(err.Error(), "bad") {
		t.Fatalf("AddItem with a failing body = %v; want ErrItemBody naming the item and the cause", err)
	}
	if err := w.AddItem(Item{Kind: KindMessage, Folder: "INBOX", SourceID: "good"}, strings.NewReader("Subject: ok\r\n\r\nbody\r\n")); err != nil {
		t.Fatalf("the writer must go on after an item's body failed: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(&buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the archive must stay valid: %v", err)
		}
		if e.Item != nil {
			ids = append(ids, e.Item.SourceID)
		}
	}
	if len(ids) != 1 || ids[0] != "good" {
		t.Errorf("archive holds %v; want only the good item", ids)
	}
}
