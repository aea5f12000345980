package format

import (
	"archive/tar"
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"time"
)

// stateName is the state record's entry, in the archive's tail.
const stateName = "state.jsonl"

// StateItem is one line of the state record (state.jsonl, FORMAT.md "The
// state record"): one item the source held when the export ran, whether
// or not its data is in the archive. It carries what a cutover needs to
// make the target equal to the source (folder, flags, content digest)
// without the item's bytes.
type StateItem struct {
	Kind   Kind   `json:"kind"`
	Folder string `json:"folder"` // the folder's archive path, as items give it
	// SourceID is the item's sourceId, the same as its item record has
	// in this or an earlier archive of the same source.
	SourceID string `json:"sourceId"`
	// Key, when the source has one, identifies the item whatever its
	// folder (a Maildir unique name): an item that moved keeps its Key
	// and gets another SourceID.
	Key   string   `json:"key,omitempty"`
	Flags []string `json:"flags,omitempty"` // IMAP flags and keywords, as items give them
	// Received, Size and MessageID are given where the source knows them
	// without reading the item's data (a Maildir name's time and S=).
	Received  time.Time `json:"received,omitzero"`
	Size      int64     `json:"size,omitempty"`
	MessageID string    `json:"messageId,omitempty"`
	UID       string    `json:"uid,omitempty"` // vCard or iCalendar UID
	// SHA256 is the hex SHA-256 of the item's data as its item record
	// would give it: contacts, events and tasks carry it, so that an
	// edited one is told from an unchanged one; messages may.
	SHA256 string `json:"sha256,omitempty"`
	// ETag is a CardDAV/CalDAV object's entity tag as the server listed
	// it (quotes and any W/ kept): a DAV source lists it with every
	// object, while UID and sha256 need the object's data.
	ETag string `json:"etag,omitempty"`
}

func (s *StateItem) check() error {
	if !s.Kind.valid() {
		return fmt.Errorf("unknown kind %q", s.Kind)
	}
	if s.Folder == "" || s.SourceID == "" {
		return errors.New("no folder or sourceId")
	}
	if s.SHA256 != "" {
		if b, err := hex.DecodeString(s.SHA256); err != nil || len(b) != 32 {
			return fmt.Errorf("bad sha256 %q", s.SHA256)
		}
	}
	return nil
}

// stateSpool holds the state record while the archive is written: it
// goes in the tail, after the summary, and its items arrive as the source
// walks its folders. A temporary file (unlinked at once, in SpillDir,
// which Create sets to the output directory) keeps memory flat whatever
// the mailbox's size.
type stateSpool struct {
	f      *os.File
	bw     *bufio.Writer
	enc    *json.Encoder
	counts Counts
}

// AddState adds one item to the archive's state record. A source calls
// it for every item it holds, exported or not (FORMAT.md). Errors are
// fatal to the archive, as those of AddItem.
func (w *Writer) AddState(s StateItem) error {
	if w.err != nil {
		return w.err
	}
	if err := s.check(); err != nil {
		return fmt.Errorf("format: state item %s in %q: %w", s.SourceID, s.Folder, err)
	}
	if w.state == nil {
		f, err := os.CreateTemp(w.opt.SpillDir, "mailhaul-state-*")
		if err != nil {
			return w.fail(err)
		}
		os.Remove(f.Name()) // unlinked: nothing to clean up after a crash
		sp := &stateSpool{f: f, bw: bufio.NewWriterSize(f, 256<<10)}
		sp.enc = json.NewEncoder(sp.bw)
		sp.enc.SetEscapeHTML(false)
		w.state = sp
	}
	if !s.Received.IsZero() {
		s.Received = s.Received.UTC()
	}
	if err := w.state.enc.Encode(s); err != nil {
		return w.fail(err)
	}
	w.state.counts.Add(s.Kind, s.Size)
	return nil
}

