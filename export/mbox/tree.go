package mbox

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/srcfs"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/mailbox/mbox"
)

// mboxFile is one mbox file of the source and the folder it holds.
type mboxFile struct {
	open   func() (*os.File, error)
	rel    string // slash-separated path below the source root, for SourceIDs
	folder string
	role   format.Role
	empty  bool // a zero-length file: an empty folder
}

// fileKind is what sniffing a file's first bytes says about it.
type fileKind int

const (
	kindMbox fileKind = iota
	kindEmpty
	kindOther
)

// sniff tells an mbox (it starts with "From ", perhaps after a byte order
// mark) from an empty file and from anything else.
func sniff(open func() (*os.File, error)) (fileKind, error) {
	f, err := open()
	if err != nil {
		return kindOther, err
	}
	defer f.Close()
	var head [8]byte
	n, err := io.ReadFull(f, head[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return kindOther, err
	}
	switch {
	case n == 0:
		return kindEmpty, nil
	case mbox.StartsMbox(head[:n]):
		return kindMbox, nil
	}
	return kindOther, nil
}

// singleFile describes a Source that is one file. Its folder is named
// after the file; "mbox" (the classic ~/mbox) and "Inbox" are the INBOX.
// The file is opened as srcfs.OpenRootFile does: never through a link
// as its last component, and only if it is a regular file.
func singleFile(abs string) (mboxFile, error) {
	open := func() (*os.File, error) { return srcfs.OpenRootFile(abs) }
	kind, err := sniff(open)
	if err != nil {
		return mboxFile{}, fmt.Errorf("mbox: read %s: %w", abs, err)
	}
	if kind == kindOther {
		return mboxFile{}, fmt.Errorf("mbox: %s: %w", abs, mbox.ErrNotMbox)
	}
	base := filepath.Base(abs)
	name := mbox.FolderName(base)
	if strings.EqualFold(name, "mbox") {
		name = "INBOX"
	}
	path, role := topLevel(name)
	return mboxFile{open: open, rel: base, folder: path, role: role, empty: kind == kindEmpty}, nil
}

// walkTree lists the mbox files below root in Thunderbird's layout: the
// folder "Name" is the file Name, its subfolders are in the directory
// Name.sbd. Plain directories are folder levels too. Thunderbird's .msf
// index files are ignored; any other file that is not an mbox is ignored
// with a warning, so the user knows it was not exported. Symbolic links,
// FIFOs, sockets and devices are reported as errors and never followed
// or opened: nothing outside the source may reach the archive.
func walkTree(root *srcfs.Dir, sink export.Sink) ([]mboxFile, error) {
	var files []mboxFile
	err := walkDir(root, root, "", nil, sink, &files)
	return files, err
}

// walkDir lists dir (rel below the root) whose folder path levels are
// parents. Entries come in name order, each file Name followed at once by
// its Name.sbd, so a parent folder always precedes its children.
func walkDir(root, dir *srcfs.Dir, rel string, parents []string, sink export.Sink, files *[]mboxFile) error {
	entries, err := dir.ReadDir()
	if err != nil {
		if rel == "" {
			return fmt.Errorf("mbox: read %s: %w", dir.Path(), err)
		}
		sink.AddError(format.Problem{Item: rel, Reason: "directory not read: " + err.Error()})
		return nil
	}
	types := make(map[string]fs.FileMode, len(entries))
	for _, e := range entries {
		types[e.Name()] = e.Type()
	}
	isFile := func(name string) bool { t, ok := types[name]; return ok && t.IsRegular() }
	subdir := func(name string) error {
		level := mbox.FolderName(name)
		if len(parents) == 0 {
			level, _ = topLevel(level) // Inbox.sbd/Lists is INBOX/Lists
		}
		child, err := dir.OpenDir(name)
		if err != nil {
			sink.AddError(format.Problem{Item: path.Join(rel, name), Reason: "directory not read: " + cause(err)})
			return nil
		}
		defer child.Close()
		return walkDir(root, child, path.Join(rel, name), append(parents[:len(parents):len(parents)], level), sink, files)
	}
	for _, e := range entries {
		name, relName := e.Name(), path.Join(rel, e.Name())
		typ := e.Type()
		switch {
		case typ&fs.ModeSymlink != 0:
			sink.AddError(format.Problem{Item: relName, Reason: srcfs.ErrSymlink.Error() + ": nothing outside the source is exported"})
		case typ.IsDir():
			// Name.sbd follows its file Name, below.
			if base, ok := strings.CutSuffix(name, mbox.SbdSuffix); ok && isFile(base) {
				continue
			}
			if err := subdir(name); err != nil {
				return err
			}
		case !typ.IsRegular():
			sink.AddError(format.Problem{Item: relName, Reason: srcfs.CheckEntry(typ).Error()})
		case strings.HasSuffix(name, mbox.IndexSuffix):
			// Thunderbird's summary index, rebuilt from the mbox.
		default:
			dirRel := rel
			open := func() (*os.File, error) { return openIn(root, dirRel, name) }
			kind, err := sniff(open)
			switch {
			case err != nil:
				sink.AddError(format.Problem{Item: relName, Reason: "not read: " + cause(err)})
			case kind == kindOther:
				sink.AddWarning(format.Problem{Item: relName, Reason: `ignored: not an mbox file (does not start with "From ")`})
			default:
				*files = append(*files, treeFile(open, relName, parents, name, kind == kindEmpty))
			}
			if sbd := name + mbox.SbdSuffix; types[sbd].IsDir() {
				if err := subdir(sbd); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// openIn opens the file name in the directory rel below root, never
// through a link (see srcfs).
func openIn(root *srcfs.Dir, rel, name string) (*os.File, error) {
	d, err := root.OpenDir(rel)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.OpenFile(name)
}

// cause is err without the path an *fs.PathError repeats: problems name
// their file already.
func cause(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func treeFile(open func() (*os.File, error), rel string, parents []string, name string, empty bool) mboxFile {
	f := mboxFile{open: open, rel: rel, empty: empty}
	name = mbox.FolderName(name)
	if len(parents) == 0 {
		f.folder, f.role = topLevel(name)
		return f
	}
	f.folder = strings.Join(append(parents[:len(parents):len(parents)], name), "/")
	return f
}

// topLevel names a top-level folder, the only level that earns a role
// ("Work/Sent" is the user's own folder): the inbox is always "INBOX", as
// IMAP spells it.
func topLevel(name string) (string, format.Role) {
	role := export.RoleForName(name)
	if role == format.RoleInbox {
		return "INBOX", role
	}
	return name, role
}
