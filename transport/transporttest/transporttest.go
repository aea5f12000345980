// Package transporttest writes archives for the transport packages' tests.
// The transport does not parse archives, so any bytes with a matching
// .sha256 beside them will do.
package transporttest

import (
	"crypto/sha256"
	"encoding/hex"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/mailhaul/mailhaul/format"
)

// WriteArchive writes size pseudo-random bytes to dir/name, the same for
// the same name and size, with its .sha256, and returns the bytes.
func WriteArchive(t testing.TB, dir, name string, size int) []byte {
	t.Helper()
	h := fnv.New64a()
	h.Write([]byte(name))
	rng := rand.New(rand.NewPCG(uint64(size), h.Sum64()))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if err := format.WriteChecksumFile(p, hex.EncodeToString(sum[:])); err != nil {
		t.Fatal(err)
	}
	return b
}
