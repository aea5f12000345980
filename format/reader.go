package format

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"path"
	"strings"

	"github.com/mailhaul/mailhaul/internal/safetar"
)

// The Reader is the mailhaul-archive layer (manifest, records, per-item
// checksums, summary) over internal/safetar, which owns the tar stream:
// codec detection, entry name and type checks, the bomb guard and the
// classification of stream errors. Those errors are safetar's values, so
// errors.Is matches either name.

// Errors a Reader returns, wrapped in an *Error naming the archive and
// entry; test for them with errors.Is.
var (
	ErrChecksum = safetar.ErrChecksum
	// ErrDamagedItem marks an item whose data does not match its record
	// while the tar framing around it is intact: that item alone is lost,
	// and Next goes on with the next entry (it also wraps ErrChecksum,
	// and matches safetar.ErrDamagedEntry).
	ErrDamagedItem = safetar.NewDamaged("damaged item")
	ErrTruncated   = safetar.ErrTruncated
	ErrIncomplete  = errors.New("archive is incomplete: it has no summary")
	ErrUnsafe      = safetar.ErrUnsafe
	ErrTooLarge    = safetar.ErrTooLarge
	// ErrStructure is a stream that is not a mailhaul archive; it also
	// wraps a damaged tar stream (safetar.ErrMalformed).
	ErrStructure = errors.New("not a valid mailhaul archive")
	ErrCorrupt   = safetar.ErrCorrupt
	ErrVersion   = errors.New("archive format version is newer than this program")
)

// Error is a problem with an archive, naming the archive and the entry.
type Error struct {
	Archive string // the archive's name, as given in ReaderOptions.Name
	Entry   string // the entry being read, or "" before the first
	After   string // the last entry read completely, for truncations
	Err     error
}

func (e *Error) Error() string { return "format: " + (*safetar.Error)(e).Describe() }

func (e *Error) Unwrap() error { return e.Err }

// ReaderOptions bound what a Reader accepts. Zero fields take defaults.
type ReaderOptions struct {
	Name          string // the archive's name in errors
	MaxItemSize   int64  // largest item data; default 2 GiB
	MaxRecordSize int64  // largest JSON record other than the summary; default 1 MiB
	MaxSummary    int64  // largest summary; default 64 MiB
	MaxTotal      int64  // largest total uncompressed size; default unlimited
	// MaxRatio bounds uncompressed bytes per compressed byte once more
	// than 64 MiB have been expanded; default 500. Mail compresses a few
	// times at most; a decompression bomb expands a thousandfold. The
	// ratio is of the whole stream so far, so one very compressible item
	// in a real mailbox does not trip it.
	MaxRatio int64
	// State asks Next for the state record (FORMAT.md), as an Entry
	// whose State walks it, after the summary. Without it the reader
	// still reads and checks the record, and hands out nothing of it.
	State bool
}

func (o *ReaderOptions) defaults() {
	if o.MaxItemSize <= 0 {
		o.MaxItemSize = 2 << 30
	}
	if o.MaxRecordSize <= 0 {
		o.MaxRecordSize = 1 << 20
	}
	if o.MaxSummary <= 0 {
		o.MaxSummary = 64 << 20
	}
	if o.MaxRatio <= 0 {
		o.MaxRatio = 500
	}
}

// Entry is one record of an archive: a folder, an item or the summary.
type Entry struct {
	// Name is the tar entry name: the folder record, the item's data
	// entry, or the summary.
	Name    string
	Folder  *Folder
	Item    *Item
	Summary *Summary
	// MetaName and Meta are the item's metadata entry name and its raw
	// bytes (for folders and the summary, Meta holds the record itself).
	MetaName string
	Meta     []byte
	// Body reads an item's data. It checks size and SHA-256 as it reaches
	// the end, returning an error wrapping ErrChecksum on a mismatch.
	// Next drains and checks a body the caller did not read.
	Body io.Reader
	// Notes are the reader's own notes on the entry: a folder path it
	// read under a safe name (FORMAT.md, "Folder paths").
	Notes []string
	// State walks the state record, one item at a time (memory holds one
	// line), on the entry that ReaderOptions.State asks for. It is valid
	// until the next call of Next, which checks what the caller left of
	// it. Its last pair carries the error that stopped it, if any.
	State iter.Seq2[StateItem, error]
}

