package safetar

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/mailhaul/mailhaul/internal/safetar/tartest"
)

type ent = tartest.Entry

func craft(t testing.TB, ents ...ent) []byte { return tartest.Craft(t, time.Time{}, ents...) }

func compress(t testing.TB, c Codec, plain []byte) []byte {
	return tartest.Compress(t, string(c), plain)
}

type readEnt struct {
	name string
	typ  byte
	body string
}

// readAll reads every entry and its data, then the codec's trailer.
func readAll(data []byte, opt *Options) (*Reader, []readEnt, error) {
	r, err := NewReader(bytes.NewReader(data), opt)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	var out []readEnt
	for {
		hdr, err := r.Next()
		if err == io.EOF {
			return r, out, r.Finish()
		}
		if err != nil {
			return r, out, err
		}
		body, err := io.ReadAll(r)
		if err != nil {
			return r, out, err
		}
		out = append(out, readEnt{hdr.Name, hdr.Typeflag, string(body)})
	}
}

// checkErr asserts that err is an *Error wrapping want whose text names
// every one of names.
func checkErr(t testing.TB, err, want error, names ...string) *Error {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want one wrapping %q", err, want)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v of type %T, want *Error", err, err)
	}
	for _, n := range names {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not name %q", err, n)
		}
	}
	return e
}

var sample = []ent{{Name: "dir/", Type: tar.TypeDir}, {Name: "dir/a.txt", Body: []byte("hello")}, {Name: "b", Body: nil}}

func TestCodecDetection(t *testing.T) {
	plain := craft(t, sample...)
	for _, c := range []Codec{Gzip, Zstd, None} {
		r, got, err := readAll(compress(t, c, plain), nil)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		want := []readEnt{{"dir/", tar.TypeDir, ""}, {"dir/a.txt", tar.TypeReg, "hello"}, {"b", tar.TypeReg, ""}}
		if r.Codec() != c || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: read as %s: %v; want %v", c, r.Codec(), got, want)
		}
		if r.Last() != "b" {
			t.Errorf("%s: last good entry %q, want b", c, r.Last())
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"a", "a/b", "a/b/", "mail/INBOX/00000001.eml", strings.Repeat("x", MaxSegmentLen),
		strings.Repeat(strings.Repeat("x", 99)+"/", MaxNameLen/100-1) + "x"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "/", "/etc/passwd", "../x", "a/../../x", "a/..", "./a", "a/./b", "a//b", `a\..\x`, "C:/x",
		"a\x00b", strings.Repeat("x", MaxSegmentLen+1), strings.Repeat("x/", MaxNameLen/2) + "x"} {
		if err := CheckName(bad); !errors.Is(err, ErrUnsafe) {
			t.Errorf("CheckName(%.40q) = %v, want ErrUnsafe", bad, err)
		}
	}
}

func TestRefusesUnsafeEntries(t *testing.T) {
	tests := []struct {
		name string
		e    ent
	}{
		{"absolute", ent{Name: "/etc/passwd", Body: []byte("x")}},
		{"dot-dot", ent{Name: "a/../../x", Body: []byte("x")}},
		{"too long", ent{Name: strings.Repeat("x", MaxSegmentLen+1), Body: []byte("x")}},
		{"symlink", ent{Name: "link", Type: tar.TypeSymlink, Link: "/etc"}},
		{"hard link", ent{Name: "hard", Type: tar.TypeLink, Link: "dir/a.txt"}},
		{"char device", ent{Name: "tty", Type: tar.TypeChar}},
		{"block device", ent{Name: "sda", Type: tar.TypeBlock}},
		{"fifo", ent{Name: "pipe", Type: tar.TypeFifo}},
		{"global header", ent{Name: "pax_global_header", Type: tar.TypeXGlobalHeader}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got, err := readAll(craft(t, sample[1], tt.e, sample[2]), &Options{Name: "crafted.tar"})
			e := checkErr(t, err, ErrUnsafe, "crafted.tar", tt.e.Name[:min(len(tt.e.Name), 40)])
			if len(got) != 1 || e.Entry != tt.e.Name {
				t.Errorf("read %v before the error, which names entry %q; want the first entry only, and %q named", got, e.Entry, tt.e.Name)
			}
		})
	}
}

// randomTar is a tar stream of n entries of incompressible data, so that
// a decompressor emits entries long before the stream's end.
func randomTar(t *testing.T, n int) []byte {
	var ents []ent
	for i := range n {
		b := make([]byte, 64<<10)
		rand.Read(b)
		ents = append(ents, ent{Name: fmt.Sprintf("e%d", i), Body: b})
	}
	return craft(t, ents...)
}

