package format

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func TestReaderAcceptsValid(t *testing.T) {
	if _, _, err := readAll(craftTar(t, validEnts(t)), nil); err != nil {
		t.Fatalf("the valid crafted archive is refused: %v", err)
	}
	// Directory entries, as tools that repack archives write them, are
	// skipped.
	ents := validEnts(t)
	ents = slices.Insert(ents, 1, ent{name: "mail/", typ: tar.TypeDir}, ent{name: "mail/INBOX/", typ: tar.TypeDir})
	if _, _, err := readAll(craftTar(t, ents), nil); err != nil {
		t.Fatalf("directory entries are refused: %v", err)
	}
	// Unknown JSON fields are ignored: additive changes keep the version.
	ents = validEnts(t)
	ents[0].body = []byte(`{"format":1,"user":"u","started":"2024-05-06T07:08:09Z","future":{"x":1}}`)
	if _, _, err := readAll(craftTar(t, ents), nil); err != nil {
		t.Fatalf("an unknown manifest field is refused: %v", err)
	}
}

func TestReaderRefuses(t *testing.T) {
	const name = "crafted.tar"
	valid := validEnts(t) // manifest, folder, meta, data, summary
	with := func(edit func([]ent) []ent) []ent { return edit(slices.Clone(valid)) }
	insertAt := func(i int, e ...ent) []ent { return with(func(x []ent) []ent { return slices.Insert(x, i, e...) }) }
	replaceAt := func(i int, e ent) []ent { return with(func(x []ent) []ent { x[i] = e; return x }) }
	body := []byte("y")
	metaOf := func(it Item) ent { return ent{name: "mail/INBOX/00000001.meta", body: mustJSON(t, it)} }
	goodItem := Item{Kind: KindMessage, Folder: "INBOX", Size: int64(len(validBody)), SHA256: sha(validBody)}

	tests := []struct {
		name  string
		ents  []ent
		want  error
		names []string // the error must name these
	}{
		{"absolute name", insertAt(1, ent{name: "/etc/passwd", body: body}), ErrUnsafe, []string{"/etc/passwd"}},
		{"dot-dot", insertAt(1, ent{name: "../x", body: body}), ErrUnsafe, []string{"../x"}},
		{"dot-dot inside", insertAt(1, ent{name: "a/../../x", body: body}), ErrUnsafe, []string{"a/../../x"}},
		{"dot segment", insertAt(1, ent{name: "mail/./x", body: body}), ErrUnsafe, []string{"mail/./x"}},
		{"double slash", insertAt(1, ent{name: "mail//x", body: body}), ErrUnsafe, []string{"mail//x"}},
		{"backslash", insertAt(1, ent{name: `mail\..\x`, body: body}), ErrUnsafe, []string{`mail\\..\\x`}},
		{"drive letter", insertAt(1, ent{name: "C:/x", body: body}), ErrUnsafe, []string{"C:/x"}},
		{"symlink", insertAt(1, ent{name: "mail/link", typ: tar.TypeSymlink, link: "/etc"}), ErrUnsafe, []string{"mail/link"}},
		{"hard link", insertAt(1, ent{name: "mail/hard", typ: tar.TypeLink, link: manifestName}), ErrUnsafe, []string{"mail/hard"}},
		{"char device", insertAt(1, ent{name: "mail/tty", typ: tar.TypeChar}), ErrUnsafe, []string{"mail/tty"}},
		{"block device", insertAt(1, ent{name: "mail/sda", typ: tar.TypeBlock}), ErrUnsafe, []string{"mail/sda"}},
		{"fifo", insertAt(1, ent{name: "mail/pipe", typ: tar.TypeFifo}), ErrUnsafe, []string{"mail/pipe"}},
		{"symlink as first entry", []ent{{name: manifestName, typ: tar.TypeSymlink, link: "/etc/passwd"}}, ErrUnsafe, []string{manifestName}},
		{"first entry not the manifest", valid[1:], ErrStructure, []string{"mail/INBOX/_folder.json", manifestName}},
		{"no entries", nil, ErrStructure, nil},
		{"newer version", replaceAt(0, manifestEnt(t, Version+1)), ErrVersion, []string{manifestName, fmt.Sprint(Version + 1)}},
		{"no version", replaceAt(0, manifestEnt(t, 0)), ErrStructure, []string{manifestName}},
		{"manifest not JSON", replaceAt(0, ent{name: manifestName, body: []byte("format=1")}), ErrStructure, []string{manifestName}},
		{"meta not followed by its data", with(func(x []ent) []ent { return slices.Delete(x, 3, 4) }), ErrStructure,
			[]string{"mail/INBOX/00000001.meta", "mail/INBOX/00000001.eml", summaryName}},
		{"meta followed by the wrong kind", replaceAt(3, ent{name: "mail/INBOX/00000001.vcf", body: validBody}), ErrStructure,
			[]string{"mail/INBOX/00000001.vcf", "mail/INBOX/00000001.eml"}},
		{"meta at the end", valid[:3], ErrTruncated, []string{"mail/INBOX/00000001.meta"}},
		{"data longer than its meta says", replaceAt(3, ent{name: "mail/INBOX/00000001.eml", body: append(slices.Clone(validBody), 'x')}),
			ErrStructure, []string{"mail/INBOX/00000001.eml", fmt.Sprint(len(validBody) + 1)}},
		{"data differs from its checksum", replaceAt(3, ent{name: "mail/INBOX/00000001.eml", body: bytes.ToUpper(validBody)}),
			ErrChecksum, []string{"mail/INBOX/00000001.eml"}},
		{"bad checksum field", replaceAt(2, metaOf(Item{Kind: KindMessage, Folder: "INBOX", Size: int64(len(validBody)), SHA256: "abc"})),
			ErrStructure, []string{"mail/INBOX/00000001.meta", "abc"}},
		{"negative size", replaceAt(2, metaOf(Item{Kind: KindMessage, Folder: "INBOX", Size: -1, SHA256: sha(validBody)})),
			ErrTooLarge, []string{"mail/INBOX/00000001.meta"}},
		{"unknown item kind", replaceAt(2, metaOf(Item{Kind: "memo", Folder: "INBOX", Size: 1, SHA256: sha(body)})),
			ErrStructure, []string{"mail/INBOX/00000001.meta", "memo"}},
		{"item in an undeclared folder", replaceAt(2, metaOf(Item{Kind: KindMessage, Folder: "Other", Size: goodItem.Size, SHA256: goodItem.SHA256})),
			ErrStructure, []string{"mail/INBOX/00000001.meta", "Other"}},
		{"contact in a mail folder", with(func(x []ent) []ent {
			return slices.Replace(x, 2, 4, itemEnts(t, "mail/INBOX/00000001", KindContact, "INBOX", validBody)...)
		}), ErrStructure, []string{"mail/INBOX/00000001.meta", "INBOX"}},
		{"folder twice", insertAt(2, folderEnt(t, "mail/INBOX~2/_folder.json", FolderMail, "INBOX")), ErrStructure,
			[]string{"mail/INBOX~2/_folder.json", "INBOX"}},
		{"folder of unknown kind", insertAt(2, folderEnt(t, "notes/x/_folder.json", "notes", "x")), ErrStructure,
			[]string{"notes/x/_folder.json"}},
		{"unknown entry", insertAt(2, ent{name: "mail/INBOX/readme.txt", body: body}), ErrStructure, []string{"mail/INBOX/readme.txt"}},
		{"data without meta", insertAt(2, ent{name: "mail/INBOX/00000009.eml", body: body}), ErrStructure, []string{"mail/INBOX/00000009.eml"}},
		{"second manifest", insertAt(2, manifestEnt(t, 1)), ErrStructure, []string{manifestName}},
		{"entry after the summary", append(slices.Clone(valid), folderEnt(t, "mail/Late/_folder.json", FolderMail, "Late")),
			ErrStructure, []string{"mail/Late/_folder.json"}},
		{"summary counts disagree", replaceAt(4, summaryEnt(t, Counts{Messages: 2, Bytes: int64(len(validBody))},
			FolderCounts{Path: "INBOX", Kind: FolderMail, Counts: Counts{Messages: 2, Bytes: int64(len(validBody))}})),
			ErrStructure, []string{summaryName}},
		{"summary bytes disagree", replaceAt(4, summaryEnt(t, Counts{Messages: 1, Bytes: 1},
			FolderCounts{Path: "INBOX", Kind: FolderMail, Counts: Counts{Messages: 1, Bytes: 1}})),
			ErrStructure, []string{summaryName}},
		{"summary folder counts disagree", replaceAt(4, summaryEnt(t, Counts{Messages: 1, Bytes: int64(len(validBody))},
			FolderCounts{Path: "INBOX", Kind: FolderMail, Counts: Counts{Contacts: 1, Bytes: int64(len(validBody))}})),
			ErrStructure, []string{summaryName, "INBOX"}},
		{"summary omits a folder", replaceAt(4, summaryEnt(t, Counts{Messages: 1, Bytes: int64(len(validBody))})),
			ErrStructure, []string{summaryName}},
		{"summary names another folder", replaceAt(4, summaryEnt(t, Counts{Messages: 1, Bytes: int64(len(validBody))},
			FolderCounts{Path: "Elsewhere", Kind: FolderMail, Counts: Counts{Messages: 1, Bytes: int64(len(validBody))}})),
			ErrStructure, []string{summaryName, "Elsewhere"}},
		{"missing summary", valid[:4], ErrIncomplete, []string{"mail/INBOX/00000001.eml"}},
		{"only a manifest", valid[:1], ErrIncomplete, []string{manifestName}},
		{"global header", insertAt(1, ent{name: "pax_global_header", typ: tar.TypeXGlobalHeader}), ErrUnsafe, []string{"pax_global_header"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := readAll(craftTar(t, tt.ents), &ReaderOptions{Name: name})
			checkErr(t, err, tt.want, name, tt.names...)
		})
	}
}

