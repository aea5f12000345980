package maildir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/srcfs"
	"github.com/mailhaul/mailhaul/format"
	mdir "github.com/mailhaul/mailhaul/mailbox/maildir"
)

// subdirs are the directories holding messages, in listing order; tmp/
// holds deliveries in progress and is skipped. new/ is listed first: a
// message only ever moves from new/ to cur/, so one moved while the folder
// is listed is seen at least once (and if twice, its cur/ name wins).
var subdirs = [...]string{"new", "cur"}

// afterListing, when set, runs after each listing of cur/ or new/: tests
// act on the folder there, as a live mail server would.
var afterListing func(sub string)

// entry is one message file found in a folder's cur/ or new/.
type entry struct {
	de     os.DirEntry
	name   string
	unique string // name without its info part
	dir    int    // index into folder.dirs (and the keyword tables)
	sub    int    // index into subdirs
}

// item names the file in problems: relative to its folder, "cur/NAME".
func (e *entry) item() string { return subdirs[e.sub] + "/" + e.name }

// openDirs are the open directories of one folder: per folder.dirs
// entry, its cur/ and new/ (nil when absent or refused).
type openDirs [][len(subdirs)]*srcfs.Dir

func (o openDirs) close() {
	for _, ds := range o {
		for _, d := range ds {
			if d != nil {
				d.Close()
			}
		}
	}
}

// exporter carries one Export run's state from folder to folder.
type exporter struct {
	root    *srcfs.Dir
	sink    export.Sink
	opt     export.Options
	body    body
	entries []entry // reused listing buffer
	// where maps, per folder.dirs entry, each unique name to the entry it
	// had in the latest re-list of the folder (nil before the first):
	// one re-list serves every message renamed since the listing.
	where []map[string]entry
}

// exportFolder sends f and then its messages, in file-name order.
func (x *exporter) exportFolder(f *folder) error {
	err := x.sink.AddFolder(format.Folder{
		Kind: format.FolderMail, Path: f.path, Role: f.role, Subscribed: f.subscribed, Notes: f.notes,
	})
	if err != nil {
		return fmt.Errorf("maildir: folder %s: %w", f.path, err)
	}
	for _, w := range f.warnings {
		x.sink.AddWarning(w)
	}
	kws := make([]*mdir.Keywords, len(f.dirs))
	dirs := make(openDirs, len(f.dirs))
	defer dirs.close()
	for i, rel := range f.dirs {
		d, err := x.root.OpenDir(rel)
		if err != nil {
			x.sink.AddError(format.Problem{Folder: f.path, Item: rel, Reason: "list folder: " + cause(err)})
			continue
		}
		kw, notes, err := readKeywords(d)
		if err != nil {
			x.sink.AddWarning(format.Problem{Folder: f.path, Item: keywordsFile,
				Reason: "keyword letters a-z dropped: " + cause(err)})
		}
		for _, n := range notes {
			x.sink.AddWarning(format.Problem{Folder: f.path, Item: keywordsFile, Reason: n})
		}
		kws[i] = kw
		for j, sub := range subdirs {
			sd, err := d.OpenDir(sub)
			switch {
			case errors.Is(err, fs.ErrNotExist):
			case err != nil:
				x.sink.AddError(format.Problem{Folder: f.path, Item: sub, Reason: "list: " + cause(err)})
			default:
				dirs[i][j] = sd
			}
		}
		d.Close()
	}
	x.where = x.where[:0]
	for range f.dirs {
		x.where = append(x.where, nil)
	}
	x.list(f, dirs)

	st := folderState{kws: kws, done: make(map[string]struct{}, len(x.entries))}
	for i := range x.entries {
		if err := x.one(f, dirs, &st, &x.entries[i]); err != nil {
			return err
		}
	}
	// A listing made while the server renames can miss a message (neither
	// its old name nor its new one): list again and export what earlier
	// listings missed, until a re-list finds nothing new (at most
	// maxCatchUp times), so nothing present all along is left out.
	for range maxCatchUp {
		var missed []entry
		for i := range f.dirs {
			for u, e := range x.relist(dirs, i) {
				if _, ok := st.done[key(i, u)]; !ok {
					missed = append(missed, e)
				}
			}
		}
		if len(missed) == 0 {
			break
		}
		slices.SortFunc(missed, func(a, b entry) int { return strings.Compare(a.unique, b.unique) })
		for i := range missed {
			if err := x.one(f, dirs, &st, &missed[i]); err != nil {
				return err
			}
		}
	}
	if st.skipped > 0 {
		x.sink.AddSkipped(export.SkipBeforeCutoff, st.skipped)
	}
	if st.unknownCount > 0 {
		x.sink.AddWarning(format.Problem{Folder: f.path, Item: st.unknownFirst, Reason: fmt.Sprintf(
			"flag letters %q have no meaning in this folder (not a standard flag, or no %s entry); ignored on %d message(s)",
			st.unknown.Letters(), keywordsFile, st.unknownCount)})
	}
	return nil
}