func TestTruncated(t *testing.T) {
	plain := randomTar(t, 8)
	for _, c := range []Codec{Gzip, Zstd, None} {
		data := compress(t, c, plain)
		n := len(data)
		for _, cut := range []int{n / 4, n / 2, 3 * n / 4, n - 8, n - 1} {
			if c == None && cut > n-1024 {
				continue // in the end marker: every entry is whole
			}
			_, _, err := readAll(data[:cut], &Options{Name: "cut"})
			e := checkErr(t, err, ErrTruncated, "cut", "last good entry")
			if e.After == "" || cut > n/2 && e.After == "e0" {
				t.Errorf("%s cut at %d of %d: last good entry %q", c, cut, n, e.After)
			}
		}
	}
	_, _, err := readAll(nil, &Options{Name: "empty"})
	checkErr(t, err, ErrTruncated, "empty")
}

func TestCorruptCompressedData(t *testing.T) {
	plain := craft(t, sample...)
	for _, c := range []Codec{Gzip, Zstd} {
		data := compress(t, c, plain)
		corrupt, checksum := 0, 0
		for i := 4; i < len(data); i++ {
			bad := bytes.Clone(data)
			bad[i] ^= 0x55
			_, _, err := readAll(bad, &Options{Name: "bad"})
			if err == nil {
				continue
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%s: byte %d: error %v of type %T, want *Error", c, i, err, err)
			}
			switch {
			case errors.Is(err, ErrCorrupt):
				corrupt++
			case errors.Is(err, ErrChecksum):
				checksum++
			}
		}
		if corrupt == 0 || checksum == 0 {
			t.Errorf("%s: %d flipped bytes reported as corrupt data, %d as a codec checksum mismatch; want both seen", c, corrupt, checksum)
		}
	}
}

func TestMalformedTar(t *testing.T) {
	data := craft(t, sample...)
	data[512+100] ^= 0xff // the second header's mode field: its header checksum fails
	_, _, err := readAll(data, &Options{Name: "m"})
	checkErr(t, err, ErrMalformed, "m")
}

func TestTrailingBytesIgnored(t *testing.T) {
	for _, c := range []Codec{Gzip, Zstd} {
		data := append(compress(t, c, craft(t, sample...)), "not the archive's"...)
		if _, _, err := readAll(data, nil); err != nil {
			t.Errorf("%s with trailing bytes: %v", c, err)
		}
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestSourceErrorIsNotDamage(t *testing.T) {
	boom := errors.New("disk on fire")
	data := compress(t, Gzip, randomTar(t, 4))
	_, _, err := readAll(append([]byte(nil), data[:100]...), nil) // sanity: a cut is a truncation
	checkErr(t, err, ErrTruncated)
	r, err := NewReader(io.MultiReader(bytes.NewReader(data[:100]), errReader{boom}), &Options{Name: "src"})
	if err == nil {
		_, err = r.Next()
	}
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "src") {
		t.Errorf("got %v, want the source's error naming the archive", err)
	}
	if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrMalformed) || errors.Is(err, ErrTruncated) {
		t.Errorf("a read error %v is reported as damage to the archive", err)
	}
}

func TestLimits(t *testing.T) {
	data := compress(t, Gzip, randomTar(t, 4))
	_, _, err := readAll(data, &Options{Name: "total", MaxTotal: 100 << 10})
	checkErr(t, err, ErrTooLarge, "total", fmt.Sprint(100<<10))
}

func TestBomb(t *testing.T) {
	if testing.Short() {
		t.Skip("compresses 72 MiB")
	}
	const size = 72 << 20 // just past RatioAfter
	for _, c := range []Codec{Gzip, Zstd} {
		var buf bytes.Buffer
		var zw io.WriteCloser
		if c == Gzip {
			zw, _ = gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		} else {
			zw, _ = zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedFastest))
		}
		tw := tar.NewWriter(zw)
		tw.WriteHeader(&tar.Header{Name: "zeros", Typeflag: tar.TypeReg, Size: size, Mode: 0o644})
		zeros := make([]byte, 1<<20)
		for range size / len(zeros) {
			tw.Write(zeros)
		}
		tw.Close()
		zw.Close()
		_, _, err := readAll(buf.Bytes(), &Options{Name: "bomb"})
		e := checkErr(t, err, ErrTooLarge, "bomb", "zeros", "500")
		if e.After != "" {
			t.Errorf("%s: a limit names last good entry %q", c, e.After)
		}
		// A lower ratio than the bomb's is let through.
		if _, _, err := readAll(buf.Bytes(), &Options{MaxRatio: 1 << 40}); err != nil {
			t.Errorf("%s: with no practical ratio limit: %v", c, err)
		}
	}
}