func TestReaderErrorIsSticky(t *testing.T) {
	ents := validEnts(t)
	ents = slices.Insert(ents, 2, ent{name: "../x", body: []byte("x")})
	r, err := NewReader(bytes.NewReader(craftTar(t, ents)), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, first := r.Next()
	_, second := r.Next()
	_, third := r.Next()
	if first != nil || second == nil || third != second {
		t.Errorf("Next errors %v, %v, %v: want nil, then the same error twice", first, second, third)
	}
}

func TestReaderUnreadBodyIsChecked(t *testing.T) {
	ents := validEnts(t)
	ents[3].body = bytes.ToUpper(ents[3].body)
	r, err := NewReader(bytes.NewReader(craftTar(t, ents)), &ReaderOptions{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	r.Next() // folder
	if e, err := r.Next(); err != nil || e.Item == nil {
		t.Fatalf("Next = %v, %v; want the item", e, err)
	}
	_, err = r.Next() // drains the body without the caller reading it
	checkErr(t, err, ErrChecksum, "a", "mail/INBOX/00000001.eml")
}

func TestReaderFlippedByte(t *testing.T) {
	data := sampleArchive(t, None)
	i := bytes.Index(data, []byte("Hello, Alice."))
	if i < 0 {
		t.Fatal("item body not found in the plain archive")
	}
	data[i] ^= 0x20
	_, _, err := readAll(data, &ReaderOptions{Name: "flipped.tar"})
	checkErr(t, err, ErrChecksum, "flipped.tar", ".eml")
}

func TestReaderLimits(t *testing.T) {
	t.Run("record", func(t *testing.T) {
		ents := validEnts(t)
		ents[1].body = mustJSON(t, Folder{Kind: FolderMail, Path: "INBOX", Notes: []string{strings.Repeat("n", 200)}})
		_, _, err := readAll(craftTar(t, ents), &ReaderOptions{Name: "big-record", MaxRecordSize: 100})
		checkErr(t, err, ErrTooLarge, "big-record", "mail/INBOX/_folder.json", "100")
	})
	t.Run("item", func(t *testing.T) {
		_, _, err := readAll(craftTar(t, validEnts(t)), &ReaderOptions{Name: "big-item", MaxItemSize: 10})
		checkErr(t, err, ErrTooLarge, "big-item", "mail/INBOX/00000001.meta", "10")
	})
	t.Run("summary", func(t *testing.T) {
		_, _, err := readAll(craftTar(t, validEnts(t)), &ReaderOptions{Name: "big-summary", MaxSummary: 10})
		checkErr(t, err, ErrTooLarge, "big-summary", summaryName)
	})
	t.Run("total", func(t *testing.T) {
		_, _, err := readAll(sampleArchive(t, Gzip), &ReaderOptions{Name: "big-total", MaxTotal: 4096})
		checkErr(t, err, ErrTooLarge, "big-total", "4096")
	})
}

// truncatable is a gzip archive large enough that the decompressor emits
// entries long before its end: random items do not compress.
func truncatable(t *testing.T, c Compression) []byte {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, testManifest(), &WriterOptions{Compression: c, Now: fixedClock})
	w.AddFolder(Folder{Kind: FolderMail, Path: "INBOX"})
	for i := range 8 {
		b := make([]byte, 64<<10)
		rand.Read(b)
		if err := w.AddItem(Item{Kind: KindMessage, Folder: "INBOX", SourceID: fmt.Sprint(i)}, bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReaderTruncated(t *testing.T) {
	for _, c := range []Compression{Gzip, Zstd, None} {
		data := truncatable(t, c)
		if _, _, err := readAll(data, nil); err != nil {
			t.Fatalf("%s: whole archive refused: %v", c, err)
		}
		n := len(data)
		// Cuts inside the stream, just before its trailer, and inside it.
		cuts := []int{n / 4, n / 2, 3 * n / 4, n - 600, n - 8, n - 4, n - 1}
		for _, cut := range cuts {
			_, _, err := readAll(data[:cut], &ReaderOptions{Name: "cut.tgz"})
			if c == None && (cut > n-1024 || errors.Is(err, ErrIncomplete)) {
				// A plain tar cut at an entry boundary reads as a
				// complete stream without its summary; cut in the end
				// marker (two zero blocks) it still holds everything.
				continue
			}
			checkErr(t, err, ErrTruncated, "cut.tgz", "last good entry")
			var fe *Error
			errors.As(err, &fe)
			if fe.After == "" || fe.After == manifestName && cut > n/4 {
				t.Errorf("%s cut at %d of %d: last good entry %q", c, cut, n, fe.After)
			}
			if c == Gzip && cut >= n-8 && fe.After != summaryName {
				t.Errorf("%s cut at %d of %d (in the trailer): last good entry %q, want %s", c, cut, n, fe.After, summaryName)
			}
		}
	}
	_, _, err := readAll(nil, &ReaderOptions{Name: "empty"})
	checkErr(t, err, ErrTruncated, "empty")
	_, _, err = readAll([]byte{0x1f, 0x8b, 8}, &ReaderOptions{Name: "gzip header"})
	checkErr(t, err, ErrTruncated, "gzip header")
}

func TestReaderCorruptCompressedData(t *testing.T) {
	for _, c := range []Compression{Gzip, Zstd} {
		data := sampleArchive(t, c)
		_, want, err := readAll(data, nil)
		if err != nil {
			t.Fatal(err)
		}
		// A flipped byte must be caught (by the decompressor, the item
		// checksums or the codec's own trailer checksum) unless it changes
		// nothing that is read: the gzip header's mtime, or the code length
		// of a Huffman symbol the block never uses.
		caught := 0
		for i := 0; i < len(data); i += 7 {
			bad := slices.Clone(data)
			bad[i] ^= 0x01
			_, got, err := readAll(bad, &ReaderOptions{Name: "bad"})
			var fe *Error
			if err != nil {
				caught++
				if !errors.As(err, &fe) {
					t.Errorf("%s: flipped byte %d of %d: got %v of type %T, want an *Error", c, i, len(data), err, err)
				}
				continue
			}
			if len(got) != len(want) {
				t.Fatalf("%s: flipped byte %d of %d: read %d entries without error, want %d", c, i, len(data), len(got), len(want))
			}
			for j := range got {
				if !bytes.Equal(got[j].Meta, want[j].Meta) || !bytes.Equal(got[j].body, want[j].body) {
					t.Errorf("%s: flipped byte %d of %d changed %s without an error", c, i, len(data), got[j].Name)
				}
			}
		}
		if tried := (len(data) + 6) / 7; caught < tried*9/10 {
			t.Errorf("%s: only %d of %d flipped bytes caught", c, caught, tried)
		}
	}
}

func TestReaderTrailingBytes(t *testing.T) {
	// Bytes after the compressed stream are not the archive's: the
	// reader ignores them (Verify's file checksum catches them).
	for _, c := range []Compression{Gzip, Zstd} {
		data := append(sampleArchive(t, c), "garbage after the stream"...)
		if _, _, err := readAll(data, nil); err != nil {
			t.Errorf("%s with trailing bytes: %v", c, err)
		}
	}
}

func TestReaderBomb(t *testing.T) {
	if testing.Short() {
		t.Skip("compresses 200 MiB")
	}
	const size = 200 << 20
	for _, c := range []Compression{Gzip, Zstd} {
		t.Run(string(c), func(t *testing.T) {
			bomb := makeBomb(t, c, size)
			if len(bomb) > 2<<20 {
				t.Fatalf("bomb is %d bytes", len(bomb))
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			err := drain(bomb, &ReaderOptions{Name: "bomb"})
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			checkErr(t, err, ErrTooLarge, "bomb", "mail/INBOX/00000001.eml")
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
				t.Errorf("reading a %d-byte bomb allocated %d MiB", len(bomb), alloc>>20)
			}
			if elapsed > 5*time.Second {
				t.Errorf("refusing the bomb took %v", elapsed)
			}
		})
	}
}

// makeBomb streams an archive whose one item is size zero bytes.
func makeBomb(t *testing.T, c Compression, size int64) []byte {
	var buf bytes.Buffer
	var zw io.WriteCloser
	switch c {
	case Gzip:
		zw, _ = gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	case Zstd:
		zw, _ = zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedFastest))
	}
	tw := tar.NewWriter(zw)
	ents := validEnts(t)[:2]
	it := Item{Kind: KindMessage, Folder: "INBOX", Size: size, SHA256: strings.Repeat("00", 32)}
	ents = append(ents, ent{name: "mail/INBOX/00000001.meta", body: mustJSON(t, it)})
	for _, e := range ents {
		tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: tar.TypeReg, Size: int64(len(e.body)), Mode: 0o644})
		tw.Write(e.body)
	}
	tw.WriteHeader(&tar.Header{Name: "mail/INBOX/00000001.eml", Typeflag: tar.TypeReg, Size: size, Mode: 0o644})
	zeros := make([]byte, 1<<20)
	for n := int64(0); n < size; n += int64(len(zeros)) {
		tw.Write(zeros)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// drain reads a whole archive without holding bodies in memory.
func drain(data []byte, opt *ReaderOptions) error {
	r, err := NewReader(bytes.NewReader(data), opt)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		e, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if e.Body != nil {
			if _, err := io.Copy(io.Discard, e.Body); err != nil {
				return err
			}
		}
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestReaderSourceError(t *testing.T) {
	boom := errors.New("disk on fire")
	data := sampleArchive(t, Gzip)
	_, err := NewReader(io.MultiReader(bytes.NewReader(data[:100]), errReader{boom}), &ReaderOptions{Name: "src"})
	if err == nil {
		r, _ := NewReader(io.MultiReader(bytes.NewReader(data[:100]), errReader{boom}), &ReaderOptions{Name: "src"})
		_, err = r.Next()
	}
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "src") {
		t.Errorf("got %v, want the source's error naming the archive", err)
	}
	if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrStructure) {
		t.Errorf("a read error %v is reported as damage to the archive", err)
	}
}

func TestErrorText(t *testing.T) {
	e := &Error{Archive: "a.tgz", Entry: "mail/x.eml", After: "mail/x.meta", Err: ErrTruncated}
	want := "format: a.tgz: entry mail/x.eml: archive is truncated (last good entry mail/x.meta)"
	if e.Error() != want {
		t.Errorf("Error() = %q, want %q", e.Error(), want)
	}
}

// twoItemEnts is an archive of two messages in INBOX whose first item's
// data is altered without changing its length: the tar framing is intact.
func twoItemEnts(t *testing.T) []ent {
	second := []byte("Subject: y\n\nsecond\n")
	c := Counts{Messages: 2, Bytes: int64(len(validBody) + len(second))}
	ents := []ent{manifestEnt(t, Version), folderEnt(t, "mail/INBOX/_folder.json", FolderMail, "INBOX")}
	ents = append(ents, itemEnts(t, "mail/INBOX/00000001", KindMessage, "INBOX", validBody)...)
	ents = append(ents, itemEnts(t, "mail/INBOX/00000002", KindMessage, "INBOX", second)...)
	ents = append(ents, summaryEnt(t, c, FolderCounts{Path: "INBOX", Kind: FolderMail, Counts: c}))
	ents[3].body = bytes.ToUpper(ents[3].body)
	return ents
}

// A checksum mismatch with intact framing costs that item alone, whether
// the caller reads the body (the error comes from Body) or not (from Next).
func TestReaderDamagedItemCostsOnlyThatItem(t *testing.T) {
	for _, readBodies := range []bool{true, false} {
		r, err := NewReader(bytes.NewReader(craftTar(t, twoItemEnts(t))), &ReaderOptions{Name: "a"})
		if err != nil {
			t.Fatal(err)
		}
		var damaged, good []string
		summary := false
		for n := 0; n < 20; n++ {
			e, err := r.Next()
			if err == io.EOF {
				break
			}
			if errors.Is(err, ErrDamagedItem) {
				checkErr(t, err, ErrChecksum, "a", "mail/INBOX/00000001.eml")
				damaged = append(damaged, "next")
				continue
			}
			if err != nil {
				t.Fatalf("read bodies %v: Next: %v", readBodies, err)
			}
			if e.Summary != nil {
				summary = true
			}
			if e.Item != nil && readBodies {
				if _, err := io.ReadAll(e.Body); err != nil {
					checkErr(t, err, ErrDamagedItem, "a", "mail/INBOX/00000001.eml")
					damaged = append(damaged, e.Item.SourceID)
					continue
				}
				good = append(good, e.Item.SourceID)
			}
		}
		want := []string{"mail/INBOX/00000001"}
		if !readBodies {
			want = []string{"next"}
		}
		if !slices.Equal(damaged, want) || !summary || (readBodies && !slices.Equal(good, []string{"mail/INBOX/00000002"})) {
			t.Errorf("read bodies %v: damaged %q, good %q, summary %v; want damaged %q, the second item good and the summary read",
				readBodies, damaged, good, summary, want)
		}
	}
}

// A folder path with an empty, "." or ".." level or a NUL (written by an
// older mailhaul, which took a Maildir++ folder "..." as folder "..") is
// read under a safe path, with a note, never refused: an archive is a
// backup and stays readable. Control characters are kept (consumers make
// them safe, see FORMAT.md).
func TestReaderFolderPaths(t *testing.T) {
	// withFolder is the valid archive with one more folder holding one
	// message.
	withFolder := func(p string) []byte {
		ents := validEnts(t)
		ents = append(ents[:len(ents)-1], folderEnt(t, "mail/x/_folder.json", FolderMail, p))
		ents = append(ents, itemEnts(t, "mail/x/00000002", KindMessage, p, validBody)...)
		c := Counts{Messages: 1, Bytes: int64(len(validBody))}
		ents = append(ents, summaryEnt(t, Counts{Messages: 2, Bytes: 2 * c.Bytes},
			FolderCounts{Path: "INBOX", Kind: FolderMail, Counts: c}, FolderCounts{Path: p, Kind: FolderMail, Counts: c}))
		return craftTar(t, ents)
	}
	for p, want := range map[string]string{
		"": "_", ".": "_.", "..": "_..", "a/.": "a/_.", "./a": "_./a", "a/../../b": "a/_../_../b",
		"a//b": "a/_/b", "/a": "_/a", "a/": "a/_", "a\x00b": "a_b",
	} {
		_, got, err := readAll(withFolder(p), &ReaderOptions{Name: "paths.tar"})
		if err != nil || len(got) != 5 {
			t.Errorf("folder path %q: %v (%d entries); want the archive read whole", p, err, len(got))
			continue
		}
		f, it, s := got[2].Folder, got[3].Item, got[4].Summary
		if f == nil || f.Path != want || it == nil || it.Folder != want || s == nil || s.Folders[1].Path != want {
			t.Errorf("folder path %q: read as folder %+v, item %+v, summary %+v; want %q everywhere", p, f, it, s, want)
			continue
		}
		if len(got[2].Notes) != 1 || !strings.Contains(got[2].Notes[0], strconv.Quote(want)) || !strings.Contains(got[2].Notes[0], strconv.Quote(p)) {
			t.Errorf("folder path %q: notes %q; want one naming the old and the new path", p, got[2].Notes)
		}
	}
	hostile := "Evil\x1b[2K\rforged\nline\x7f"
	_, got, err := readAll(withFolder(hostile), nil)
	if err != nil || len(got) < 3 || got[2].Folder == nil || got[2].Folder.Path != hostile || got[2].Notes != nil {
		t.Errorf("folder path with control characters: %v; want it read as it is", err)
	}
}

// A mapped path that is already taken, by an earlier folder or by a later
// one, gets "~2": two folders never merge.
func TestReaderFolderPathCollision(t *testing.T) {
	c := Counts{Messages: 1, Bytes: int64(len(validBody))}
	ents := []ent{manifestEnt(t, Version),
		folderEnt(t, "mail/a/_folder.json", FolderMail, "_.."),
		folderEnt(t, "mail/b/_folder.json", FolderMail, ".."),
		folderEnt(t, "mail/c/_folder.json", FolderMail, "x/."),
		folderEnt(t, "mail/d/_folder.json", FolderMail, "x/_."),
	}
	paths := []string{"_..", "..", "x/.", "x/_."}
	var fcs []FolderCounts
	for i, p := range paths {
		ents = append(ents, itemEnts(t, fmt.Sprintf("mail/%c/%08d", 'a'+i, i+1), KindMessage, p, validBody)...)
		fcs = append(fcs, FolderCounts{Path: p, Kind: FolderMail, Counts: c})
	}
	ents = append(ents, summaryEnt(t, Counts{Messages: 4, Bytes: 4 * c.Bytes}, fcs...))
	_, got, err := readAll(craftTar(t, ents), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"_..", "_..~2", "x/_.", "x/_.~2"}
	for i, w := range want {
		if got[i].Folder.Path != w || got[4+i].Item.Folder != w || got[i].Notes == nil != (i == 0) {
			t.Errorf("folder %q read as %q, its item in %q; want %q", paths[i], got[i].Folder.Path, got[4+i].Item.Folder, w)
		}
	}
}
