package format

import (
	"archive/tar"
	"errors"
	"os"
	"runtime"
	"slices"
	"testing"

	"github.com/mailhaul/mailhaul/internal/safetar"
	"github.com/mailhaul/mailhaul/internal/safetar/tartest"
)

func compress(t testing.TB, c Compression, plain []byte) []byte {
	return tartest.Compress(t, string(c), plain)
}

// FuzzReader feeds the Reader arbitrary bytes. It must never panic, every
// error must be an *Error, and memory must stay within the small limits
// set here whatever sizes the input claims.
func FuzzReader(f *testing.F) {
	golden, err := os.ReadFile(goldenArchive)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add(compress(f, Gzip, golden))
	f.Add(compress(f, Zstd, golden))
	valid := validEnts(f)
	f.Add(craftTar(f, valid))
	f.Add(craftTar(f, slices.Insert(slices.Clone(valid), 1, ent{name: "../x", body: []byte("x")})))
	f.Add(craftTar(f, slices.Insert(slices.Clone(valid), 1, ent{name: "mail/l", typ: tar.TypeSymlink, link: "/"})))
	f.Add(craftTar(f, valid[:3]))
	f.Add(craftTar(f, []ent{manifestEnt(f, 2)}))
	f.Add(golden[:len(golden)/2])
	f.Add([]byte{})

	const (
		maxItem   = 64 << 10
		maxRecord = 4 << 10
		maxTotal  = 1 << 20
	)
	opt := &ReaderOptions{Name: "fuzz", MaxItemSize: maxItem, MaxRecordSize: maxRecord, MaxSummary: 16 << 10, MaxTotal: maxTotal}
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := drain(data, opt)
		runtime.ReadMemStats(&after)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %v of type %T is not an *Error", err, err)
			}
		}
		// Buffers (64 KiB input, 256 KiB copy), what the limits allow,
		// and the zstd decoder's history, about twice the window a frame
		// declares (at most safetar.MaxZstdWindow) even for a ten-byte input.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 3*safetar.MaxZstdWindow+uint64(len(data))*4 {
			t.Fatalf("reading %d bytes allocated %d bytes", len(data), alloc)
		}
	})
}