// folderState is what exporting one folder's messages accumulates.
type folderState struct {
	kws          []*mdir.Keywords
	done         map[string]struct{} // key(dir, unique) of messages handled
	unknown      mdir.FlagSet        // letters with no meaning here, warned about once
	unknownFirst string
	unknownCount int
	skipped      int
}

// key names a message of a folder: the index of its Maildir and its
// unique name.
func key(dir int, unique string) string { return strconv.Itoa(dir) + "/" + unique }

// one exports, skips or reports the message e, once: a unique name
// already handled in this folder is not handled again.
func (x *exporter) one(f *folder, dirs openDirs, st *folderState, e *entry) error {
	if err := x.body.ctx.Err(); err != nil {
		return err
	}
	k := key(e.dir, e.unique)
	if _, ok := st.done[k]; ok {
		return nil
	}
	st.done[k] = struct{}{}
	unique := e.unique

	if problem := check(e); problem != "" {
		x.sink.AddError(format.Problem{Folder: f.path, Item: e.item(), Reason: problem})
		return nil
	}
	var received time.Time
	if sec, ok := mdir.NameTime(unique); ok {
		received = time.Unix(sec, 0).UTC()
	} else {
		fi, err := e.de.Info()
		if err != nil {
			x.sink.AddError(format.Problem{Folder: f.path, Item: e.item(), Reason: "stat: " + cause(err)})
			return x.state(f, st, e, time.Time{}) // listed: still there
		}
		received = fi.ModTime().UTC()
	}
	if !x.opt.Keep(received) {
		st.skipped++ // decided from the name or the listing: never opened
		return x.state(f, st, e, received)
	}

	file, ok, gone := x.open(f, dirs, e)
	if !ok {
		if gone {
			return nil
		}
		return x.state(f, st, e, received) // still there, just not read
	}
	if err := x.state(f, st, e, received); err != nil {
		file.Close()
		return err
	}
	// The flags are those of the name the file was opened under.
	_, info, _ := mdir.SplitInfo(e.name)
	flags, unk := mdir.ParseFlags(info).IMAPFlags(st.kws[e.dir])
	if !unk.Empty() {
		if st.unknownCount == 0 {
			st.unknownFirst = e.item()
		}
		st.unknownCount++
		st.unknown.Upper |= unk.Upper
		st.unknown.Lower |= unk.Lower
	}
	it := format.Item{
		Kind:     format.KindMessage,
		Folder:   f.path,
		Role:     f.role,
		Flags:    flags,
		Received: received,
		SourceID: f.path + "/" + unique,
	}
	err := x.send(f, e, file, it)
	file.Close()
	return err
}

// state gives the sink e's line of the state record, when asked: all
// from the listing (flags from the info part, size from S=), so an
// unchanged message is never opened.
func (x *exporter) state(f *folder, st *folderState, e *entry, received time.Time) error {
	if !x.opt.State {
		return nil
	}
	_, info, _ := mdir.SplitInfo(e.name)
	flags, _ := mdir.ParseFlags(info).IMAPFlags(st.kws[e.dir])
	err := export.AddState(x.sink, format.StateItem{
		Kind: format.KindMessage, Folder: f.path, SourceID: f.path + "/" + e.unique, Key: e.unique,
		Flags: flags, Received: received, Size: nameSize(e.unique),
	})
	if err != nil {
		return fmt.Errorf("maildir: %s/%s: %w", f.path, e.item(), err)
	}
	return nil
}

// nameSize is the size a unique name gives in its ",S=" field, 0 if
// none (Maildir++ and Dovecot write it).
func nameSize(unique string) int64 {
	for field := range strings.SplitSeq(unique, ",") {
		if v, ok := strings.CutPrefix(field, "S="); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
				return n
			}
		}
	}
	return 0
}

// list fills x.entries with the message files of f's cur/ and new/,
// sorted by file name.
func (x *exporter) list(f *folder, dirs openDirs) {
	x.entries = x.entries[:0]
	for i := range dirs {
		for j, sd := range dirs[i] {
			if sd == nil {
				continue
			}
			des, err := readDir(sd)
			if afterListing != nil {
				afterListing(subdirs[j])
			}
			if err != nil {
				// What was listed before the error is still exported.
				x.sink.AddError(format.Problem{Folder: f.path, Item: subdirs[j], Reason: "list: " + cause(err)})
			}
			for _, de := range des {
				if strings.HasPrefix(de.Name(), ".") {
					continue // hidden files are not messages (Maildir spec)
				}
				unique, _, _ := mdir.SplitInfo(de.Name())
				x.entries = append(x.entries, entry{de: de, name: de.Name(), unique: unique, dir: i, sub: j})
			}
		}
	}
	// In unique-name order; one message listed twice (moved from new/ to
	// cur/ between the two listings, or renamed in cur/ while it was
	// read, so that both names came back) is kept once, as found in cur/.
	slices.SortFunc(x.entries, func(a, b entry) int {
		if c := strings.Compare(a.unique, b.unique); c != 0 {
			return c
		}
		if a.dir != b.dir {
			return a.dir - b.dir
		}
		if a.sub != b.sub {
			return b.sub - a.sub // cur/ first
		}
		return strings.Compare(a.name, b.name)
	})
	x.entries = slices.CompactFunc(x.entries, func(a, b entry) bool {
		return a.unique == b.unique && a.dir == b.dir
	})
}

