package maildir

import (
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/srcfs"
	"github.com/mailhaul/mailhaul/format"
	mdir "github.com/mailhaul/mailhaul/mailbox/maildir"
)

const inboxPath = mdir.InboxPath

// maxDepth and maxFSDirs bound the LAYOUT=fs walk; real hierarchies are
// a few levels and far fewer folders.
const (
	maxDepth  = 32
	maxFSDirs = 100_000
)

// folder is one mailbox to export.
type folder struct {
	path       string // "/"-separated, INBOX is "INBOX"; safe for the archive
	source     string // the path as the source names it, for subscriptions
	role       format.Role
	subscribed bool
	// dirs are the Maildirs (holding cur/ and new/) whose messages make up
	// the folder, relative to the root ("." is the root itself). Usually one; INBOX may have two under LAYOUT=fs (the root
	// and an INBOX directory), and names that decode alike are merged.
	dirs []string
	// warnings are caveats about the folder itself, sent after it.
	warnings []format.Problem
	// notes go on the folder's record.
	notes []string
	item  string // where the folder was first found, for warnings
}

// tree collects folders by their source path while the layout is walked;
// archive paths are given once all are known (sorted).
type tree struct {
	byPath   map[string]*folder
	problems []format.Problem    // directories that could not be listed
	fsDirs   int                 // directories the LAYOUT=fs walk listed
	namer    *format.FolderNamer // set once archive paths are given (sorted)
}

func newTree() *tree {
	t := &tree{byPath: map[string]*folder{}}
	t.byPath[inboxPath] = &folder{source: inboxPath} // INBOX always exists in IMAP
	return t
}

// add records dir as (part of) the folder at path, and returns the folder.
func (t *tree) add(path, dir, raw string) *folder {
	f, _ := t.folder(path, raw)
	if len(f.dirs) > 0 {
		f.warnings = append(f.warnings, format.Problem{
			Item:   raw,
			Reason: fmt.Sprintf("directory %q has the same folder name as %q; their messages are merged", raw, f.dirs[0]),
		})
	}
	f.dirs = append(f.dirs, dir)
	return f
}

// nameOnly records a folder that exists only as a name, to be exported
// empty with a note, unless a folder of that path is known anyway. It does
// not count as finding a layout: an empty dot-directory says little.
func (t *tree) nameOnly(path, item, what string) {
	f, existed := t.folder(path, item)
	if existed {
		return
	}
	note := "folder directory only (" + what + "); exported as an empty folder"
	f.notes = append(f.notes, note)
	f.warnings = append(f.warnings, format.Problem{Item: item, Reason: note})
}

// folder returns the folder the source calls path, creating it if need
// be. item names where it was found, for the warning if its name is
// changed (sorted).
func (t *tree) folder(path, item string) (f *folder, existed bool) {
	if f = t.byPath[path]; f != nil {
		return f, true
	}
	f = &folder{source: path, item: item}
	t.byPath[path] = f
	return f, false
}

// sorted gives each folder its archive path, the first time, and returns
// the folders in export order: INBOX first, then by path, level by level,
// so each folder directly precedes its children. Archive paths are made
// safe here, the one place for every folder of the tree
// (export.SafeFolderPath), with a note when one changed. Two source
// folders never share a path: names already safe keep theirs, then the
// others, sorted, get the safe name or, if taken, one with "~2", "~3"…;
// the order is the source's names alone, so an export and a later delta agree.
func (t *tree) sorted() []*folder {
	out := make([]*folder, 0, len(t.byPath))
	for _, f := range t.byPath {
		out = append(out, f)
	}
	if t.namer == nil {
		t.namer = &format.FolderNamer{}
		slices.SortFunc(out, func(a, b *folder) int {
			_, ua := format.SafeFolderPath(a.source)
			_, ub := format.SafeFolderPath(b.source)
			if ua != ub {
				if ua {
					return 1
				}
				return -1
			}
			return strings.Compare(a.source, b.source)
		})
		for _, f := range out {
			var note string
			f.path, note = export.SafeFolderPath(t.namer, f.source)
			if note != "" {
				f.notes = append([]string{note}, f.notes...)
				f.warnings = append([]format.Problem{{Item: f.item, Reason: note}}, f.warnings...)
			}
			for i := range f.warnings {
				f.warnings[i].Folder = f.path
			}
		}
	}
	slices.SortFunc(out, func(a, b *folder) int { return comparePaths(a.path, b.path) })
	return out
}

