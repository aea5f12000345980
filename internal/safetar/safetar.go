// Package safetar reads tar archives from untrusted sources as a stream:
// it detects the compression (gzip, zstd or none) from the first bytes,
// refuses entry names that could escape an extraction directory and entry
// types other than regular files and directories, stops decompression
// bombs by their expansion ratio, and classifies every error as a
// truncation, damaged compressed data, a damaged tar stream, a limit, or
// a read error of the source. It knows nothing of what the entries mean:
// mailhaul's archive reader (package format) and the readers of other
// systems' exports are layers over it.
package safetar

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Errors a Reader returns, wrapped in an *Error naming the archive and
// entry; test for them with errors.Is.
var (
	ErrUnsafe    = errors.New("unsafe entry")
	ErrTooLarge  = errors.New("entry or archive exceeds the size limit")
	ErrTruncated = errors.New("archive is truncated")
	ErrCorrupt   = errors.New("compressed data is corrupt")
	ErrChecksum  = errors.New("checksum mismatch")
	// ErrMalformed is a damaged tar stream: the framing of the archive
	// is lost, so nothing after it can be read.
	ErrMalformed = errors.New("malformed tar stream")
	// ErrDamagedEntry marks an entry whose data failed a check of the
	// layer above (a checksum of its own) while the tar framing around it
	// is intact: that entry alone is lost, and reading goes on with Next.
	// Every other error ends the stream.
	ErrDamagedEntry = errors.New("damaged entry")
)

// NewDamaged returns a layer's own sentinel for a damaged entry (say
// "damaged item"): its text is text, and errors.Is matches it and
// ErrDamagedEntry both, so generic code can tell entry from archive damage.
func NewDamaged(text string) error { return &damaged{text} }

type damaged struct{ text string }

func (d *damaged) Error() string        { return d.text }
func (d *damaged) Is(target error) bool { return target == ErrDamagedEntry }

// Error is a problem with an archive, naming the archive and the entry.
type Error struct {
	Archive string // the archive's name, as given in Options.Name
	Entry   string // the entry being read, or "" before the first
	After   string // the last entry read completely, for truncations
	Err     error
}

func (e *Error) Error() string { return "safetar: " + e.Describe() }

func (e *Error) Unwrap() error { return e.Err }

// Describe is the error's text without a package prefix, for the layers
// above that report the same fields under their own name.
func (e *Error) Describe() string {
	var b strings.Builder
	if e.Archive != "" {
		b.WriteString(e.Archive + ": ")
	}
	if e.Entry != "" {
		b.WriteString("entry " + e.Entry + ": ")
	}
	b.WriteString(e.Err.Error())
	if e.After != "" {
		b.WriteString(" (last good entry " + e.After + ")")
	}
	return b.String()
}

// Codec is an archive's outer compression.
type Codec string

const (
	Gzip Codec = "gzip"
	Zstd Codec = "zstd"
	None Codec = "none"
)

// Name length limits: PATH_MAX and NAME_MAX of common file systems. A
// longer name cannot be extracted anywhere, and only a hostile archive
// holds one.
const (
	MaxNameLen    = 4096
	MaxSegmentLen = 255
)

// Options bound what a Reader accepts. Zero fields take defaults.
type Options struct {
	Name     string // the archive's name in errors
	MaxTotal int64  // largest total uncompressed size; default unlimited
	// MaxRatio bounds uncompressed bytes per compressed byte once more
	// than RatioAfter bytes have been expanded; default 500. Mail and
	// documents compress a few times at most; a decompression bomb
	// expands a thousandfold. The ratio is of the whole stream so far, so
	// one very compressible entry among ordinary ones does not trip it.
	MaxRatio int64
	// NamesAreLabels is for layers that never make a file or a path of an
	// entry name and only quote it in reports (Zimbra's exports, whose
	// contact names are written unsanitized: "Contacts/Dr: X", "a\\b"):
	// then only MaxNameLen is checked, so a strange name is reported by the
	// layer above rather than ending the whole stream.
	NamesAreLabels bool
}

