//go:build cgo

package libzstd

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// sample is compressible text with incompressible stretches, long enough
// for several of libzstd's multithreaded jobs.
func sample(n int) []byte {
	src := rand.NewChaCha8([32]byte{1})
	r := rand.New(src)
	var b bytes.Buffer
	for b.Len() < n {
		if r.IntN(4) == 0 {
			junk := make([]byte, 1+r.IntN(4096))
			src.Read(junk)
			b.Write(junk)
		} else {
			b.WriteString("Subject: the quarterly figures, again\r\nFrom: someone@example.com\r\n\r\n")
		}
	}
	return b.Bytes()[:n]
}

func compress(t *testing.T, in []byte, level, workers, chunk int) []byte {
	t.Helper()
	var out bytes.Buffer
	z, err := NewWriter(&out, Options{Level: level, Workers: workers, JobSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for p := in; len(p) > 0; {
		n := min(chunk, len(p))
		if _, err := z.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func decompress(in []byte) ([]byte, error) {
	d, err := zstd.NewReader(bytes.NewReader(in), zstd.WithDecoderMaxWindow(8<<20))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return io.ReadAll(d)
}

// The pure-Go decoder every archive reader uses reads what libzstd
// writes, at every worker count, written in small and large pieces.
func TestRoundTrip(t *testing.T) {
	in := sample(12 << 20)
	for _, c := range []struct{ level, workers, chunk int }{
		{3, 0, 512}, {3, 2, 32 << 10}, {1, 4, 1 << 20}, {19, 2, 7}} {
		if c.level == 19 {
			in := in[:1<<20] // level 19 is slow
			if got, err := decompress(compress(t, in, c.level, c.workers, c.chunk)); err != nil || !bytes.Equal(got, in) {
				t.Errorf("%+v: round trip failed: %v", c, err)
			}
			continue
		}
		out := compress(t, in, c.level, c.workers, c.chunk)
		if len(out) >= len(in) {
			t.Errorf("%+v: %d bytes compressed to %d", c, len(in), len(out))
		}
		if got, err := decompress(out); err != nil || !bytes.Equal(got, in) {
			t.Errorf("%+v: round trip failed: %v", c, err)
		}
	}
}

func TestEmptyStreamIsAFrame(t *testing.T) {
	got, err := decompress(compress(t, nil, 3, 2, 1))
	if err != nil || len(got) != 0 {
		t.Fatalf("empty stream: %q, %v", got, err)
	}
}

// The frame carries a content checksum: a byte changed inside a block's
// literals, which the decoder alone would not notice, is caught.
func TestChecksumCatchesCorruption(t *testing.T) {
	in := bytes.Repeat([]byte("0123456789abcdef"), 1<<12)
	for i := range in {
		if i%97 == 0 {
			in[i] = byte(i)
		}
	}
	out := compress(t, in, 3, 0, 4096)
	caught := 0
	for i := 20; i < len(out)-4; i += 31 {
		bad := bytes.Clone(out)
		bad[i] ^= 0x10
		got, err := decompress(bad)
		if err != nil {
			caught++
		} else if !bytes.Equal(got, in) {
			t.Fatalf("byte %d of %d flipped: wrong output and no error", i, len(out))
		}
	}
	if caught == 0 {
		t.Fatal("no flipped byte was caught")
	}
}

type failingWriter struct{ left int }

var errDiskFull = errors.New("disk full")

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.left {
		return 0, errDiskFull
	}
	f.left -= len(p)
	return len(p), nil
}

// A destination that fails stops the stream with its error, from Write
// or at the latest from Close, and Close still releases the encoder.
func TestDestinationErrorIsReturned(t *testing.T) {
	z, err := NewWriter(&failingWriter{left: 1000}, Options{Level: 3, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	in := sample(8 << 20)
	var werr error
	for p := in; len(p) > 0 && werr == nil; p = p[min(len(p), 64<<10):] {
		_, werr = z.Write(p[:min(len(p), 64<<10)])
	}
	if cerr := z.Close(); !errors.Is(cerr, errDiskFull) {
		t.Fatalf("Close = %v, want %v", cerr, errDiskFull)
	}
	if werr != nil && !errors.Is(werr, errDiskFull) {
		t.Fatalf("Write = %v, want %v", werr, errDiskFull)
	}
	if z.cctx != nil {
		t.Fatal("the encoder was not released")
	}
	if _, err := z.Write([]byte("x")); err == nil {
		t.Fatal("a write after Close succeeded")
	}
}

// Discard releases the encoder at once, without ending the frame, and the
// writer is unusable afterwards; Close then reports the discard.
func TestDiscard(t *testing.T) {
	var out bytes.Buffer
	z, err := NewWriter(&out, Options{Level: 19, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := z.Write(sample(4 << 20)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	z.Discard()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Discard took %v: it finished the frame", d)
	}
	if z.cctx != nil {
		t.Fatal("the encoder was not released")
	}
	if _, err := z.Write([]byte("x")); err == nil {
		t.Error("a write after Discard succeeded")
	}
	if err := z.Close(); err == nil {
		t.Error("Close after Discard said nothing")
	}
	z.Discard() // twice is harmless
}
