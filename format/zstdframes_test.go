package format

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestFrameWriterRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	const size = 64 << 10 // small frames keep the test quick under -race
	for _, n := range []int{0, 1, size - 1, size, 5*size + 12345} {
		in := make([]byte, n)
		for i := range in {
			in[i] = "abcdefgh \n"[rng.Intn(10)] // compressible, not trivially
		}
		var out bytes.Buffer
		fw, err := newFrameWriter(&out, DefaultZstdLevel, 2, size)
		if err != nil {
			t.Fatal(err)
		}
		// Uneven writes cross frame boundaries.
		for p := in; len(p) > 0; {
			k := min(len(p), 1+rng.Intn(3*size/2))
			if _, err := fw.Write(p[:k]); err != nil {
				t.Fatal(err)
			}
			p = p[k:]
		}
		if err := fw.Close(); err != nil {
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

func TestFrameWriterReportsWriteErrors(t *testing.T) {
	const size = 64 << 10
	fw, err := newFrameWriter(&brokenWriter{after: 1}, DefaultZstdLevel, 2, size)
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte("x"), size)
	var werr error
	for i := 0; i < 20 && werr == nil; i++ {
		_, werr = fw.Write(chunk)
	}
	cerr := fw.Close()
	if (werr == nil || werr.Error() != "disk full") && (cerr == nil || cerr.Error() != "disk full") {
		t.Errorf("Write err %v, Close err %v; want the underlying writer's error", werr, cerr)
	}
}
