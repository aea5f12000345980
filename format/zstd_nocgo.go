//go:build !cgo

package format

import (
	"io"

	"github.com/klauspost/compress/zstd"
)

// newZstdStream, built without cgo, uses the pure-Go encoder. At the
// default level it takes klauspost's better level, the lowest whose output
// is no larger than tar | zstd -T0's on the benchmark Maildir, at about
// twice libzstd's CPU.
func newZstdStream(w io.Writer, level, threads int) (io.WriteCloser, error) {
	lvl := zstd.EncoderLevelFromZstd(level)
	if level == DefaultZstdLevel {
		lvl = zstd.SpeedBetterCompression
	}
	return newZstdWriter(w, lvl, threads, zstdFrameSize)
}