// writeTail writes the state record as the tail: a tar stream of its own
// after the archive's end-of-archive blocks, inside the same compressed
// stream.
func (w *Writer) writeTail(mod time.Time) error {
	sp := w.state
	if err := sp.bw.Flush(); err != nil {
		return w.fail(err)
	}
	size, err := sp.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return w.fail(err)
	}
	if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
		return w.fail(err)
	}
	w.tw = tar.NewWriter(w.zw)
	if err := w.writeEntry(stateName, size, mod, io.LimitReader(sp.f, size)); err != nil {
		return err
	}
	if err := w.tw.Close(); err != nil {
		return w.fail(err)
	}
	return nil
}

func (w *Writer) closeState() {
	if w.state != nil {
		w.state.f.Close()
		w.state = nil
	}
}

// stateRecord reads the state record line by line: memory holds one line
// (at most MaxRecordSize) whatever the number of items.
type stateRecord struct {
	r     *Reader
	sc    *bufio.Scanner
	n     int
	count Counts
	done  bool
	err   error
}

func (r *Reader) newStateRecord() *stateRecord {
	sc := bufio.NewScanner(r.sr)
	sc.Buffer(make([]byte, 0, 64<<10), int(r.opt.MaxRecordSize))
	return &stateRecord{r: r, sc: sc}
}

// next returns the next item, io.EOF at the end of the record (after
// checking its counts against the summary's).
func (s *stateRecord) next() (StateItem, error) {
	if s.err != nil {
		return StateItem{}, s.err
	}
	var it StateItem
	s.err = s.read(&it)
	return it, s.err
}

func (s *stateRecord) read(it *StateItem) error {
	if !s.sc.Scan() {
		if err := s.sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				return s.r.wrap(stateName, fmt.Errorf("%w: line %d longer than %d bytes", ErrTooLarge, s.n+1, s.r.opt.MaxRecordSize))
			}
			return s.r.ioError(stateName, err)
		}
		want := s.r.stateCounts
		if want == nil || *want != s.count {
			return s.r.wrap(stateName, fmt.Errorf("%w: state record holds %+v, summary says %+v", ErrStructure, s.count, want))
		}
		s.done = true
		return io.EOF
	}
	s.n++
	line := s.sc.Bytes()
	if err := json.Unmarshal(line, it); err != nil {
		return s.r.wrap(stateName, fmt.Errorf("%w: line %d: %w", ErrStructure, s.n, err))
	}
	if err := it.check(); err != nil {
		return s.r.wrap(stateName, fmt.Errorf("%w: line %d: %w", ErrStructure, s.n, err))
	}
	if safe, ok := s.r.rename[string(it.Kind.FolderKind())+"\x00"+it.Folder]; ok {
		it.Folder = safe
	}
	s.count.Add(it.Kind, it.Size)
	return nil
}

// drain reads what the caller left of the record, checking it all.
func (s *stateRecord) drain() error {
	for {
		_, err := s.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// seq is the record as an iterator: it stops after the first error.
func (s *stateRecord) seq() iter.Seq2[StateItem, error] {
	return func(yield func(StateItem, error) bool) {
		for {
			it, err := s.next()
			if err == io.EOF {
				return
			}
			if !yield(it, err) || err != nil {
				return
			}
		}
	}
}

// ReadState opens the archive at path and walks its state record, for a
// caller that wants the state alone: the archive's entries are read (and
// checked) on the way, their data not kept. The iterator yields nothing
// for an archive without a state record; its last pair carries the error
// that stopped it, if any.
func ReadState(path string, opt *ReaderOptions) iter.Seq2[StateItem, error] {
	return func(yield func(StateItem, error) bool) {
		o := ReaderOptions{}
		if opt != nil {
			o = *opt
		}
		o.State = true
		r, err := Open(path, &o)
		if err != nil {
			yield(StateItem{}, err)
			return
		}
		defer r.Close()
		for {
			e, err := r.Next()
			if err == io.EOF {
				return
			}
			if errors.Is(err, ErrDamagedItem) {
				continue // an item's data, not the state: read on
			}
			if err != nil {
				yield(StateItem{}, err)
				return
			}
			if e.State == nil {
				continue
			}
			for it, err := range e.State {
				if !yield(it, err) {
					return
				}
			}
		}
	}
}
