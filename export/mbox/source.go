package mbox

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/srcfs"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/ctxio"
	"github.com/mailhaul/mailhaul/mailbox/mbox"
)

// Source exports an mbox file, or a directory tree of them.
type Source struct {
	// Path is a single mbox file or the root of a tree (Thunderbird's
	// Mail/Local Folders, a directory of *.mbox files, a Takeout folder).
	Path string
}

var _ export.Source = (*Source)(nil)

// Skipped reasons this source reports besides export.SkipBeforeCutoff.
const (
	SkipExpunged     = "expunged"
	SkipInternalData = "mbox folder internal data"
)

// uwInternalSubject marks the pseudo message UW-IMAP and Pine keep first
// in each mbox to store UIDs and keywords.
const uwInternalSubject = "DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA"

// Export walks the source in name order, detects each file's dialect,
// then streams its messages into sink.
func (s *Source) Export(ctx context.Context, sink export.Sink, opt export.Options) error {
	fi, err := srcfs.StatRoot(s.Path)
	if err != nil {
		return fmt.Errorf("mbox: %w", err)
	}
	var files []mboxFile
	if fi.IsDir() {
		root, err := srcfs.OpenRoot(s.Path)
		if err != nil {
			return fmt.Errorf("mbox: %w", err)
		}
		defer root.Close()
		if entries, err := root.ReadDir(); err == nil && looksLikeMaildir(entries) {
			return fmt.Errorf("mbox: %s looks like a Maildir (it holds cur/ or new/): use export maildir", s.Path)
		}
		files, err = walkTree(root, sink)
		if err != nil {
			return err
		}
	} else if !fi.Mode().IsRegular() {
		// Never open a FIFO or device: it could block or act on a device.
		return fmt.Errorf("mbox: %s: %w", s.Path, srcfs.CheckEntry(fi.Mode().Type()))
	} else {
		var f mboxFile
		f, err = singleFile(s.Path)
		files = []mboxFile{f}
	}
	if err != nil {
		return err
	}
	e := &exporter{sink: sink, opt: opt, added: map[string]format.Role{}, roles: map[format.Role]string{}}
	e.nameFolders(files)
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("mbox: %w", err)
		}
		if err := e.file(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

// exporter is the state of one Export run.
type exporter struct {
	sink  export.Sink
	opt   export.Options
	added map[string]format.Role // folders already given to the sink, with their role
	roles map[format.Role]string // the folder holding each role
	namer format.FolderNamer     // archive paths, distinct per source folder
}

// nameFolders gives the files' folders their archive paths up front, so
// that they do not depend on the order of the files: names already safe
// keep theirs, then the others, sorted, get the safe name or, if another
// folder has it, one with "~2", "~3"… (export.SafeFolderPath). Gmail
// labels, known only while streaming, are named as they turn up.
func (e *exporter) nameFolders(files []mboxFile) {
	var unsafe []string
	for _, f := range files {
		if _, changed := format.SafeFolderPath(f.folder); changed {
			unsafe = append(unsafe, f.folder)
		} else {
			e.namer.Name(f.folder)
		}
	}
	slices.Sort(unsafe)
	for _, p := range unsafe {
		e.namer.Name(p)
	}
}

// addFolder hands a folder to the sink the first time it is used: Takeout
// messages pick their folder from their own header, so folders turn up
// while streaming. A role goes to the first folder that earns it ("Sent"
// before "Sent Items"), since an importer maps a role to one target
// folder; addFolder returns the role the folder ended up with, and the
// folder's path in the archive: a name the archive refuses ("..mbox" is
// the folder ".", a label "../etc") is made safe by export.SafeFolderPath,
// with a note and a warning, rather than ending the export.
func (e *exporter) addFolder(path string, role format.Role, notes []string) (string, format.Role, error) {
	orig := path
	path, note := export.SafeFolderPath(&e.namer, path)
	if r, ok := e.added[path]; ok {
		return path, r, nil
	}
	if note != "" {
		notes = append(notes[:len(notes):len(notes)], note)
		e.sink.AddWarning(format.Problem{Folder: path, Item: orig, Reason: note})
	}
	if owner, taken := e.roles[role]; taken && role != format.RoleNone && owner != path {
		role = format.RoleNone
	} else if role != format.RoleNone {
		e.roles[role] = path
	}
	e.added[path] = role
	if err := e.sink.AddFolder(format.Folder{Kind: format.FolderMail, Path: path, Role: role, Notes: notes}); err != nil {
		return path, role, fmt.Errorf("mbox: add folder %s: %w", path, err)
	}
	return path, role, nil
}

// file exports one mbox file. Problems with the file itself are recorded
// and the export goes on; only sink failures and cancellation stop it.
func (e *exporter) file(ctx context.Context, f mboxFile) error {
	if f.empty {
		_, _, err := e.addFolder(f.folder, f.role, nil)
		return err
	}
	fh, err := openFile(f)
	if err != nil {
		e.sink.AddError(format.Problem{Folder: f.folder, Item: f.rel, Reason: "not read: " + err.Error()})
		return nil
	}
	defer fh.Close()
	in := cancellable{fh, ctxio.NewReader(ctx, fh)}
	d, err := mbox.DetectDialectContext(ctx, in)
	if err == nil {
		_, err = fh.Seek(0, io.SeekStart)
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("mbox: %s: %w", f.rel, ctx.Err())
		}
		e.sink.AddError(format.Problem{Folder: f.folder, Item: f.rel, Reason: "not read: " + err.Error()})
		return nil
	}
	notes := []string{"mbox dialect: " + d.String()}
	labelled := false
	ids := identities{}
	rd := mbox.NewReader(in, d)
	for first := true; ; first = false {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("mbox: %s: %w", f.rel, err)
		}
		m, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			e.sink.AddError(format.Problem{Folder: f.folder, Item: f.rel, Reason: "read stopped: " + err.Error()})
			break
		}
		l, err := e.message(f, m, first, notes, ids)
		if err != nil {
			return err
		}
		labelled = labelled || l
	}
	// A file whose messages were all skipped is still a folder; a Takeout
	// file only carries the folders its labels name.
	if !labelled {
		_, _, err := e.addFolder(f.folder, f.role, notes)
		return err
	}
	return nil
}