// Reader reads an archive as a stream, validating its structure, entry
// names, sizes and every item's checksum.
type Reader struct {
	opt      ReaderOptions
	sr       *safetar.Reader
	comp     Compression
	manifest Manifest
	manRaw   []byte

	folders map[string]*Counts // kind + "\x00" + path → items read
	// shown hands out the folder paths, one namer per kind;
	// rename maps the key of each folder read under another path to it.
	shown   map[FolderKind]*FolderNamer
	rename  map[string]string
	counts  Counts
	last    string // last entry read completely
	body    *itemBody
	copyBuf []byte // shared by item bodies' WriteTo
	summary bool
	// stateCounts is what the summary announces of the state record;
	// inTail is set once the archive's own tar stream has ended, and
	// stateRec while the caller walks the record.
	stateCounts *Counts
	inTail      bool
	stateSeen   bool
	stateRec    *stateRecord
	err         error // sticky
}

// NewReader starts reading an archive from r (gzip, zstd or plain tar,
// detected from its first bytes) and reads its manifest.
func NewReader(r io.Reader, opt *ReaderOptions) (*Reader, error) {
	rd := &Reader{folders: map[string]*Counts{}, shown: map[FolderKind]*FolderNamer{}, rename: map[string]string{}}
	if opt != nil {
		rd.opt = *opt
	}
	rd.opt.defaults()
	sr, err := safetar.NewReader(r, &safetar.Options{Name: rd.opt.Name, MaxTotal: rd.opt.MaxTotal, MaxRatio: rd.opt.MaxRatio})
	if err != nil {
		return nil, rd.ioError("", err)
	}
	rd.sr, rd.comp = sr, Compression(sr.Codec())
	if err := rd.readManifest(); err != nil {
		sr.Close()
		return nil, err
	}
	return rd, nil
}

func (r *Reader) readManifest() error {
	hdr, err := r.header()
	if err == io.EOF {
		return r.wrap("", fmt.Errorf("%w: no entries", ErrStructure))
	}
	if err != nil {
		return err
	}
	if hdr.Name != manifestName {
		return r.wrap(hdr.Name, fmt.Errorf("%w: first entry is not %s", ErrStructure, manifestName))
	}
	raw, err := r.record(hdr, r.opt.MaxRecordSize, &r.manifest)
	if err != nil {
		return err
	}
	r.manRaw = raw
	if r.manifest.Format < 1 {
		return r.wrap(hdr.Name, fmt.Errorf("%w: no format version", ErrStructure))
	}
	if r.manifest.Format > Version {
		return r.wrap(hdr.Name, fmt.Errorf("%w: version %d, this program reads up to %d", ErrVersion, r.manifest.Format, Version))
	}
	r.last = hdr.Name
	return nil
}

// Manifest is the archive's manifest.
func (r *Reader) Manifest() Manifest { return r.manifest }

// ManifestRaw is the manifest entry's bytes.
func (r *Reader) ManifestRaw() []byte { return r.manRaw }

// Compression is the compression the archive was found to use.
func (r *Reader) Compression() Compression { return r.comp }

// Counts are the items read so far.
func (r *Reader) Counts() Counts { return r.counts }

// Close releases the decompressor. It does not close the underlying reader.
func (r *Reader) Close() error { return r.sr.Close() }

// Next returns the next folder, item or summary, and io.EOF after the
// summary at the end of the archive. Its errors are final (every later
// call returns the same one), except one wrapping ErrDamagedItem: it is
// returned when Next drains the data of an item the caller did not read
// to its end, which turns out damaged, and the next call goes on. A
// caller that reads an item's Body gets that error from Body instead, and
// Next does not repeat it.
func (r *Reader) Next() (*Entry, error) {
	if r.err != nil {
		return nil, r.err
	}
	e, err := r.next()
	if err != nil && !errors.Is(err, ErrDamagedItem) {
		r.err = err
	}
	return e, err
}