// RatioAfter is how many uncompressed bytes the ratio guard lets through
// before it judges: small archives of text may well compress more.
const RatioAfter = 64 << 20

// MaxZstdWindow bounds the memory a zstd frame may ask the decoder for:
// the decoder allocates about twice the window a frame header declares,
// however short the frame. zstd levels up to 19 use 8 MiB at most.
const MaxZstdWindow = 8 << 20

// Reader reads a tar stream entry by entry. Next returns only entries
// whose names and types are safe; Read reads the current entry's data.
// After an error other than one wrapping ErrDamagedEntry (which the
// Reader returns itself only for an over-long name under NamesAreLabels)
// the Reader is unusable.
type Reader struct {
	opt   Options
	codec Codec
	in    *countingReader // the compressed bytes
	br    *bufio.Reader   // between in and the decompressor
	zr    io.ReadCloser
	out   *countingReader // the tar bytes
	tr    *tar.Reader
	entry string // the current entry's name
	last  string // the last entry read to its end
	left  int64  // bytes of the current entry not yet read
	end   int64  // where the tar stream after the current entry starts
}

// NewReader starts reading the archive r, detecting its compression.
func NewReader(r io.Reader, opt *Options) (*Reader, error) {
	rd := &Reader{}
	if opt != nil {
		rd.opt = *opt
	}
	if rd.opt.MaxRatio <= 0 {
		rd.opt.MaxRatio = 500
	}
	rd.in = &countingReader{r: r, wrapErr: func(err error) error { return &sourceError{err} }}
	zr, codec, br, err := decompressor(rd.in)
	rd.br, rd.codec = br, codec
	if err != nil {
		return nil, rd.classify(&codecError{err})
	}
	rd.zr = zr
	rd.out = &countingReader{r: zr, limit: rd.checkExpansion}
	if codec != None {
		rd.out.wrapErr = func(err error) error { return &codecError{err} }
	}
	rd.tr = tar.NewReader(rd.out)
	return rd, nil
}

// Codec is the compression the archive was found to use.
func (r *Reader) Codec() Codec { return r.codec }

// Last is the name of the last entry whose data was read to its end.
func (r *Reader) Last() string { return r.last }

// Close releases the decompressor. It does not close the underlying reader.
func (r *Reader) Close() error { return r.zr.Close() }

// Next skips what is left of the current entry and returns the next
// entry's header, io.EOF at the end of the tar stream. Names are checked
// with CheckName; directories and regular files are returned, every other
// type (links, devices, pipes, global headers) is refused with ErrUnsafe.
func (r *Reader) Next() (*tar.Header, error) {
	if r.entry != "" && r.left == 0 {
		r.last = r.entry
	}
	r.entry = ""
	hdr, err := r.tr.Next()
	if err == io.EOF {
		// A plain tar has no trailer of its own: only its end-of-archive
		// zero blocks tell a whole stream from one cut between entries.
		// (archive/tar stops at the first zero block; one is enough.)
		if r.codec == None && r.out.n < r.end+blockSize {
			return nil, &Error{Archive: r.opt.Name, After: r.last,
				Err: fmt.Errorf("%w: the tar stream ends without its end-of-archive blocks", ErrTruncated)}
		}
		return nil, io.EOF
	}
	if err != nil {
		return nil, r.classify(err)
	}
	r.entry, r.left = hdr.Name, hdr.Size
	r.end = r.out.n + (hdr.Size+blockSize-1)/blockSize*blockSize
	if r.opt.NamesAreLabels {
		if len(hdr.Name) > MaxNameLen {
			// Only a label: this entry is lost, the stream goes on.
			r.entry = ClipName(hdr.Name)
			return nil, r.errorf(fmt.Errorf("%w: %w: name of %d bytes (limit %d)", ErrDamagedEntry, ErrUnsafe, len(hdr.Name), MaxNameLen))
		}
	} else if err := CheckName(hdr.Name); err != nil {
		return nil, r.errorf(err)
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA, tar.TypeDir:
	case tar.TypeSymlink, tar.TypeLink:
		return nil, r.errorf(fmt.Errorf("%w: a link", ErrUnsafe))
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return nil, r.errorf(fmt.Errorf("%w: a device or pipe", ErrUnsafe))
	default:
		return nil, r.errorf(fmt.Errorf("%w: entry type %q", ErrUnsafe, hdr.Typeflag))
	}
	if hdr.Size < 0 {
		return nil, r.errorf(fmt.Errorf("%w: negative size", ErrMalformed))
	}
	return hdr, nil
}

