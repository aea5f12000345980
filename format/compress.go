package format

import (
	"fmt"
	"io"
	"runtime"

	"github.com/klauspost/compress/zstd"
)

// Compression names an archive's outer compression.
type Compression string

const (
	Gzip Compression = "gzip" // .tgz, the default: readable by every tar
	Zstd Compression = "zstd" // .tar.zst: faster and smaller
	None Compression = "none" // .tar, for tests and pipes
)

// Ext is the archive file extension for c.
func (c Compression) Ext() string {
	switch c {
	case Zstd:
		return ".tar.zst"
	case None:
		return ".tar"
	}
	return ".tgz"
}

// ParseCompression accepts the names used on the command line.
func ParseCompression(s string) (Compression, error) {
	switch Compression(s) {
	case Gzip, "", "tgz", "gz":
		return Gzip, nil
	case Zstd, "zst":
		return Zstd, nil
	case None, "tar":
		return None, nil
	}
	return "", fmt.Errorf("format: unknown compression %q (want gzip, zstd or none)", s)
}

// DefaultZstdLevel is the zstd level of an export when none is given:
// zstd's own default, the one tar | zstd -T0 runs, so an export is about
// as fast (0.9x to 1.1x of it on two cores, at less CPU). Its archive is 0.3% larger than tar | zstd's on the benchmark
// Maildir, which is what the records and checksums of 20,000 items take
// compressed; --level 4 is 0.4% smaller for 13% more compression CPU
// (internal/bench/README.md).
const DefaultZstdLevel = 3

// MaxZstdLevel is the highest level an export accepts. Above it zstd's
// "ultra" levels use windows of 32 to 128 MiB, which the Reader refuses
// (safetar.MaxZstdWindow) so that no archive can make a reader allocate
// that much.
const MaxZstdLevel = 19

// zstdFrameSize trades ratio (matches cannot cross frames) for memory and
// parallelism: 4 MiB frames are 0.6% smaller than 2 MiB ones on the
// benchmark Maildir and keep the export's peak RSS under 100 MiB; 8 MiB
// ones save 0.4% more but pass it. It is also each frame's window, within
// what the Reader accepts (safetar.MaxZstdWindow).
const zstdFrameSize = 4 << 20

// compressor returns a writer compressing into w. Both codecs compress
// on all cores, so one archive keeps the machine busy. Level 0 takes the
// codec's default: adaptive per block for gzip (see gzip.go),
// DefaultZstdLevel for zstd.
func compressor(w io.Writer, c Compression, level, threads int) (io.WriteCloser, error) {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	switch c {
	case Gzip, "":
		zw, err := newGzipWriter(w, level, threads)
		if err != nil {
			return nil, fmt.Errorf("format: gzip level %d: %w", level, err)
		}
		return zw, nil
	case Zstd:
		if level == 0 {
			level = DefaultZstdLevel
		}
		if level < 1 || level > MaxZstdLevel {
			return nil, fmt.Errorf("format: zstd level %d: want 1 to %d", level, MaxZstdLevel)
		}
		return newZstdStream(w, level, threads)
	case None:
		return nopCloser{w}, nil
	}
	return nil, fmt.Errorf("format: unknown compression %q", c)
}

// newZstdWriter is the pure-Go zstd encoder, used when mailhaul is built
// without cgo (zstd_nocgo.go). It writes a sequence of independent zstd
// frames of frameSize input bytes, encoded in parallel; concatenated frames are one valid zstd
// stream to every decoder. (The zstd package's own concurrent-block mode
// held hundreds of megabytes on mailbox-sized streams; its plain streaming
// mode keeps one core busy.)
//
// Literals are always entropy-coded: below its better level (--level 1
// to 5) the package stores a block's literals raw when it finds few
// matches, which is what base64 of a photo or ZIP file looks like, and
// loses the quarter that
// Huffman coding of the 64-letter alphabet saves (as klauspost's gzip
// levels do, see gzip.go): 12% of the whole archive on the benchmark
// Maildir, for about a tenth more CPU.
func newZstdWriter(w io.Writer, level zstd.EncoderLevel, threads, frameSize int) (io.WriteCloser, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(threads),
		zstd.WithWindowSize(max(frameSize, zstd.MinWindowSize)), zstd.WithZeroFrames(true),
		zstd.WithAllLitEntropyCompression(true))
	if err != nil {
		return nil, err
	}
	encode := func(dst, in, _ []byte, _ bool) ([]byte, error) { return enc.EncodeAll(in, dst), nil }
	return &closeAlso{newBlockWriter(w, frameSize, threads, 0, encode, nil), enc.Close}, nil
}

// closeAlso closes a writer, then releases what it used.
type closeAlso struct {
	io.WriteCloser
	release func() error
}

func (c *closeAlso) Close() error {
	err := c.WriteCloser.Close()
	c.release()
	return err
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
