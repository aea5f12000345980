package format

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/mailhaul/mailhaul/internal/safetar"
)

// mixedData is mail-like input: runs of text, which the adaptive gzip
// level compresses thoroughly, and runs of random bytes, which it does not.
func mixedData(n int, seed int64) []byte {
	rng := rand.New(rand.NewSource(seed))
	words := []string{"mail ", "migration ", "archive ", "folder ", "message ", "the ", "of ", "\r\n"}
	var b bytes.Buffer
	for b.Len() < n {
		if rng.Intn(3) == 0 {
			chunk := make([]byte, 1+rng.Intn(200<<10))
			rng.Read(chunk)
			b.Write(chunk)
		} else {
			for i := rng.Intn(20000); i > 0; i-- {
				b.WriteString(words[rng.Intn(len(words))])
			}
		}
	}
	return b.Bytes()[:n]
}

// writeUnevenly writes p in pieces of random sizes, crossing block
// boundaries at odd places.
func writeUnevenly(t *testing.T, w io.Writer, p []byte, seed int64) {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	for len(p) > 0 {
		k := min(len(p), 1+rng.Intn(3<<19))
		if _, err := w.Write(p[:k]); err != nil {
			t.Fatal(err)
		}
		p = p[k:]
	}
}

func TestParallelGzipRoundTrip(t *testing.T) {
	for _, level := range []int{gzipLevelAdaptive, 1, 6, 9} {
		for _, n := range []int{0, 1, gzipBlockSize, 3*gzipBlockSize + 777} {
			in := mixedData(n, int64(n))
			var out bytes.Buffer
			zw, err := newGzipWriter(&out, level, 2)
			if err != nil {
				t.Fatal(err)
			}
			writeUnevenly(t, zw, in, 1)
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			// The standard library's reader checks the CRC and length.
			zr, err := gzip.NewReader(bytes.NewReader(out.Bytes()))
			if err != nil {
				t.Fatalf("level %d, %d bytes: %v", level, n, err)
			}
			zr.Multistream(false)
			got, err := io.ReadAll(zr)
			if err != nil || !bytes.Equal(got, in) {
				t.Fatalf("level %d, %d bytes: read back %d bytes, err %v", level, n, len(got), err)
			}
		}
	}
}

func TestParallelGzipPassesGzipTool(t *testing.T) {
	gz, err := exec.LookPath("gzip")
	if err != nil {
		t.Skip("no gzip binary")
	}
	in := mixedData(5*gzipBlockSize/2, 7)
	path := filepath.Join(t.TempDir(), "x.gz")
	f, _ := os.Create(path)
	zw, err := newGzipWriter(f, gzipLevelAdaptive, 2)
	if err != nil {
		t.Fatal(err)
	}
	writeUnevenly(t, zw, in, 2)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, err := exec.Command(gz, "-dc", path).Output()
	if err != nil || !bytes.Equal(got, in) {
		t.Errorf("gzip -dc: %d bytes, err %v; want the input back", len(got), err)
	}
}