// Continue starts on a tar stream that follows the end-of-archive blocks
// of the one read so far, in the same decompressed stream: Next then
// returns its entries, or io.EOF when nothing (or only zero padding)
// follows. Readers that never call it skip such a tail, Finish draining
// it: that is how an archive carries an optional tail that older readers
// pass over (format/FORMAT.md, "The tail").
func (r *Reader) Continue() { r.tr = tar.NewReader(tailReader{r}) }

// tailReader reads the decompressed stream after an end-of-archive:
// bytes after the last zstd frame that are no frame end it, as Finish
// has it (they are not the archive's).
type tailReader struct{ r *Reader }

func (t tailReader) Read(p []byte) (int, error) {
	n, err := t.r.out.Read(p)
	if t.r.codec == Zstd && errors.Is(err, zstd.ErrMagicMismatch) {
		err = io.EOF
	}
	return n, err
}

// blockSize is the tar block.
const blockSize = 512

// ClipName shortens a name for a report: a name of any length may come
// from a hostile archive.
func ClipName(name string) string {
	const keep = 200
	if len(name) <= keep+50 {
		return name
	}
	cut := keep
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", name[:cut], len(name))
}

// Read reads the current entry's data. Its errors are *Error values; a
// stream that ends inside the entry is ErrTruncated.
func (r *Reader) Read(p []byte) (int, error) {
	n, err := r.tr.Read(p)
	r.left -= int64(n)
	if err == io.EOF {
		if r.left > 0 {
			return n, r.classify(io.ErrUnexpectedEOF)
		}
		r.last = r.entry
		return n, io.EOF
	}
	if err != nil {
		return n, r.classify(err)
	}
	return n, nil
}

// Finish reads the compressed stream past the tar end marker to its end,
// so that the codec checks its own trailer (gzip CRC-32 and length, zstd
// frame checksum) and a stream cut after the last entry is noticed. Bytes
// after the compressed stream are not the archive's and are left unread.
func (r *Reader) Finish() error {
	if r.codec == None {
		return nil
	}
	_, err := io.Copy(io.Discard, r.out)
	if r.codec == Zstd && errors.Is(err, zstd.ErrMagicMismatch) {
		err = nil
	}
	if err != nil {
		return r.classify(err)
	}
	return nil
}

// CheckName refuses names that could escape an extraction directory or
// mean different things on different systems: empty, absolute, with a
// backslash, colon or NUL, not clean ("a//b", "a/./b"), with a ".." level,
// or longer than MaxNameLen or a level longer than MaxSegmentLen. A
// trailing slash (a directory) is allowed.
func CheckName(name string) error {
	clean := strings.TrimSuffix(name, "/")
	switch {
	case clean == "", strings.HasPrefix(name, "/"), strings.ContainsAny(name, "\\:\x00"):
		return fmt.Errorf("%w: name %q is absolute or not portable", ErrUnsafe, name)
	case path.Clean(clean) != clean:
		return fmt.Errorf("%w: name %q is not clean", ErrUnsafe, name)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: name of %d bytes (limit %d)", ErrUnsafe, len(name), MaxNameLen)
	}
	for _, seg := range strings.Split(clean, "/") {
		if seg == ".." || seg == "." {
			return fmt.Errorf("%w: name %q leaves its directory", ErrUnsafe, name)
		}
		if len(seg) > MaxSegmentLen {
			return fmt.Errorf("%w: name %q has a level of %d bytes (limit %d)", ErrUnsafe, name, len(seg), MaxSegmentLen)
		}
	}
	return nil
}

