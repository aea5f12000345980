package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"

	"github.com/mailhaul/mailhaul/format"
)

// Visitor receives what Walk reads, archive by archive. A nil field skips
// that kind of entry. An error from a visitor ends the walk and is
// returned as it is.
type Visitor struct {
	// Folder is called before the folder's items; notes are the reader's
	// (a folder read under a safe path) for the report.
	Folder func(archive string, f format.Folder, notes []string) error
	// Item is called with the entry whose Body the visitor may read; a
	// damaged body fails that item only (Body's error wraps
	// format.ErrDamagedItem), and the walk goes on.
	Item func(archive string, e *format.Entry) error
	// Summary is the archive's last entry: what its export could not read.
	Summary func(archive string, s *format.Summary) error
	// State is called after Summary with a delta's state record
	// (FORMAT.md, "The state record"), one item at a time: every item the
	// source held when the export ran. Its last pair carries the error
	// that stopped it; an archive without a record gets no call. A
	// visitor that stops early leaves the rest to the walk, which still
	// checks it. Setting it makes the walk read the record (format's
	// ReaderOptions.State).
	State func(archive string, items iter.Seq2[format.StateItem, error]) error
}

// Walk streams archives in order (a full archive, then its deltas) and is
// the one place that owns the damaged-archive policy of FORMAT.md: a
// damaged item costs that item, which its visitor fails when it reads the
// body; a damaged, truncated or unreadable archive ends the walk with an
// error naming the archive, because what follows the damage cannot be
// trusted to be complete. Every target walks its archives through here.
func Walk(ctx context.Context, archives []string, v Visitor) error {
	for _, path := range archives {
		if err := walkOne(ctx, path, v); err != nil {
			return err
		}
	}
	return nil
}

func walkOne(ctx context.Context, path string, v Visitor) error {
	r, err := format.Open(path, &format.ReaderOptions{State: v.State != nil})
	if err != nil {
		return fmt.Errorf("archive %s: %w", path, err)
	}
	defer r.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, err := r.Next()
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, format.ErrDamagedItem):
			// An item the visitor did not read turned out damaged while
			// the reader skipped it; it was not the visitor's to fail.
			continue
		case err != nil:
			return fmt.Errorf("archive %s: %w", path, err)
		}
		switch {
		case e.Folder != nil && v.Folder != nil:
			err = v.Folder(path, *e.Folder, e.Notes)
		case e.Item != nil && v.Item != nil:
			err = v.Item(path, e)
		case e.Summary != nil && v.Summary != nil:
			err = v.Summary(path, e.Summary)
		case e.State != nil && v.State != nil:
			err = v.State(path, e.State)
		}
		if err != nil {
			return err
		}
	}
}