// comparePaths orders "/"-separated folder paths level by level, with a
// first level of INBOX before all others.
func comparePaths(a, b string) int {
	for level := 0; ; level++ {
		sa, ra, moreA := strings.Cut(a, "/")
		sb, rb, moreB := strings.Cut(b, "/")
		if level == 0 && (sa == inboxPath) != (sb == inboxPath) {
			if sa == inboxPath {
				return -1
			}
			return 1
		}
		if c := strings.Compare(sa, sb); c != 0 {
			return c
		}
		switch {
		case !moreA && !moreB:
			return 0
		case !moreA:
			return -1 // a parent before its children
		case !moreB:
			return 1
		}
		a, b = ra, rb
	}
}

func notMUTF7(path, raw string) format.Problem {
	return format.Problem{Folder: path, Item: raw,
		Reason: "folder name is not valid modified UTF-7 (RFC 3501 §5.1.3); kept as it is on disk"}
}

// linkedDir reports whether e is a symbolic link to a directory. Such a
// link is never followed: a "shared folder" linked into a user's Maildir
// may be anyone's mail, or /etc. Only the link's target type is looked at
// (stat reads no content), so that a link to a file stays unmentioned.
func linkedDir(dir *srcfs.Dir, e os.DirEntry) bool {
	if e.Type()&fs.ModeSymlink == 0 {
		return false
	}
	fi, err := os.Stat(dir.Path() + "/" + e.Name())
	return err == nil && fi.IsDir()
}

// linkProblem is the report for a linked folder directory.
func linkProblem(folder, raw string) format.Problem {
	return format.Problem{Folder: folder, Item: raw,
		Reason: "symbolic link to a directory, not followed: nothing outside the source is exported"}
}

// discoverMaildirPP finds Maildir++ folders: ".A.B" directories at the
// root are the folder "A/B". It reports whether any was found.
func (t *tree) discoverMaildirPP(root *srcfs.Dir, rootEntries []os.DirEntry) bool {
	found := false
	for _, e := range rootEntries {
		raw := e.Name()
		if len(raw) < 2 || raw[0] != '.' || raw == ".." {
			continue
		}
		if linkedDir(root, e) {
			t.problems = append(t.problems, linkProblem("", raw))
			continue
		}
		if !e.IsDir() {
			continue
		}
		entries, err := readDirAt(root, raw)
		if err != nil {
			t.problems = append(t.problems, format.Problem{Item: raw, Reason: "list folder: " + cause(err)})
			continue
		}
		path, warn := mdir.MaildirPPPath(raw[1:])
		if !mdir.IsMaildir(entries) {
			// .notmuch, .imap and other tools' directories hold files of
			// their own; an empty one is a folder a client created, and one
			// holding a mail server's folder files is a folder whose
			// Maildir directories are gone (or not made yet).
			switch {
			case len(entries) == 0:
				t.nameOnly(path, raw, "empty directory, without cur/, new/ or tmp/")
			case mdir.HasFolderFiles(entries):
				t.nameOnly(path, raw, "directory without cur/, new/ or tmp/, holding only a mail server's folder files such as dovecot-uidlist; no messages in it")
			}
			continue
		}
		found = true
		f := t.add(path, raw, raw)
		if warn {
			f.warnings = append(f.warnings, notMUTF7(path, raw))
		}
	}
	return found
}

// readDirAt lists the directory rel below d, never through a link.
func readDirAt(d *srcfs.Dir, rel string) ([]os.DirEntry, error) {
	sub, err := d.OpenDir(rel)
	if err != nil {
		return nil, err
	}
	defer sub.Close()
	return sub.ReadDir()
}

