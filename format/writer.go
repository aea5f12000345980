package format

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// WriterOptions tune a Writer. The zero value writes gzip at the default
// level on all cores.
type WriterOptions struct {
	Compression Compression
	Level       int // codec level; 0 picks the default
	Threads     int // compression threads; 0 means GOMAXPROCS
	// SpillDir holds the temporary file used for an item larger than
	// SpillThreshold; empty means os.TempDir().
	SpillDir string
	// SpillThreshold is the largest item held in memory while its checksum
	// is computed; 0 means 8 MiB.
	SpillThreshold int
	// MaxProblems bounds the errors and warnings the summary lists; the
	// rest are only counted. 0 means 100,000.
	MaxProblems int
	// Now is the clock for the manifest's Started (when left zero) and the
	// summary's Finished; nil means time.Now. Tests fix it to get
	// byte-identical archives.
	Now func() time.Time
}

// Writer writes one archive as a stream: the manifest when created, then
// folders and items in the order given, the summary on Close.
//
// Each item's data is read once: into memory (or a spill file when large)
// while its SHA-256 is computed, because the metadata record that carries
// the checksum precedes the data. Memory therefore stays bounded by
// SpillThreshold whatever the mailbox size. A Writer is not safe for
// concurrent use.
type Writer struct {
	opt     WriterOptions
	zw      io.WriteCloser
	tw      *tar.Writer
	started time.Time

	names   *nameTree
	folders map[string]*FolderCounts // kind + "\x00" + path
	order   []*FolderCounts
	seq     int
	sum     Summary
	buf     bytes.Buffer
	spill   *os.File
	state   *stateSpool // the state record, once AddState was called
	err     error       // sticky: after a write error the archive is unusable
}

// NewWriter starts an archive on w and writes its manifest. The manifest's
// Format is set to Version and Started defaults to now.
func NewWriter(w io.Writer, m Manifest, opt *WriterOptions) (*Writer, error) {
	wr := &Writer{names: newNameTree(), folders: map[string]*FolderCounts{}}
	if opt != nil {
		wr.opt = *opt
	}
	if wr.opt.SpillThreshold <= 0 {
		wr.opt.SpillThreshold = 8 << 20
	}
	if wr.opt.MaxProblems <= 0 {
		wr.opt.MaxProblems = 100_000
	}
	if wr.opt.Now == nil {
		wr.opt.Now = time.Now
	}
	zw, err := compressor(w, wr.opt.Compression, wr.opt.Level, wr.opt.Threads)
	if err != nil {
		return nil, err
	}
	wr.zw = zw
	wr.tw = tar.NewWriter(zw)
	m.Format = Version
	if m.Started.IsZero() {
		m.Started = wr.opt.Now()
	}
	m.Started = m.Started.UTC()
	if !m.After.IsZero() {
		m.After = m.After.UTC()
	}
	wr.started = m.Started
	if err := wr.writeJSON(manifestName, m, m.Started); err != nil {
		wr.abort()
		return nil, err
	}
	return wr, nil
}

// AddFolder records a folder. It must come before the folder's items; a
// folder may be added once.
func (w *Writer) AddFolder(f Folder) error {
	if w.err != nil {
		return w.err
	}
	if kindDir[f.Kind] == "" {
		return fmt.Errorf("format: folder %q: unknown kind %q", f.Path, f.Kind)
	}
	if err := checkFolderPath(f.Path); err != nil {
		return fmt.Errorf("format: %w", err)
	}
	key := string(f.Kind) + "\x00" + f.Path
	if w.folders[key] != nil {
		return fmt.Errorf("format: folder %q added twice", f.Path)
	}
	fc := &FolderCounts{Path: f.Path, Kind: f.Kind, Role: f.Role}
	w.folders[key] = fc
	w.order = append(w.order, fc)
	return w.writeJSON(w.names.dir(f.Kind, f.Path)+"/"+folderFile, f, w.started)
}