func (r *Reader) next() (*Entry, error) {
	if b := r.body; b != nil {
		r.body = nil
		seen := b.err != nil // the caller read the body to its error
		if _, err := io.Copy(io.Discard, b); err != nil && !(seen && errors.Is(err, ErrDamagedItem)) {
			return nil, err
		}
	}
	if rec := r.stateRec; rec != nil {
		r.stateRec = nil
		if err := rec.drain(); err != nil {
			return nil, err
		}
		r.last = stateName
	}
	for {
		hdr, err := r.header()
		if err == io.EOF {
			if !r.summary {
				return nil, &Error{Archive: r.opt.Name, After: r.last, Err: ErrIncomplete}
			}
			if !r.inTail {
				// The archive's tar stream has ended: read its tail, if
				// any (FORMAT.md, "The tail").
				r.inTail = true
				r.sr.Continue()
				continue
			}
			if r.stateCounts != nil && !r.stateSeen {
				return nil, &Error{Archive: r.opt.Name, After: r.last, Err: fmt.Errorf("%w: the summary announces a state record, the archive ends without it", ErrTruncated)}
			}
			if err := r.finish(); err != nil {
				return nil, err
			}
			return nil, io.EOF
		}
		if err != nil {
			return nil, err
		}
		if r.inTail {
			if hdr.Name != stateName || r.stateSeen {
				continue // a later version's optional tail entry: skipped
			}
			r.stateSeen = true
			if r.stateCounts == nil {
				return nil, r.wrap(hdr.Name, fmt.Errorf("%w: a state record the summary does not announce", ErrStructure))
			}
			rec := r.newStateRecord()
			if r.opt.State {
				r.stateRec = rec
				return &Entry{Name: stateName, State: rec.seq()}, nil
			}
			if err := rec.drain(); err != nil {
				return nil, err
			}
			r.last = stateName
			continue
		}
		if r.summary {
			return nil, r.wrap(hdr.Name, fmt.Errorf("%w: entry after the summary", ErrStructure))
		}
		switch {
		case hdr.Name == summaryName:
			return r.readSummary(hdr)
		case path.Base(hdr.Name) == folderFile:
			return r.readFolder(hdr)
		case strings.HasSuffix(hdr.Name, metaExt):
			return r.readItem(hdr)
		}
		return nil, r.wrap(hdr.Name, fmt.Errorf("%w: unexpected entry", ErrStructure))
	}
}

func (r *Reader) readFolder(hdr *tar.Header) (*Entry, error) {
	var f Folder
	raw, err := r.record(hdr, r.opt.MaxRecordSize, &f)
	if err != nil {
		return nil, err
	}
	if kindDir[f.Kind] == "" {
		return nil, r.wrap(hdr.Name, fmt.Errorf("%w: folder record with kind %q and path %q", ErrStructure, f.Kind, f.Path))
	}
	key := string(f.Kind) + "\x00" + f.Path
	if r.folders[key] != nil {
		return nil, r.wrap(hdr.Name, fmt.Errorf("%w: folder %q appears twice", ErrStructure, f.Path))
	}
	r.folders[key] = &Counts{}
	r.last = hdr.Name
	e := &Entry{Name: hdr.Name, Folder: &f, Meta: raw}
	// An older writer took unsafe paths: read them under safe ones, and
	// never let two folders merge into one (FORMAT.md, "Folder paths").
	orig := f.Path
	namer := r.shown[f.Kind]
	if namer == nil {
		namer = &FolderNamer{}
		r.shown[f.Kind] = namer
	}
	if safe := namer.Name(orig); safe != orig {
		f.Path = safe
		r.rename[key] = safe
		e.Notes = []string{fmt.Sprintf("%s folder %q of the archive is read as %q: its path is not safe, that of an earlier folder was read as it, or its parent's was renamed (an older mailhaul wrote it)", f.Kind, orig, safe)}
	}
	return e, nil
}

// FolderNamer gives folder paths safe archive paths that never coincide
// (FORMAT.md, "Folder paths"): SafeFolderPath's mapping, and if that path
// is already taken by another folder, "~2", "~3"… appended. The same path
// asked again gets the same answer. The first to ask wins a path, so a
// writer names its folders in a stable order (an export and a later delta
// then agree). Subfolders follow their parent's path. The reader and
// every exporter use it: one rule for all.
type FolderNamer struct {
	taken map[string]bool   // safe paths handed out
	named map[string]string // path asked → safe path handed out
}

// Name returns the safe archive path for the folder path p.
func (n *FolderNamer) Name(p string) string {
	if safe, ok := n.named[p]; ok {
		return safe
	}
	if n.named == nil {
		n.named, n.taken = map[string]string{}, map[string]bool{}
	}
	// Level by level, so a folder renamed with "~2" keeps its subfolders.
	safe, _ := SafeFolderPath(p)
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		last, _ := SafeFolderPath(p[i+1:])
		safe = n.Name(p[:i]) + "/" + last
	}
	for i, base := 2, safe; n.taken[safe]; i++ {
		safe = fmt.Sprintf("%s~%d", base, i)
	}
	n.taken[safe], n.named[p] = true, safe
	return safe
}

