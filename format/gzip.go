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

// Adaptive levels. Mail mixes text, which klauspost's lazy level 7
// compresses about 13% smaller than its greedy levels, with base64 of
// already compressed attachments, which its levels 1–6 give up on and
// store raw (they judge it incompressible), losing the quarter that plain
// Huffman coding of the 64-letter alphabet saves. So by default each block
// is cut into segments, and each segment takes the encoder that suits it,
// judged by cheap level-1 passes over its two ends: lazy matching where
// text is, Huffman coding alone where level 1 stored both, and the greedy
// level in between. The segments are joined with sync
// flushes into one deflate stream, each with the 32 KiB before it as its
// dictionary. On the export benchmark's Maildir this comes within 2% of
// gzip -6's size (a level-6 block per block was 12% over) for about 8%
// more CPU (internal/bench/README.md).
const (
	adaptiveSegment  = 64 << 10
	adaptiveSample   = 8 << 10
	adaptiveText     = 0.40 // sample output/input below which a segment is text
	adaptiveStored   = 0.90 // above which level 1 stored the sample raw
	levelThorough    = 7
	levelGreedy      = 6
	levelHuffmanOnly = flate.HuffmanOnly
)

// gzipLevelAdaptive is the Writer's default level: chosen per segment.
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
	out := bytes.NewBuffer(dst)
	if g.level != gzipLevelAdaptive {
		err := g.deflate(out, g.level, in, dict, last)
		return out.Bytes(), err
	}
	for off := 0; off < len(in) || off == 0; off += adaptiveSegment {
		seg := in[off:min(off+adaptiveSegment, len(in))]
		segLast := last && off+len(seg) == len(in)
		if err := g.deflate(out, g.segmentLevel(seg), seg, window(dict, in, off), segLast); err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}

// deflate appends in, compressed at level with dict as the window before
// it, to out, ending with a sync flush, or with the final block when last.
func (g *gzipState) deflate(out *bytes.Buffer, level int, in, dict []byte, last bool) error {
	fw := g.flateWriter(level)
	defer g.putFlateWriter(level, fw)
	fw.ResetDict(out, dict)
	if _, err := fw.Write(in); err != nil {
		return err
	}
	if last {
		return fw.Close()
	}
	return fw.Flush()
}

// window is the dictionary for the segment at in[off]: the end of the
// previous block for the first segment, else the input just before it. (A
// shorter dictionary than the decoder's history is always valid.)
func window(dict, in []byte, off int) []byte {
	if off == 0 {
		return dict
	}
	return in[max(0, off-deflateWindow):off]
}

// segmentLevel judges a segment by level-1 passes over its first and last
// few KiB: Huffman coding alone only where both ends were stored raw (an
// attachment that fills the segment), because it finds no matches in any
// text beside them; the lazy level where either end is text.
func (g *gzipState) segmentLevel(seg []byte) int {
	n := min(len(seg), adaptiveSample)
	if n < 1024 {
		return levelGreedy
	}
	head, tail := g.sampleRatio(seg[:n]), g.sampleRatio(seg[len(seg)-n:])
	switch {
	case head > adaptiveStored && tail > adaptiveStored:
		return levelHuffmanOnly
	case min(head, tail) < adaptiveText:
		return levelThorough
	}
	return levelGreedy
}

// sampleRatio is the size level 1 compresses p to, as a fraction of it.
func (g *gzipState) sampleRatio(p []byte) float64 {
	var c countWriter
	fw := g.flateWriter(1)
	fw.Reset(&c)
	fw.Write(p)
	fw.Close()
	g.putFlateWriter(1, fw)
	return float64(c) / float64(len(p))
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