// base64Random is an attachment of already compressed data as mail holds
// it: base64 lines of random bytes.
func base64Random(n int, seed int64) []byte {
	raw := make([]byte, n*3/4)
	rand.New(rand.NewSource(seed)).Read(raw)
	var b bytes.Buffer
	for len(raw) > 0 {
		line := raw[:min(57, len(raw))]
		raw = raw[len(line):]
		b.WriteString(base64.StdEncoding.EncodeToString(line))
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

func TestSegmentLevelSuitsTheContent(t *testing.T) {
	g := &gzipState{}
	text := bytes.Repeat([]byte("the quarterly figures are attached, revenue is up. "), 2000)
	random := make([]byte, 64<<10)
	rand.New(rand.NewSource(1)).Read(random)
	for name, tc := range map[string]struct {
		in   []byte
		want int
	}{
		"text":           {text, levelThorough},
		"random bytes":   {random, levelHuffmanOnly},
		"base64 attachm": {base64Random(64<<10, 1), levelHuffmanOnly},
		"short":          {text[:100], levelGreedy},
		"attachm + text": {append(base64Random(32<<10, 3), text[:32<<10]...), levelThorough},
	} {
		if got := g.segmentLevel(tc.in); got != tc.want {
			t.Errorf("%s: level %d, want %d", name, got, tc.want)
		}
	}
}

// klauspost's greedy levels store base64 of compressed data raw; the
// adaptive level must still Huffman-code it, as gzip -6 does (to about 76%).
func TestAdaptiveGzipCodesBase64Attachments(t *testing.T) {
	in := base64Random(2*gzipBlockSize+333, 2)
	var out bytes.Buffer
	zw, err := newGzipWriter(&out, gzipLevelAdaptive, 2)
	if err != nil {
		t.Fatal(err)
	}
	writeUnevenly(t, zw, in, 4)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if limit := len(in) * 80 / 100; out.Len() > limit {
		t.Errorf("compressed %d bytes of base64 attachment to %d, want at most %d", len(in), out.Len(), limit)
	}
	zr, err := gzip.NewReader(&out)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(zr); err != nil || !bytes.Equal(got, in) {
		t.Fatalf("read back %d bytes, err %v; want the input", len(got), err)
	}
}

func TestParallelZstdRoundTrip(t *testing.T) {
	const size = 64 << 10 // small frames keep the test quick under -race
	for _, n := range []int{0, 1, size - 1, size, 5*size + 12345} {
		in := mixedData(n, int64(n))
		var out bytes.Buffer
		zw, err := newZstdWriter(&out, zstd.SpeedBetterCompression, 2, size)
		if err != nil {
			t.Fatal(err)
		}
		writeUnevenly(t, zw, in, 3)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		dec, _ := zstd.NewReader(&out)
		got, err := io.ReadAll(dec)
		dec.Close()
		if err != nil || !bytes.Equal(got, in) {
			t.Errorf("%d bytes: decoded %d bytes, err %v; want the input back", n, len(got), err)
		}
	}
}

type brokenWriter struct{ after int }

func (b *brokenWriter) Write(p []byte) (int, error) {
	if b.after <= 0 {
		return 0, errors.New("disk full")
	}
	b.after--
	return len(p), nil
}

func TestBlockWritersReportWriteErrors(t *testing.T) {
	for name, mk := range map[string]func(io.Writer) (io.WriteCloser, error){
		"gzip": func(w io.Writer) (io.WriteCloser, error) { return newGzipWriter(w, 1, 2) },
		"zstd": func(w io.Writer) (io.WriteCloser, error) { return newZstdWriter(w, zstd.SpeedFastest, 2, 64<<10) },
	} {
		zw, err := mk(&brokenWriter{after: 2})
		if err != nil {
			t.Fatal(err)
		}
		chunk := mixedData(1<<20, 1)
		var werr error
		for i := 0; i < 20 && werr == nil; i++ {
			_, werr = zw.Write(chunk)
		}
		cerr := zw.Close()
		if (werr == nil || werr.Error() != "disk full") && (cerr == nil || cerr.Error() != "disk full") {
			t.Errorf("%s: Write err %v, Close err %v; want the underlying writer's error", name, werr, cerr)
		}
	}
}

// Below its better level (--level 3, say) the zstd package stores
// literals raw where it finds few matches; the Writer must still
// Huffman-code base64 of compressed data (to about 76%), as zstd -3 does.
func TestZstdCodesBase64Attachments(t *testing.T) {
	in := base64Random(3*zstdFrameSize/2, 5)
	var out bytes.Buffer
	zw, err := newZstdWriter(&out, zstd.EncoderLevelFromZstd(3), 2, zstdFrameSize)
	if err != nil {
		t.Fatal(err)
	}
	writeUnevenly(t, zw, in, 6)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if limit := len(in) * 80 / 100; out.Len() > limit {
		t.Errorf("compressed %d bytes of base64 attachment to %d, want at most %d", len(in), out.Len(), limit)
	}
	// Each frame's window fits what a Reader accepts, and the frames are
	// independent (two of them here, encoded in parallel).
	compressed := bytes.Clone(out.Bytes())
	dec, _ := zstd.NewReader(&out, zstd.WithDecoderMaxWindow(safetar.MaxZstdWindow), zstd.WithDecoderConcurrency(1))
	defer dec.Close()
	if got, err := io.ReadAll(dec); err != nil || !bytes.Equal(got, in) {
		t.Fatalf("read back %d bytes, err %v; want the input", len(got), err)
	}
	if frames := bytes.Count(compressed, []byte{0x28, 0xb5, 0x2f, 0xfd}); frames < 2 {
		t.Errorf("%d zstd frames for %d bytes of %d-byte frames", frames, len(in), zstdFrameSize)
	}
}

// Block buffers are reused across garbage collections: a sync.Pool,
// emptied by each one, made the zstd export reallocate and zero megabytes
// per frame.
func TestBlockWriterReusesBuffers(t *testing.T) {
	const size, blocks = 256 << 10, 40
	copyEncode := func(dst, in, _ []byte, _ bool) ([]byte, error) { return append(dst, in...), nil }
	bw := newBlockWriter(io.Discard, size, 2, 0, copyEncode, nil)
	chunk := make([]byte, size)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range blocks {
		if _, err := bw.Write(chunk); err != nil {
			t.Fatal(err)
		}
		runtime.GC()
	}
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	// Every buffer alive at once, with room to spare: far below one pair
	// of buffers per block.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 12*size {
		t.Errorf("writing %d blocks of %d bytes allocated %d bytes; want the buffers reused", blocks, size, alloc)
	}
}

// Every zstd level an export accepts writes an archive the Reader takes:
// up to MaxZstdLevel the window stays within safetar.MaxZstdWindow. Levels
// outside 1 to MaxZstdLevel are refused before anything is written.
func TestZstdLevels(t *testing.T) {
	_, want, err := readAll(sampleArchive(t, Zstd), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, level := range []int{1, DefaultZstdLevel, MaxZstdLevel} {
		var buf bytes.Buffer
		w, err := NewWriter(&buf, testManifest(), &WriterOptions{Compression: Zstd, Level: level, Now: fixedClock})
		if err != nil {
			t.Fatalf("level %d: %v", level, err)
		}
		writeSample(t, w)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		_, got, err := readAll(buf.Bytes(), nil)
		if err != nil {
			t.Fatalf("level %d: %v", level, err)
		}
		if len(got) != len(want) {
			t.Fatalf("level %d: %d entries, want %d", level, len(got), len(want))
		}
	}
	for _, level := range []int{-1, MaxZstdLevel + 1, 22} {
		var buf bytes.Buffer
		if _, err := NewWriter(&buf, testManifest(), &WriterOptions{Compression: Zstd, Level: level}); err == nil {
			t.Errorf("level %d was accepted", level)
		} else if buf.Len() != 0 {
			t.Errorf("level %d: %d bytes written before the refusal", level, buf.Len())
		}
	}
}
