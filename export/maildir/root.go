package maildir

import (
	"os"
	"path"
	"slices"
	"strings"

	"github.com/mailhaul/mailhaul/export/srcfs"
	"github.com/mailhaul/mailhaul/format"
	mdir "github.com/mailhaul/mailhaul/mailbox/maildir"
)

// NotMaildirError is returned for a root that is no Maildir in any layout
// Source knows: it has neither cur/ nor new/ for INBOX, and is not a
// LAYOUT=fs root with an INBOX directory. Exporting it anyway would make
// a folder of each Maildir found below and leave the rest out.
type NotMaildirError struct {
	Root string
	// Below is the first Maildir found below Root (breadth first, a few
	// levels deep), "" if none: most likely the one meant.
	Below string
	// Nested is set when Root looks like a Maildir itself but holds
	// another Maildir root, Below.
	Nested bool
	// Folders are Maildir++ folder directories (".Sent") at Root, when
	// they are its only Maildirs: a Maildir++ root without its INBOX
	// directories, most likely. One of them is never the root meant.
	Folders []string
}

func (e *NotMaildirError) Error() string {
	return "maildir: " + e.Reason() + e.hint("; the Maildir below it is ")
}

// Reason says why Root was refused, naming it.
func (e *NotMaildirError) Reason() string {
	if e.Nested {
		return e.Root + " holds a Maildir of its own, which a guessed LAYOUT=fs would export as one folder (give --layout fs if that is meant)"
	}
	if len(e.Folders) > 0 {
		names := strings.Join(e.Folders[:min(len(e.Folders), 3)], ", ")
		if len(e.Folders) > 3 {
			names += ", ..."
		}
		return e.Root + " looks like a Maildir++ root without its INBOX directories (no cur/ or new/, no Dovecot or Courier root files; only its folders " +
			names + " hold messages): give --layout maildir++ to export it so, with an empty INBOX"
	}
	return e.Root + " has no cur/ or new/ and is not a known Maildir layout"
}

func (e *NotMaildirError) hint(prefix string) string {
	if e.Below == "" {
		return ""
	}
	return prefix + e.Below
}

// checkRoot refuses a root that is no Maildir in a known layout: INBOX
// must be the root itself (cur/ or new/ there) or, under LAYOUT=fs, a
// directory of its own. A Maildir++ root whose INBOX directories are
// missing (a copy that dropped empty directories) passes when it holds a
// file only a Maildir root has; a home directory with a ~/.maildir does
// not.
//
// A LAYOUT=fs root whose INBOX lives elsewhere (Dovecot's INBOX= setting)
// has neither, and passes only when the layout was given (--layout fs):
// guessing it would accept any directory with a Maildir somewhere below.
func checkRoot(root *srcfs.Dir, requested, layout Layout, t *tree) error {
	inbox := t.byPath[inboxPath].dirs
	if requested == LayoutAuto && layout == LayoutFS {
		if below := nestedMaildirRoot(root); below != "" {
			return &NotMaildirError{Root: root.Path(), Below: below, Nested: true}
		}
	}
	if slices.Contains(inbox, ".") || layout == LayoutFS && len(inbox) > 0 {
		return nil
	}
	if requested == LayoutFS && slices.ContainsFunc(t.sorted(), func(f *folder) bool { return len(f.dirs) > 0 }) {
		return nil
	}
	var dotFolders []string
	for _, f := range t.byPath {
		if f.source != inboxPath && len(f.dirs) > 0 && layout == LayoutMaildirPP {
			dotFolders = append(dotFolders, f.dirs...)
		}
	}
	if requested == LayoutMaildirPP && len(dotFolders) > 0 {
		// The administrator says it is a Maildir++ root: its INBOX
		// directories are gone, INBOX is exported empty.
		in := t.byPath[inboxPath]
		note := "the Maildir++ root has no cur/ or new/ (--layout maildir++); INBOX exported empty"
		in.notes = append(in.notes, note)
		in.warnings = append(in.warnings, format.Problem{Item: ".", Reason: note})
		return nil
	}
	if layout == LayoutMaildirPP && len(t.byPath) > 1 {
		if entries, err := root.ReadDir(); err == nil && slices.ContainsFunc(entries, func(e os.DirEntry) bool {
			return e.Type().IsRegular() && slices.Contains(mdir.RootMarkers, e.Name())
		}) {
			return nil
		}
	}
	below := findMaildirBelow(root)
	if below != "" {
		dotFolders = nil
	}
	slices.Sort(dotFolders)
	return &NotMaildirError{Root: root.Path(), Below: below, Folders: dotFolders}
}

// nestedMaildirRoot returns the path of a directory at the root that is a
// Maildir root of its own (named Maildir, or holding Maildir++ folders),
// "" if none. Guessed LAYOUT=fs would export it as one folder and leave
// its folders out: the root given is most likely one level too high.
func nestedMaildirRoot(root *srcfs.Dir) string {
	entries, err := root.ReadDir()
	if err != nil {
		return ""
	}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		sub, err := readDirAt(root, e.Name())
		if err != nil || !mdir.HasMessageDirs(sub) {
			continue
		}
		if strings.EqualFold(e.Name(), "Maildir") || slices.ContainsFunc(sub, func(s os.DirEntry) bool {
			if !s.IsDir() || len(s.Name()) < 2 || s.Name()[0] != '.' || s.Name() == ".." {
				return false
			}
			dot, err := readDirAt(root, e.Name()+"/"+s.Name())
			return err == nil && mdir.HasMessageDirs(dot)
		}) {
			return root.Path() + "/" + e.Name()
		}
	}
	return ""
}

// Bounds of the search for the Maildir meant: a home directory holds it
// one or two levels down (~/Maildir, ~/mail/Maildir).
const (
	searchDepth = 3
	searchDirs  = 2000
)

// findMaildirBelow returns the path of the first directory below root,
// breadth first in name order, that holds cur/ or new/, its name not
// starting with ".": a ".Sent" is a Maildir++ folder, and given as --src
// it would be exported as INBOX. Links are not followed; at most
// searchDirs directories are listed.
func findMaildirBelow(root *srcfs.Dir) string {
	level := []string{"."}
	listed := 0
	for depth := 0; depth < searchDepth && len(level) > 0; depth++ {
		var next []string
		for _, rel := range level {
			if listed++; listed > searchDirs {
				return ""
			}
			entries, err := readDirAt(root, rel)
			if err != nil {
				continue
			}
			if depth > 0 && !strings.HasPrefix(path.Base(rel), ".") && mdir.HasMessageDirs(entries) {
				return root.Path() + "/" + rel
			}
			for _, e := range entries {
				switch n := e.Name(); {
				case !e.IsDir(), n == "cur", n == "new", n == "tmp":
				case rel == ".":
					next = append(next, n)
				default:
					next = append(next, rel+"/"+n)
				}
			}
		}
		level = next
	}
	return ""
}