// message exports or skips one message. labelled says whether its Gmail
// labels, rather than the file, chose its folder.
// ids numbers the identities met in the file so far (identity.go).
func (e *exporter) message(f mboxFile, m *mbox.Message, first bool, notes []string, ids identities) (labelled bool, err error) {
	folder, role := f.folder, f.role
	if len(m.Header) == 0 {
		// Named by its offset: it has no identity, and no item.
		e.sink.AddError(format.Problem{Folder: folder, Item: f.rel + "#" + strconv.FormatInt(m.Offset, 10), Reason: "empty message"})
		return false, nil
	}
	h := mbox.ParseHeader(m.Header)
	if first && (h.IMAPInternal || h.Subject == uwInternalSubject) {
		e.sink.AddSkipped(SkipInternalData, 1)
		return false, nil
	}
	if h.MozStatus&mbox.MozExpunged != 0 {
		e.sink.AddSkipped(SkipExpunged, 1)
		return false, nil
	}
	// Numbered only once it is a message: an expunged copy, which a
	// compaction removes, must not shift the numbers of those after it.
	id := ids.next(f.rel, m.Header, h.MessageID)
	raw, lfolder, lrole := mbox.HeaderRoute(&h)
	if h.HasLabels {
		folder, role, labelled = lfolder, lrole, true
	}
	flags := itemFlags(raw)
	received := mbox.ReceivedTime(m.FromLine, &h)
	if err := e.state(folder, id, flags, received, h.MessageID); err != nil {
		return false, err
	}
	if received.IsZero() {
		e.sink.AddWarning(format.Problem{Folder: folder, Item: id, Reason: "no date in the From line, Date or Received fields: received time unknown"})
	} else if !e.opt.Keep(received) {
		e.sink.AddSkipped(export.SkipBeforeCutoff, 1)
		return labelled, nil
	}
	if folder, role, err = e.addFolder(folder, role, notes); err != nil {
		return false, err
	}
	it := format.Item{
		Kind:      format.KindMessage,
		Folder:    folder,
		Role:      role,
		Flags:     flags.list,
		Received:  received,
		MessageID: h.MessageID,
		SourceID:  id,
		Notes:     flags.notes,
	}
	body := io.MultiReader(bytes.NewReader(m.Header), m.Body)
	if err := export.AddItem(e.sink, it, id, body); err != nil {
		return false, fmt.Errorf("mbox: add %s: %w", id, err)
	}
	return labelled, nil
}

// state gives the sink a message's line of the state record, when asked:
// from the header scan that finds the messages, so the message itself is
// not copied. Its folder is the archive path the message's item has or
// would have.
func (e *exporter) state(folder, id string, flags *flagSet, received time.Time, messageID string) error {
	if !e.opt.State {
		return nil
	}
	path, _ := export.SafeFolderPath(&e.namer, folder)
	err := export.AddState(e.sink, format.StateItem{
		Kind: format.KindMessage, Folder: path, SourceID: id,
		Flags: flags.list, Received: received, MessageID: messageID,
	})
	if err != nil {
		return fmt.Errorf("mbox: state of %s: %w", id, err)
	}
	return nil
}

// input is an open mbox file: read twice (Seek between the passes), and
// read at offsets to check Content-Lengths.
type input interface {
	io.ReadSeekCloser
	io.ReaderAt
}

// openFile opens an mbox file. Tests replace it to make reads fail.
var openFile = func(f mboxFile) (input, error) { return f.open() }

// cancellable makes reads fail once ctx is done, so that one huge message
// cannot hold up cancellation. It keeps the file's ReadAt and Seek, which
// the Reader uses to check Content-Lengths.
type cancellable struct {
	input
	r io.Reader // input through ctxio
}

func (c cancellable) Read(p []byte) (int, error) { return c.r.Read(p) }

// looksLikeMaildir reports whether a source directory's entries are a
// Maildir's: cur/ or new/ with tmp/ beside them. Its files are no mbox
// files, and walking it would export nothing with a warning per message.
func looksLikeMaildir(entries []os.DirEntry) bool {
	has := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() {
			has[e.Name()] = true
		}
	}
	return (has["cur"] || has["new"]) && (has["tmp"] || has["cur"] && has["new"])
}
