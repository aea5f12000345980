package maildir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/format"
)

// entry is one message file found in a folder's cur/ or new/.
type entry struct {
	de  os.DirEntry
	dir int    // index into folder.dirs (and the keyword tables)
	sub string // "cur" or "new"
}

// item names the file in problems: relative to its folder, "cur/NAME".
func (e *entry) item() string { return e.sub + "/" + e.de.Name() }

// path is the file's path, built in one allocation.
func (e *entry) path(dir string) string { return dir + "/" + e.sub + "/" + e.de.Name() }

// exporter carries one Export run's state from folder to folder.
type exporter struct {
	sink    export.Sink
	opt     export.Options
	body    body
	entries []entry // reused listing buffer
}

// exportFolder sends f and then its messages, in file-name order.
func (x *exporter) exportFolder(f *folder) error {
	err := x.sink.AddFolder(format.Folder{
		Kind: format.FolderMail, Path: f.path, Role: f.role, Subscribed: f.subscribed,
	})
	if err != nil {
		return fmt.Errorf("maildir: folder %s: %w", f.path, err)
	}
	for _, w := range f.warnings {
		x.sink.AddWarning(w)
	}
	kws := make([]*keywords, len(f.dirs))
	for i, dir := range f.dirs {
		kw, notes, err := readKeywords(dir)
		if err != nil {
			x.sink.AddWarning(format.Problem{Folder: f.path, Item: keywordsFile,
				Reason: "keyword letters a-z dropped: " + cause(err)})
		}
		for _, n := range notes {
			x.sink.AddWarning(format.Problem{Folder: f.path, Item: keywordsFile, Reason: n})
		}
		kws[i] = kw
	}
	x.list(f)

	var (
		unknown      flagSet // letters with no meaning here, warned about once
		unknownFirst string
		unknownCount int
		skipped      int
	)
	for i := range x.entries {
		if err := x.body.ctx.Err(); err != nil {
			return err
		}
		e := &x.entries[i]
		dir := f.dirs[e.dir]
		name := e.de.Name()
		unique, info, _ := splitInfo(name)

		fi, problem := x.check(dir, e)
		if problem != "" {
			x.sink.AddError(format.Problem{Folder: f.path, Item: e.item(), Reason: problem})
			continue
		}
		var received time.Time
		if sec, ok := nameTime(unique); ok {
			received = time.Unix(sec, 0).UTC()
		} else {
			if fi == nil {
				var err error
				if fi, err = e.de.Info(); err != nil {
					x.sink.AddError(format.Problem{Folder: f.path, Item: e.item(), Reason: "stat: " + cause(err)})
					continue
				}
			}
			received = fi.ModTime().UTC()
		}
		if !x.opt.Keep(received) {
			skipped++ // decided from the name or the listing: never opened
			continue
		}

		flags, unk := parseFlags(info).imapFlags(kws[e.dir])
		if !unk.empty() {
			if unknownCount == 0 {
				unknownFirst = e.item()
			}
			unknownCount++
			unknown.upper |= unk.upper
			unknown.lower |= unk.lower
		}
		it := format.Item{
			Kind:     format.KindMessage,
			Folder:   f.path,
			Role:     f.role,
			Flags:    flags,
			Received: received,
			SourceID: f.path + "/" + unique,
		}
		if err := x.send(f, dir, e, it); err != nil {
			return err
		}
	}
	if skipped > 0 {
		x.sink.AddSkipped(export.SkipBeforeCutoff, skipped)
	}
	if unknownCount > 0 {
		x.sink.AddWarning(format.Problem{Folder: f.path, Item: unknownFirst, Reason: fmt.Sprintf(
			"flag letters %q have no meaning in this folder (not a standard flag, or no %s entry); ignored on %d message(s)",
			unknown.letters(), keywordsFile, unknownCount)})
	}
	return nil
}

// list fills x.entries with the message files of f's cur/ and new/,
// sorted by file name. tmp/ holds deliveries in progress and is skipped.
func (x *exporter) list(f *folder) {
	x.entries = x.entries[:0]
	for i, dir := range f.dirs {
		for _, sub := range [...]string{"cur", "new"} {
			des, err := os.ReadDir(dir + "/" + sub)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				// What was listed before the error is still exported.
				x.sink.AddError(format.Problem{Folder: f.path, Item: sub, Reason: "list: " + cause(err)})
			}
			for _, de := range des {
				if strings.HasPrefix(de.Name(), ".") {
					continue // hidden files are not messages (Maildir spec)
				}
				x.entries = append(x.entries, entry{de: de, dir: i, sub: sub})
			}
		}
	}
	slices.SortStableFunc(x.entries, func(a, b entry) int { return strings.Compare(a.de.Name(), b.de.Name()) })
}

// check says why e cannot be a message ("" if it can). For a symbolic link
// it returns the target's FileInfo, which it had to stat anyway.
func (x *exporter) check(dir string, e *entry) (fs.FileInfo, string) {
	typ := e.de.Type()
	var fi fs.FileInfo
	if typ&fs.ModeSymlink != 0 {
		var err error
		if fi, err = os.Stat(e.path(dir)); err != nil {
			return nil, "open: " + cause(err)
		}
		typ = fi.Mode().Type()
	}
	switch {
	case typ.IsDir():
		return nil, "is a directory, not a message"
	case !typ.IsRegular():
		// Never open a FIFO or device: it could block the export forever.
		return nil, "not a regular file (" + typ.String() + ")"
	}
	return fi, ""
}

// send opens one message file and streams it to the sink. Problems before
// the first byte reaches the sink are the item's; after that, the sink's
// entry is half written and the export cannot go on.
func (x *exporter) send(f *folder, dir string, e *entry, it format.Item) error {
	file, err := openFile(e.path(dir))
	if err != nil {
		x.sink.AddError(format.Problem{Folder: f.path, Item: e.item(), Reason: "open: " + cause(err)})
		return nil
	}
	defer file.Close()
	n, err := x.body.start(file)
	if err != nil {
		x.sink.AddError(format.Problem{Folder: f.path, Item: e.item(), Reason: "read: " + cause(err)})
		return nil
	}
	if n == 0 {
		x.sink.AddError(format.Problem{Folder: f.path, Item: e.item(), Reason: "empty file"})
		return nil
	}
	it.MessageID = messageID(x.body.prefix())
	if err := x.sink.AddItem(it, &x.body); err != nil {
		if errors.Is(err, format.ErrItemBody) && x.body.readErr != nil {
			// The sink wrote nothing of it: record the file and go on.
			x.sink.AddError(format.Problem{Folder: f.path, Item: e.item(), Reason: "read: " + cause(x.body.readErr)})
			return nil
		}
		return fmt.Errorf("maildir: %s/%s: %w", f.path, e.item(), err)
	}
	return nil
}

// cause is err without the path an *fs.PathError repeats: problems name
// their folder and file already.
func cause(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