func TestNewDamaged(t *testing.T) {
	item := NewDamaged("damaged item")
	err := &Error{Archive: "a", Entry: "x", Err: fmt.Errorf("%w: %w", item, ErrChecksum)}
	if !errors.Is(err, item) || !errors.Is(err, ErrDamagedEntry) || !errors.Is(err, ErrChecksum) || errors.Is(err, ErrTruncated) {
		t.Errorf("%v: want it to match the layer's sentinel, ErrDamagedEntry and ErrChecksum only", err)
	}
	if got, want := err.Error(), "safetar: a: entry x: damaged item: checksum mismatch"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// With NamesAreLabels, names that CheckName refuses are returned (the
// layer above only quotes them), but links and devices are still refused
// and an overlong name still is.
func TestNamesAreLabels(t *testing.T) {
	odd := []ent{{Name: "Contacts/Dr: X", Body: []byte("a")}, {Name: `Inbox/a\b`, Body: []byte("b")}, {Name: "Contacts/..", Body: []byte("c")}}
	_, got, err := readAll(craft(t, odd...), &Options{NamesAreLabels: true})
	if err != nil || len(got) != 3 || got[0].name != "Contacts/Dr: X" || got[2].body != "c" {
		t.Fatalf("read %v, %v; want the three entries", got, err)
	}
	if _, _, err := readAll(craft(t, odd...), nil); !errors.Is(err, ErrUnsafe) {
		t.Errorf("without the option: %v, want ErrUnsafe", err)
	}
	_, _, err = readAll(craft(t, ent{Name: "link", Type: tar.TypeSymlink, Link: "/etc"}), &Options{NamesAreLabels: true})
	checkErr(t, err, ErrUnsafe, "link")
	_, _, err = readAll(craft(t, ent{Name: strings.Repeat("x/", MaxNameLen/2) + "x", Body: []byte("x")}), &Options{NamesAreLabels: true})
	checkErr(t, err, ErrUnsafe, "limit")
}

// With NamesAreLabels, an overlong name costs its entry alone: a damaged
// entry, named in a clipped form, and the entries after it are read.
func TestNamesAreLabelsLongNameIsOneDamagedEntry(t *testing.T) {
	long := strings.Repeat("Ü Very Long Company Name GmbH ", 200)
	r, err := NewReader(bytes.NewReader(craft(t, ent{Name: "a", Body: []byte("a")}, ent{Name: long, Body: []byte("long")},
		ent{Name: "c", Body: []byte("c")})), &Options{Name: "l.tar", NamesAreLabels: true})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for {
		hdr, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			e := checkErr(t, err, ErrDamagedEntry, "l.tar", "limit")
			clipped, _, _ := strings.Cut(e.Entry, "...")
			if !errors.Is(err, ErrUnsafe) || len(e.Entry) > 300 || clipped == "" || !strings.HasPrefix(long, clipped) {
				t.Errorf("error %.400q", err)
			}
			names = append(names, "damaged")
			continue
		}
		names = append(names, hdr.Name)
	}
	if want := []string{"a", "damaged", "c"}; !slices.Equal(names, want) {
		t.Errorf("read %q, want %q", names, want)
	}
}

// A plain tar has no trailer: one cut exactly between entries is told
// from a whole one by its end-of-archive blocks.
func TestPlainTarCutBetweenEntries(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range []string{"a", "b"} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 3, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(name + "\n\n"))
	}
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	cut := bytes.Clone(buf.Bytes())
	_, got, err := readAll(cut, &Options{Name: "p.tar"})
	if e := checkErr(t, err, ErrTruncated, "p.tar", "end-of-archive"); e.After != "b" || len(got) != 2 {
		t.Errorf("read %v, last good entry %q", got, e.After)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, got, err := readAll(buf.Bytes(), nil); err != nil || len(got) != 2 {
		t.Errorf("whole: read %v, %v", got, err)
	}
	// A gzip stream has a trailer of its own, which says it is whole.
	if _, got, err := readAll(compress(t, Gzip, buf.Bytes()), nil); err != nil || len(got) != 2 {
		t.Errorf("whole gzip: read %v, %v", got, err)
	}
}