// check says why e cannot be a message ("" if it can), from the listing's
// own type: a link is never followed, a FIFO or device never opened.
func check(e *entry) string {
	typ := e.de.Type()
	switch {
	case typ.IsDir():
		return "is a directory, not a message"
	case typ&fs.ModeSymlink != 0:
		return srcfs.ErrSymlink.Error() + ": nothing outside the source is exported"
	}
	if err := srcfs.CheckEntry(typ); err != nil {
		return err.Error()
	}
	return ""
}

// maxRelists bounds how often one message is looked for again: a
// message renamed on every look is being changed faster than it can be
// read, and is reported.
const maxRelists = 4

// maxCatchUp bounds the re-lists made at a folder's end for messages the
// listings missed.
const maxCatchUp = 3

// open opens e's file. A live mailbox renames a message whenever its flags
// change (":2,S" to ":2,RS") and moves it from new/ to cur/ once a client
// has seen it; a file that vanished after the listing is therefore looked
// for again by its unique name, first where the latest re-list of the
// folder saw it, then in a fresh re-list, and e is updated to where it was
// found. Only a message absent from two re-lists made after the failed
// open is called expunged (a listing during a rename may show neither
// name); one that cannot be caught is reported. ok is false when the item
// was reported instead, gone also when it was expunged.
func (x *exporter) open(f *folder, dirs openDirs, e *entry) (file *os.File, ok, gone bool) {
	relists, absent := 0, 0
	for {
		file, err := openFile(dirs[e.dir][e.sub], e.name)
		if err == nil {
			return file, true, false
		}
		if !errors.Is(err, fs.ErrNotExist) {
			x.sink.AddError(format.Problem{Folder: f.path, Item: e.item(), Reason: "open: " + cause(err)})
			return nil, false, false
		}
		// A re-list made for an earlier message may know the new name.
		if w, ok := x.where[e.dir][e.unique]; ok && (w.name != e.name || w.sub != e.sub) {
			*e = w
		} else {
			if relists == maxRelists {
				x.sink.AddError(format.Problem{Folder: f.path, Item: e.item(), Reason: fmt.Sprintf(
					"open: renamed or moved on each of %d looks while the export ran; not read", maxRelists)})
				return nil, false, false
			}
			relists++
			w, ok := x.relist(dirs, e.dir)[e.unique]
			if !ok {
				if absent++; absent == 2 {
					x.sink.AddSkipped(export.SkipExpunged, 1)
					x.sink.AddWarning(format.Problem{Folder: f.path, Item: e.item(),
						Reason: "expunged while the export ran: listed, then found in neither cur/ nor new/"})
					return nil, false, true
				}
				continue
			}
			*e = w
		}
		if problem := check(e); problem != "" {
			x.sink.AddError(format.Problem{Folder: f.path, Item: e.item(), Reason: problem})
			return nil, false, false
		}
	}
}

// relist lists the Maildir dirs[i] again, cur/ and new/, and returns its
// messages by unique name (cur/ winning over new/), keeping the map for
// the messages that follow. A failed listing just finds nothing.
func (x *exporter) relist(dirs openDirs, i int) map[string]entry {
	m := make(map[string]entry, len(x.where[i]))
	for j := len(subdirs) - 1; j >= 0; j-- { // cur/ first
		sd := dirs[i][j]
		if sd == nil {
			continue
		}
		des, _ := readDir(sd)
		for _, de := range des {
			if strings.HasPrefix(de.Name(), ".") {
				continue
			}
			u, _, _ := mdir.SplitInfo(de.Name())
			if _, ok := m[u]; !ok {
				m[u] = entry{de: de, name: de.Name(), unique: u, dir: i, sub: j}
			}
		}
	}
	x.where[i] = m
	return m
}

// send streams one open message file to the sink. Problems before the
// first byte reaches the sink are the item's; after that, the sink's entry
// is half written and the export cannot go on.
func (x *exporter) send(f *folder, e *entry, file *os.File, it format.Item) error {
	n, err := x.body.start(file)
	if err != nil {
		x.sink.AddError(format.Problem{Folder: f.path, Item: e.item(), Reason: "read: " + cause(err)})
		return nil
	}
	if n == 0 {
		x.sink.AddError(format.Problem{Folder: f.path, Item: e.item(), Reason: "empty file"})
		return nil
	}
	it.MessageID = export.MessageID(x.body.prefix())
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