// SafeFolderPath maps a folder path to one that has no empty, "." or ".."
// level and no NUL (FORMAT.md, "Folder paths"): an empty level becomes
// "_", "." and ".." become "_." and "_..", a NUL becomes "_". It reports
// whether it changed anything. Writers and readers both use it.
func SafeFolderPath(p string) (string, bool) {
	if checkFolderPath(p) == nil {
		return p, false
	}
	levels := strings.Split(p, "/")
	for i, level := range levels {
		switch level {
		case "", ".", "..":
			level = "_" + level
		}
		levels[i] = strings.ReplaceAll(level, "\x00", "_")
	}
	return strings.Join(levels, "/"), true
}

func (r *Reader) readItem(hdr *tar.Header) (*Entry, error) {
	var it Item
	raw, err := r.record(hdr, r.opt.MaxRecordSize, &it)
	if err != nil {
		return nil, err
	}
	metaName := hdr.Name
	if !it.Kind.valid() {
		return nil, r.wrap(metaName, fmt.Errorf("%w: unknown item kind %q", ErrStructure, it.Kind))
	}
	fc := r.folders[string(it.Kind.FolderKind())+"\x00"+it.Folder]
	if fc == nil {
		return nil, r.wrap(metaName, fmt.Errorf("%w: item in folder %q that has no folder record before it", ErrStructure, it.Folder))
	}
	if safe, ok := r.rename[string(it.Kind.FolderKind())+"\x00"+it.Folder]; ok {
		it.Folder = safe
	}
	for i, l := range it.Labels {
		if r.folders[string(FolderMail)+"\x00"+l] == nil || it.Kind != KindMessage {
			return nil, r.wrap(metaName, fmt.Errorf("%w: label %q of a %s names no mail folder recorded before it", ErrStructure, l, it.Kind))
		}
		if safe, ok := r.rename[string(FolderMail)+"\x00"+l]; ok {
			it.Labels[i] = safe
		}
	}
	sum, err := hex.DecodeString(it.SHA256)
	if err != nil || len(sum) != sha256.Size {
		return nil, r.wrap(metaName, fmt.Errorf("%w: bad sha256 %q", ErrStructure, it.SHA256))
	}
	if it.Size < 0 || it.Size > r.opt.MaxItemSize {
		return nil, r.wrap(metaName, fmt.Errorf("%w: item of %d bytes (limit %d)", ErrTooLarge, it.Size, r.opt.MaxItemSize))
	}
	r.last = metaName
	data, err := r.header()
	if err == io.EOF {
		return nil, &Error{Archive: r.opt.Name, Entry: metaName, After: r.last, Err: fmt.Errorf("%w: metadata without its data", ErrTruncated)}
	}
	if err != nil {
		return nil, err
	}
	want := strings.TrimSuffix(metaName, metaExt) + it.Kind.Ext()
	if data.Name != want {
		return nil, r.wrap(data.Name, fmt.Errorf("%w: expected %s after %s", ErrStructure, want, metaName))
	}
	if data.Size != it.Size {
		return nil, r.wrap(data.Name, fmt.Errorf("%w: %d bytes, metadata says %d", ErrStructure, data.Size, it.Size))
	}
	r.counts.Add(it.Kind, it.Size)
	fc.Add(it.Kind, it.Size)
	r.body = &itemBody{r: r, name: data.Name, left: it.Size, want: sum, h: sha256.New()}
	return &Entry{Name: data.Name, Item: &it, MetaName: metaName, Meta: raw, Body: r.body}, nil
}

func (r *Reader) readSummary(hdr *tar.Header) (*Entry, error) {
	var s Summary
	raw, err := r.record(hdr, r.opt.MaxSummary, &s)
	if err != nil {
		return nil, err
	}
	if err := r.checkSummary(&s); err != nil {
		return nil, r.wrap(hdr.Name, err)
	}
	for i, fc := range s.Folders {
		if safe, ok := r.rename[string(fc.Kind)+"\x00"+fc.Path]; ok {
			s.Folders[i].Path = safe
		}
	}
	r.summary = true
	r.stateCounts = s.State
	r.last = hdr.Name
	return &Entry{Name: hdr.Name, Summary: &s, Meta: raw}, nil
}

