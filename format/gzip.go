package format

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
)

// Parallel gzip: one gzip member whose deflate stream is made of blocks
// compressed independently, each with the previous 32 KiB of input as its
// dictionary (so matches still reach back across blocks, as in one
// stream) and ended with a sync flush; the last block ends the stream.
// Any gzip reader reads the result. pigz works the same way.

const (
	gzipBlockSize = 1 << 20
	deflateWindow = 32 << 10
)

// Adaptive levels: klauspost's deflate levels 1–6 use fast greedy match
// finders and level 7 the slower lazy one, which on the text parts of mail
// makes the output about 13% smaller at half the speed, while on base64
// attachments of already compressed data it gains nothing. So by default
// each block is sampled with a cheap level-1 pass over its first 32 KiB and
// takes the lazy level only where the sample compresses well. The export
// benchmark (internal/bench/export.sh) measured the threshold's trade.
const (
	adaptiveFast      = 6
	adaptiveThorough  = 7
	adaptiveThreshold = 0.40 // sample output/input below which a block is "text"
	adaptiveSample    = 32 << 10
)

// gzipLevelAdaptive is the Writer's default level: adaptive per block.
const gzipLevelAdaptive = 0

func newGzipWriter(w io.Writer, level, threads int) (io.WriteCloser, error) {
	if level != gzipLevelAdaptive {
		// Validate the level once, up front, rather than in every block.
		if _, err := flate.NewWriter(io.Discard, level); err != nil {
			return nil, err
		}
	}
	// The member header: no name, no mtime, so equal input gives equal
	// bytes; OS 255 (unknown).
	if _, err := w.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}); err != nil {
		return nil, err
	}
	g := &gzipState{level: level}
	bw := newBlockWriter(w, gzipBlockSize, threads, deflateWindow, g.encode, g.trailer)
	return &crcWriter{blockWriter: bw, g: g}, nil
}

// gzipState holds what the gzip trailer needs and the pooled compressors.
type gzipState struct {
	level   int
	crc     uint32
	size    uint32   // input length mod 2^32, as gzip records it
	writers sync.Map // level → *sync.Pool of *flate.Writer
}

func (g *gzipState) encode(dst, in, dict []byte, last bool) ([]byte, error) {
	level := g.level
	if level == gzipLevelAdaptive {
		level = g.adaptiveLevel(in)
	}
	out := bytes.NewBuffer(dst)
	fw := g.flateWriter(level)
	fw.ResetDict(out, dict)
	defer g.putFlateWriter(level, fw)
	if _, err := fw.Write(in); err != nil {
		return nil, err
	}
	var err error
	if last {
		err = fw.Close()
	} else {
		err = fw.Flush()
	}
	return out.Bytes(), err
}

// adaptiveLevel samples the start of a block at level 1.
func (g *gzipState) adaptiveLevel(in []byte) int {
	n := min(len(in), adaptiveSample)
	if n < 1024 {
		return adaptiveFast
	}
	var c countWriter
	fw := g.flateWriter(1)
	fw.Reset(&c)
	fw.Write(in[:n])
	fw.Close()
	g.putFlateWriter(1, fw)
	if float64(c) < adaptiveThreshold*float64(n) {
		return adaptiveThorough
	}
	return adaptiveFast
}

func (g *gzipState) flateWriter(level int) *flate.Writer {
	p, _ := g.writers.LoadOrStore(level, &sync.Pool{})
	if fw, ok := p.(*sync.Pool).Get().(*flate.Writer); ok {
		return fw
	}
	fw, _ := flate.NewWriter(io.Discard, level) // level checked in newGzipWriter
	return fw
}

func (g *gzipState) putFlateWriter(level int, fw *flate.Writer) {
	p, _ := g.writers.Load(level)
	p.(*sync.Pool).Put(fw)
}

func (g *gzipState) trailer() []byte {
	var t [8]byte
	binary.LittleEndian.PutUint32(t[:4], g.crc)
	binary.LittleEndian.PutUint32(t[4:], g.size)
	return t[:]
}

// crcWriter feeds the checksum and length in input order before handing
// the bytes to the parallel blocks.
type crcWriter struct {
	*blockWriter
	g *gzipState
}

func (c *crcWriter) Write(p []byte) (int, error) {
	c.g.crc = crc32.Update(c.g.crc, crc32.IEEETable, p)
	c.g.size += uint32(len(p))
	return c.blockWriter.Write(p)
}

type countWriter int

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }
