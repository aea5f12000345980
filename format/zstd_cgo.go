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
	return libzstd.NewWriter(w, libzstd.Options{Level: level, Workers: zstdWorkers(level, threads), JobSize: 4 << 20})
}

// zstdWorkers bounds the encoder's memory, which grows with its workers
// and their level's tables (about 11 MB a worker at level 4, 90 MB at
// level 19): up to 4 workers at the levels meant for speed, 1 above
// level 9, where a migration's several users at once bring the
// parallelism.
func zstdWorkers(level, threads int) int {
	if level > 9 {
		return 1
	}
	return min(threads, 4)
}