// checkSummary compares the summary's totals and per-folder counts with
// what the archive was found to hold.
func (r *Reader) checkSummary(s *Summary) error {
	if s.Counts != r.counts {
		return fmt.Errorf("%w: summary counts %+v, archive holds %+v", ErrStructure, s.Counts, r.counts)
	}
	if len(s.Folders) != len(r.folders) {
		return fmt.Errorf("%w: summary lists %d folders, archive holds %d", ErrStructure, len(s.Folders), len(r.folders))
	}
	seen := make(map[string]bool, len(s.Folders))
	for _, fc := range s.Folders {
		key := string(fc.Kind) + "\x00" + fc.Path
		got := r.folders[key]
		if got == nil || seen[key] {
			return fmt.Errorf("%w: summary lists %s folder %q that the archive does not hold once", ErrStructure, fc.Kind, fc.Path)
		}
		seen[key] = true
		if *got != fc.Counts {
			return fmt.Errorf("%w: summary counts %+v for %q, archive holds %+v", ErrStructure, fc.Counts, fc.Path, *got)
		}
	}
	return nil
}

// finish lets the codec check its own trailer (safetar.Reader.Finish).
func (r *Reader) finish() error {
	if err := r.sr.Finish(); err != nil {
		return r.ioError("", err)
	}
	return nil
}

// header returns the next tar header that is not a directory (safetar has
// checked its name and type).
func (r *Reader) header() (*tar.Header, error) {
	for {
		hdr, err := r.sr.Next()
		if err == io.EOF {
			return nil, io.EOF
		}
		if err != nil {
			return nil, r.ioError("", err)
		}
		if hdr.Typeflag != tar.TypeDir { // written by tools that repack archives; harmless
			return hdr, nil
		}
	}
}

// record reads a JSON entry of at most max bytes into v.
func (r *Reader) record(hdr *tar.Header, max int64, v any) ([]byte, error) {
	if hdr.Size > max {
		return nil, r.wrap(hdr.Name, fmt.Errorf("%w: record of %d bytes (limit %d)", ErrTooLarge, hdr.Size, max))
	}
	// Memory follows the bytes that arrive, not the size the header
	// claims, so a bomb is caught by the ratio check before it is held.
	var buf bytes.Buffer
	buf.Grow(int(min(hdr.Size, 64<<10)))
	if _, err := buf.ReadFrom(r.sr); err != nil {
		return nil, r.ioError(hdr.Name, err)
	}
	raw := buf.Bytes()
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, r.wrap(hdr.Name, fmt.Errorf("%w: %w", ErrStructure, err))
	}
	return raw, nil
}

func (r *Reader) wrap(entry string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Archive: r.opt.Name, Entry: entry, Err: err}
}

// ioError names the archive in an error of the tar layer (see tarError).
func (r *Reader) ioError(entry string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if fe := tarError(err, r.last); fe != nil {
		return fe
	}
	return r.wrap(entry, err)
}

// tarError is safetar's error as this package's, or nil for another: the
// same classification, with last as the last good entry (this layer's,
// which counts an item good once its checksum is), a damaged tar stream
// being no valid archive.
func tarError(err error, last string) *Error {
	var se *safetar.Error
	if !errors.As(err, &se) {
		return nil
	}
	out := &Error{Archive: se.Archive, Entry: se.Entry, Err: se.Err}
	if se.After != "" {
		out.After = last
	}
	if errors.Is(se.Err, safetar.ErrMalformed) {
		out.Err = fmt.Errorf("%w: %w", ErrStructure, se.Err)
	}
	return out
}

// itemBody streams one item's data and checks it at the end.
type itemBody struct {
	r    *Reader
	name string
	left int64
	want []byte
	h    hash.Hash
	err  error
}

func (b *itemBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.left == 0 {
		if !bytes.Equal(b.h.Sum(nil), b.want) {
			// Every byte the record announced was read, so the tar
			// framing is intact and the walk can go on past this item.
			b.err = b.r.wrap(b.name, fmt.Errorf("%w: %w", ErrDamagedItem, ErrChecksum))
			return 0, b.err
		}
		b.r.last = b.name
		b.err = io.EOF
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.sr.Read(p)
	b.left -= int64(n)
	b.h.Write(p[:n])
	if err != nil && !(err == io.EOF && b.left == 0) {
		b.err = b.r.ioError(b.name, err)
		return n, b.err
	}
	return n, nil
}

// WriteTo lets io.Copy hand the body large reads.
func (b *itemBody) WriteTo(w io.Writer) (int64, error) {
	if b.r.copyBuf == nil {
		b.r.copyBuf = make([]byte, 256<<10)
	}
	buf := b.r.copyBuf
	var total int64
	for {
		n, err := b.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}
