package journal

import (
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
)

// BenchmarkOpenMemory reports the heap a reopened journal holds per item
// (B/item): it grows with the mailbox, so it must stay small.
func BenchmarkOpenMemory(b *testing.B) {
	const n = 100_000
	path := filepath.Join(b.TempDir(), "j")
	j, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	var recs []Record
	for i := range n {
		recs = append(recs, Record{Key: sha256.Sum256(fmt.Append(nil, i)), State: Done,
			Where: "Archive/2024", Ref: fmt.Sprintf("1700000000:%d", i)})
		if len(recs) == 1000 {
			if err := j.Write(recs...); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	j.Close()
	b.ResetTimer()
	var held uint64
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		j, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		held = after.HeapAlloc - before.HeapAlloc
		j.Close()
	}
	b.ReportMetric(float64(held)/n, "B/item")
}