// checkFolderPath rejects paths that cannot be a folder: empty levels,
// which would make "a//b" and "a/b" the same directory, "." and ".."
// levels, which name another folder or leave the tree when a consumer
// makes files or mailboxes of them, and NUL, which no system can name.
// Other control characters are kept: consumers make them safe (FORMAT.md).
func checkFolderPath(p string) error {
	if p == "" {
		return fmt.Errorf("%w: folder with an empty path", ErrStructure)
	}
	for _, level := range strings.Split(p, "/") {
		switch level {
		case "":
			return fmt.Errorf("%w: folder %q has an empty level", ErrStructure, p)
		case ".", "..":
			return fmt.Errorf("%w: folder %q has a %q level", ErrUnsafe, p, level)
		}
	}
	if strings.IndexByte(p, 0) >= 0 {
		return fmt.Errorf("%w: folder %q holds a NUL", ErrUnsafe, p)
	}
	return nil
}

// AddItem writes an item's metadata and data. It reads body to its end and
// sets it.Size, it.SHA256 and it.Role itself; the item's folder must have
// been added.
func (w *Writer) AddItem(it Item, body io.Reader) error {
	if w.err != nil {
		return w.err
	}
	if !it.Kind.valid() {
		return fmt.Errorf("format: item %s: unknown kind %q", it.SourceID, it.Kind)
	}
	fk := it.Kind.FolderKind()
	fc := w.folders[string(fk)+"\x00"+it.Folder]
	if fc == nil {
		return fmt.Errorf("format: item %s: folder %q was not added first", it.SourceID, it.Folder)
	}
	for _, l := range it.Labels {
		if w.folders[string(FolderMail)+"\x00"+l] == nil || fk != FolderMail {
			return fmt.Errorf("format: item %s: label %q is no mail folder added first", it.SourceID, l)
		}
	}
	src := &sourceReader{r: body}
	data, size, sum, err := w.slurp(src)
	if src.err != nil {
		// Nothing of the item was written: the archive stays usable.
		return fmt.Errorf("format: item %s in %q: %w: %w", it.SourceID, it.Folder, ErrItemBody, src.err)
	}
	if err != nil {
		return w.fail(fmt.Errorf("item %s in %q: %w", it.SourceID, it.Folder, err))
	}
	it.Size, it.SHA256, it.Role = size, sum, fc.Role
	it.Received = it.Received.UTC()
	mod := it.Received
	if mod.IsZero() {
		mod = w.started
	}
	w.seq++
	base := fmt.Sprintf("%s/%08d", w.names.dir(fk, it.Folder), w.seq)
	if err := w.writeJSON(base+metaExt, it, mod); err != nil {
		return err
	}
	if err := w.writeEntry(base+it.Kind.Ext(), size, mod, data); err != nil {
		return err
	}
	fc.Add(it.Kind, size)
	w.sum.Counts.Add(it.Kind, size)
	return nil
}

// ErrItemBody marks an error reading an item's body. Nothing of the item
// was written and the Writer can go on: the caller records the item as
// not exported. Any other error from AddItem leaves the archive unusable.
var ErrItemBody = errors.New("reading the item failed")

// sourceReader remembers the error its reader returned, to tell a failing
// source from a failing spill file.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// slurp reads body into the memory buffer, or a spill file once it grows
// past the threshold, and returns a reader of what it read.
func (w *Writer) slurp(body io.Reader) (io.Reader, int64, string, error) {
	h := sha256.New()
	w.buf.Reset()
	limit := int64(w.opt.SpillThreshold)
	n, err := w.buf.ReadFrom(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, 0, "", err
	}
	h.Write(w.buf.Bytes())
	if n <= limit {
		return bytes.NewReader(w.buf.Bytes()), n, hex.EncodeToString(h.Sum(nil)), nil
	}
	// Too large for memory: move what we have to the spill file and
	// stream the rest there too.
	if w.spill == nil {
		f, err := os.CreateTemp(w.opt.SpillDir, "mailhaul-spill-*")
		if err != nil {
			return nil, 0, "", err
		}
		os.Remove(f.Name()) // unlinked: nothing to clean up after a crash
		w.spill = f
	}
	if err := w.spill.Truncate(0); err != nil {
		return nil, 0, "", err
	}
	if _, err := w.spill.Seek(0, io.SeekStart); err != nil {
		return nil, 0, "", err
	}
	if _, err := w.spill.Write(w.buf.Bytes()); err != nil {
		return nil, 0, "", err
	}
	rest, err := io.Copy(io.MultiWriter(w.spill, h), body)
	if err != nil {
		return nil, 0, "", err
	}
	w.buf.Reset()
	n += rest
	if _, err := w.spill.Seek(0, io.SeekStart); err != nil {
		return nil, 0, "", err
	}
	return io.LimitReader(w.spill, n), n, hex.EncodeToString(h.Sum(nil)), nil
}