// checkExpansion is called as uncompressed bytes are read.
func (r *Reader) checkExpansion(out int64) error {
	if r.opt.MaxTotal > 0 && out > r.opt.MaxTotal {
		return fmt.Errorf("%w: more than %d bytes uncompressed", ErrTooLarge, r.opt.MaxTotal)
	}
	// Bytes still in the buffer have not been decompressed yet.
	consumed := r.in.n - int64(r.br.Buffered())
	if r.codec != None && out > RatioAfter && out > r.opt.MaxRatio*consumed {
		return fmt.Errorf("%w: expands more than %d times (a decompression bomb?)", ErrTooLarge, r.opt.MaxRatio)
	}
	return nil
}

// errorf is an error about the current entry.
func (r *Reader) errorf(err error) error {
	return &Error{Archive: r.opt.Name, Entry: r.entry, Err: err}
}

// classify turns an error from the source, the decompressor or the tar
// reader into an *Error: the source's own error as it is (a disk or
// network problem, not damage), a limit, a truncation, a codec checksum
// mismatch, damaged compressed data, or else a damaged tar stream.
func (r *Reader) classify(err error) error {
	var e *Error
	var src *sourceError
	var codec *codecError
	out := &Error{Archive: r.opt.Name, Entry: r.entry, After: r.last}
	switch {
	case errors.As(err, &e):
		return err
	case errors.As(err, &src):
		out.Err = src.err
	case errors.Is(err, ErrTooLarge):
		out.Err, out.After = err, ""
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		out.Err = ErrTruncated
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, zstd.ErrCRCMismatch):
		out.Err = fmt.Errorf("%w in the %s stream", ErrChecksum, r.codec)
	case errors.As(err, &codec):
		out.Err = fmt.Errorf("%w: %s: %w", ErrCorrupt, r.codec, codec.err)
	default:
		out.Err = fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return out
}

// sourceError is a read error of the underlying reader.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// codecError is an error of the decompressor: damaged compressed data.
type codecError struct{ err error }

func (e *codecError) Error() string { return e.err.Error() }
func (e *codecError) Unwrap() error { return e.err }

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// decompressor sniffs the first bytes of r and returns a reader of the
// plain tar stream, the codec found, and the buffer reading r, whose
// Buffered count tells how far the decompressor has really got.
func decompressor(r io.Reader) (io.ReadCloser, Codec, *bufio.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(4)
	if err != nil && len(head) == 0 {
		if err == io.EOF {
			return nil, "", br, io.ErrUnexpectedEOF
		}
		return nil, "", br, err
	}
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, Gzip, br, err
		}
		// One member: writers of archives write one, and bytes after it
		// are not the archive's (a file checksum covers them).
		zr.Multistream(false)
		return zr, Gzip, br, nil
	case bytes.HasPrefix(head, zstdMagic):
		zr, err := zstd.NewReader(br,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(MaxZstdWindow),
			zstd.WithDecoderMaxMemory(MaxZstdWindow*2))
		if err != nil {
			return nil, Zstd, br, err
		}
		return zr.IOReadCloser(), Zstd, br, nil
	}
	return io.NopCloser(br), None, br, nil
}

// countingReader counts bytes and lets a limit function veto more. It
// tags errors other than end of input with wrapErr so that classify can
// tell where they came from.
type countingReader struct {
	r       io.Reader
	n       int64
	limit   func(n int64) error
	wrapErr func(error) error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF && c.wrapErr != nil {
		err = c.wrapErr(err)
	}
	if c.limit != nil {
		if lerr := c.limit(c.n); lerr != nil {
			return n, lerr
		}
	}
	return n, err
}