// discoverFS finds LAYOUT=fs folders: nested directories, "Work/2024/cur".
// Directories without cur/new/tmp are parents only and are not folders of
// their own. Names starting with "." are not folders; symbolic links to
// directories are reported and not followed. dir is the directory at rel
// (levels are its decoded names).
func (t *tree) discoverFS(dir *srcfs.Dir, rel string, levels []string, entries []os.DirEntry, warn bool) bool {
	found := false
	for _, e := range entries {
		raw := e.Name()
		if raw[0] == '.' || raw == "cur" || raw == "new" || raw == "tmp" {
			continue
		}
		childRel := raw
		if rel != "" {
			childRel = rel + "/" + raw
		}
		if linkedDir(dir, e) {
			t.problems = append(t.problems, linkProblem("", childRel))
			continue
		}
		if !e.IsDir() {
			continue
		}
		if t.fsDirs++; t.fsDirs > maxFSDirs {
			if t.fsDirs == maxFSDirs+1 {
				t.problems = append(t.problems, format.Problem{Item: childRel, Reason: fmt.Sprintf(
					"folder walk stopped after %d directories: this and later directories are not exported (is --src the Maildir?)", maxFSDirs)})
			}
			return found
		}
		child, err := dir.OpenDir(raw)
		var sub []os.DirEntry
		if err == nil {
			sub, err = child.ReadDir()
		}
		if err != nil {
			if child != nil {
				child.Close()
			}
			t.problems = append(t.problems, format.Problem{Item: childRel, Reason: "list folder: " + cause(err)})
			continue
		}
		name, ok := mdir.DecodeLevel(raw)
		childWarn := warn || !ok
		if len(levels) == 0 {
			name = mdir.InboxLevel(name)
		}
		childLevels := append(levels[:len(levels):len(levels)], name)
		if mdir.IsMaildir(sub) {
			found = true
			path := strings.Join(childLevels, "/")
			f := t.add(path, childRel, raw)
			if childWarn {
				f.warnings = append(f.warnings, notMUTF7(path, raw))
			}
		}
		if len(childLevels) < maxDepth && t.discoverFS(child, childRel, childLevels, sub, childWarn) {
			found = true
		}
		child.Close()
	}
	return found
}

// discover lists the folders under root in the given layout, detecting it
// when it is LayoutAuto: any Maildir++ ".folder" means Maildir++; else
// nested maildirs mean LAYOUT=fs; else it is a plain Maildir (INBOX only),
// which is Maildir++ without folders.
//
// LAYOUT=fs is guessed only on evidence that the root is a Maildir (cur/
// or new/ at the root, or an INBOX directory holding them): a home
// directory given by mistake is not walked for every cur/ and new/ in it.
func discover(root *srcfs.Dir, layout Layout) (Layout, *tree, error) {
	entries, err := root.ReadDir()
	if err != nil {
		return layout, nil, fmt.Errorf("maildir: list %s: %w", root.Path(), err)
	}
	t := newTree()
	rootInbox := mdir.HasMessageDirs(entries)
	if rootInbox {
		t.byPath[inboxPath].dirs = []string{"."}
	}
	switch layout {
	case LayoutMaildirPP:
		t.discoverMaildirPP(root, entries)
	case LayoutFS:
		t.discoverFS(root, "", nil, entries, false)
	default:
		layout = LayoutMaildirPP
		if !t.discoverMaildirPP(root, entries) && (rootInbox || hasInboxDir(root, entries)) {
			fsTree := newTree()
			fsTree.byPath[inboxPath].dirs = t.byPath[inboxPath].dirs
			if fsTree.discoverFS(root, "", nil, entries, false) {
				layout, t = LayoutFS, fsTree
			} else {
				// Keep problems seen while probing: they are real.
				t.problems = append(t.problems, fsTree.problems...)
			}
		}
	}
	return layout, t, nil
}

// hasInboxDir reports whether the root holds an INBOX directory with cur/
// or new/: LAYOUT=fs with INBOX in a directory of its own.
func hasInboxDir(root *srcfs.Dir, entries []os.DirEntry) bool {
	for _, e := range entries {
		if e.IsDir() && strings.EqualFold(e.Name(), inboxPath) {
			if sub, err := readDirAt(root, e.Name()); err == nil && mdir.HasMessageDirs(sub) {
				return true
			}
		}
	}
	return false
}