// AddError records an item that is not in the archive.
func (w *Writer) AddError(p Problem) { w.addProblem(&w.sum.Errors, p) }

// AddWarning records an item that is in the archive with a caveat.
func (w *Writer) AddWarning(p Problem) { w.addProblem(&w.sum.Warnings, p) }

func (w *Writer) addProblem(list *[]Problem, p Problem) {
	if len(w.sum.Errors)+len(w.sum.Warnings) >= w.opt.MaxProblems {
		w.sum.Truncated++
		return
	}
	*list = append(*list, p)
}

// AddSkipped counts n items left out on purpose for reason.
func (w *Writer) AddSkipped(reason string, n int) {
	if w.sum.Skipped == nil {
		w.sum.Skipped = map[string]int{}
	}
	w.sum.Skipped[reason] += n
}

// Summary returns the summary as it stands (final after Close).
func (w *Writer) Summary() Summary {
	s := w.sum
	s.Folders = make([]FolderCounts, len(w.order))
	for i, fc := range w.order {
		s.Folders[i] = *fc
	}
	return s
}

// Close writes the summary and flushes the compressor. It does not close
// the underlying writer.
func (w *Writer) Close() error {
	if w.err != nil {
		w.abort()
		return w.err
	}
	s := w.Summary()
	s.Finished = w.opt.Now().UTC()
	if w.state != nil {
		c := w.state.counts
		s.State = &c
	}
	w.sum = s
	if err := w.writeJSON(summaryName, s, s.Finished); err != nil {
		w.abort()
		return err
	}
	if err := w.tw.Close(); err != nil {
		w.abort()
		return w.fail(err)
	}
	if w.state != nil {
		if err := w.writeTail(s.Finished); err != nil {
			w.abort()
			return err
		}
	}
	zw := w.zw
	w.zw = nil
	if err := zw.Close(); err != nil {
		w.abort()
		return w.fail(err)
	}
	w.closeSpill()
	w.closeState()
	w.err = errors.New("format: writer is closed")
	return nil
}

// abort releases the compressor's goroutines and the spill file of an
// archive that will not be completed.
func (w *Writer) abort() {
	w.closeSpill()
	w.closeState()
	if w.zw != nil {
		if d, ok := w.zw.(interface{ Discard() }); ok {
			d.Discard() // no point finishing a frame that is thrown away
		} else {
			w.zw.Close()
		}
		w.zw = nil
	}
	if w.err == nil {
		w.err = errors.New("format: writer was aborted")
	}
}

func (w *Writer) closeSpill() {
	if w.spill != nil {
		w.spill.Close()
		w.spill = nil
	}
}

func (w *Writer) writeJSON(name string, v any, mod time.Time) error {
	// Records are for people reading them with tar too: indented, and
	// "<" or "&" left as they are rather than escaped for HTML.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("format: encode %s: %w", name, err)
	}
	return w.writeEntry(name, int64(b.Len()), mod, &b)
}

func (w *Writer) writeEntry(name string, size int64, mod time.Time, r io.Reader) error {
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Size:     size,
		Mode:     0o644,
		ModTime:  mod.Truncate(time.Second),
	}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return w.fail(err)
	}
	if _, err := io.Copy(w.tw, r); err != nil {
		return w.fail(err)
	}
	return nil
}

func (w *Writer) fail(err error) error {
	w.err = fmt.Errorf("format: write archive: %w", err)
	return w.err
}
