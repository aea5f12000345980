// Package exporttest provides a Sink that records what a source exported,
// for the sources' own tests.
package exporttest

import (
	"fmt"
	"io"

	"github.com/mailhaul/mailhaul/format"
)

// Sink records everything a source sends it. The zero value is ready.
type Sink struct {
	Folders  []format.Folder
	Items    []Item
	Errors   []format.Problem
	Warnings []format.Problem
	Skipped  map[string]int
	// Archive, when set, is given every folder first, and its refusal is
	// returned as a real export's archive would return it: tests set it
	// (NewArchive) so that a path the archive refuses fails there too.
	Archive interface{ AddFolder(format.Folder) error }
}

// NewArchive is an archive writer that discards what it writes, for
// Sink.Archive. It is uncompressed: tests never close it, and a
// compressor left open keeps its goroutines and buffers for the rest of
// the test binary.
func NewArchive() (*format.Writer, error) {
	return format.NewWriter(io.Discard, format.Manifest{User: "test@example.com"},
		&format.WriterOptions{Compression: format.None})
}

// Item is a recorded item with its body.
type Item struct {
	format.Item
	Body []byte
}

func (s *Sink) AddFolder(f format.Folder) error {
	if s.Archive != nil {
		if err := s.Archive.AddFolder(f); err != nil {
			return err
		}
	}
	for _, g := range s.Folders {
		if g.Kind == f.Kind && g.Path == f.Path {
			return fmt.Errorf("exporttest: folder %q added twice", f.Path)
		}
	}
	s.Folders = append(s.Folders, f)
	return nil
}

func (s *Sink) AddItem(it format.Item, body io.Reader) error {
	if s.Folder(it.Folder) == nil {
		return fmt.Errorf("exporttest: item %s in folder %q that was not added first", it.SourceID, it.Folder)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		// As format.Writer does: nothing is recorded, the item's failure
		// is marked as such, and the sink stays usable.
		return fmt.Errorf("exporttest: item %s in %q: %w: %w", it.SourceID, it.Folder, format.ErrItemBody, err)
	}
	it.Size = int64(len(b))
	s.Items = append(s.Items, Item{Item: it, Body: b})
	return nil
}

func (s *Sink) AddError(p format.Problem)   { s.Errors = append(s.Errors, p) }
func (s *Sink) AddWarning(p format.Problem) { s.Warnings = append(s.Warnings, p) }

func (s *Sink) AddSkipped(reason string, n int) {
	if s.Skipped == nil {
		s.Skipped = map[string]int{}
	}
	s.Skipped[reason] += n
}

// Folder returns the recorded folder with path p, or nil.
func (s *Sink) Folder(p string) *format.Folder {
	for i := range s.Folders {
		if s.Folders[i].Path == p {
			return &s.Folders[i]
		}
	}
	return nil
}

// InFolder returns the items recorded in folder p, in order.
func (s *Sink) InFolder(p string) []Item {
	var out []Item
	for _, it := range s.Items {
		if it.Folder == p {
			out = append(out, it)
		}
	}
	return out
}
