package pim

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/emersion/go-ical"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/nopanic"
)

// AddCalendar exports the iCalendar or vCalendar 1.0 file at path as the
// calendar name (the file's base name without extension when name is ""):
// one folder, then one item per UID and component type, an event for
// VEVENT and VJOURNAL, a task for VTODO.
//
// Each item is a VCALENDAR with the file's calendar properties except
// METHOD, the VTIMEZONEs its components reference and the components'
// bytes unchanged. An object go-ical cannot parse is still exported, with
// a warning. A UID names one object in the calendar, as in AddContacts. A
// missing or unreadable file is an error, and so is a vCard file
// (ErrContactsFile); an empty one gives an empty calendar.
func AddCalendar(ctx context.Context, sink export.Sink, name, path string, opt export.Options) error {
	name = defaultName(name, path)
	f, fi, err := openFile(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if sniffKind(f) == kindVCard {
		return fmt.Errorf("pim: %s %w", path, ErrContactsFile)
	}
	file := filepath.Base(path)
	report := func(p SplitProblem) {
		fp := format.Problem{Folder: name, Item: fmt.Sprintf("%s %s (line %d)", file, p.What, p.Line), Reason: p.Reason}
		if p.Lost {
			sink.AddError(fp)
		} else {
			sink.AddWarning(fp)
		}
	}
	ix, err := IndexCalendar(ctx, f, fi.Size(), report)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return fmt.Errorf("pim: read %s: %w", path, err)
	}

	info := ix.Info()
	folder := format.Folder{Kind: format.FolderCalendar, Path: name, DisplayName: name,
		Color: info.Color, Description: info.Description}
	if info.Name != "" {
		folder.DisplayName = info.Name
	}
	if err := sink.AddFolder(folder); err != nil {
		return err
	}

	var (
		ids  sourceIDs
		uids uidOwners
	)
	repeated := ix.repeatedUIDs()
	mtime := fi.ModTime().UTC()
	err = ix.Objects(ctx, name, func(o *CalendarObject) error {
		what := fmt.Sprintf("%s %s (line %d)", file, describe(o.Component, o.UID), o.Line)
		// Only a UID the file repeats, or one generated from content, can
		// collide: only those objects are read an extra time to compare.
		// Decided before the cutoff, so that a delta agrees with the full
		// export on which object keeps the UID.
		generated := slices.Contains(o.Notes, "uid generated")
		if repeated[o.UID] || generated {
			sum, err := digest16(o.Open())
			if err != nil {
				return err
			}
			v, err := uids.claim(name, o.UID, sum, what, generated, o.Open)
			if err != nil {
				return err
			}
			switch {
			case v.duplicate:
				sink.AddSkipped(SkipDuplicate, 1)
				sink.AddWarning(format.Problem{Folder: name, Item: what, Reason: v.note})
				return nil
			case v.newUID != "":
				if o, err = o.WithUID(v.newUID); err != nil {
					return err
				}
				o.Notes = append(o.Notes, v.note)
				if v.warn {
					sink.AddWarning(format.Problem{Folder: name, Item: what, Reason: v.note})
				}
			}
		}
		received := o.Stamp
		if received.IsZero() {
			received = mtime
		}
		// The SourceID is handed out before the cutoff is applied, so
		// that a delta gives each object the same one as the full export.
		it := format.Item{Kind: o.Kind, Folder: name, Received: received, UID: o.UID,
			SourceID: ids.next(file, o.UID, o.Index)}
		if err := addState(sink, opt, it, o.Open()); err != nil {
			return err
		}
		if !opt.Keep(received) {
			sink.AddSkipped(export.SkipBeforeCutoff, 1)
			return nil
		}
		it.Notes = o.Notes
		if err := validateCalendar(o); err != nil {
			it.Notes = append(it.Notes, "go-ical cannot parse this object: "+err.Error())
			sink.AddWarning(format.Problem{Folder: name, Item: what, Reason: fmt.Sprintf("%v; exported unchanged", err)})
		}
		if err := export.AddItem(sink, it, what, o.Open()); err != nil {
			return sinkError{err}
		}
		return nil
	})
	if err != nil {
		if se, ok := err.(sinkError); ok {
			return se.err
		}
		if ctx.Err() != nil {
			return err
		}
		return fmt.Errorf("pim: read %s: %w", path, err)
	}
	return nil
}

// validateCalendar parses the object with go-ical, the parser the CalDAV
// importer relies on, to flag objects it will struggle with.
func validateCalendar(o *CalendarObject) error {
	return nopanic.Run(func() error {
		_, err := ical.NewDecoder(o.Open()).Decode()
		return err
	})
}
