package maildir

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// Layout is how a Maildir's folders are laid out on disk.
type Layout int

const (
	// LayoutAuto detects the layout: Maildir++ if the root holds any
	// ".Folder" maildir, else LAYOUT=fs if the root (or an INBOX directory
	// in it) holds cur/ or new/ and nested maildirs, else a plain Maildir,
	// which is Maildir++ with only INBOX.
	LayoutAuto Layout = iota
	// LayoutMaildirPP is Maildir++ (Courier, Dovecot's default): the root
	// is INBOX and ".Work.2024" is the folder Work/2024.
	LayoutMaildirPP
	// LayoutFS is Dovecot's LAYOUT=fs: "Work/2024/cur". INBOX is the root,
	// a top-level directory named INBOX, or both merged.
	LayoutFS
)

func (l Layout) String() string {
	switch l {
	case LayoutAuto:
		return "auto"
	case LayoutMaildirPP:
		return "maildir++"
	case LayoutFS:
		return "fs"
	}
	return fmt.Sprintf("Layout(%d)", int(l))
}

// ParseLayout reads a layout name: "auto" (or ""), "maildir++" or "fs".
func ParseLayout(s string) (Layout, error) {
	for _, l := range []Layout{LayoutAuto, LayoutMaildirPP, LayoutFS} {
		if s == l.String() {
			return l, nil
		}
	}
	if s == "" {
		return LayoutAuto, nil
	}
	return LayoutAuto, fmt.Errorf("maildir: unknown layout %q: want auto, maildir++ or fs", s)
}

// InboxPath is INBOX's folder path; IMAP always has it.
const InboxPath = "INBOX"

// Subdirs of every Maildir: tmp/ for deliveries in progress, new/ for
// messages no client has seen, cur/ for the others.
const (
	Tmp = "tmp"
	New = "new"
	Cur = "cur"
)

// FolderMarker is the empty file Dovecot and Courier put in a Maildir++
// folder directory (not in the root).
const FolderMarker = "maildirfolder"

// IsMaildir reports whether a folder directory's entries make it a
// Maildir: a cur/, new/ or tmp/ directory, or the "maildirfolder" marker
// file. Any one will do for a folder below a Maildir root (an empty
// folder may hold only tmp/, and git-made copies lack empty directories);
// the root itself needs more (HasMessageDirs). Types count, not names
// alone: a file called "new" is no Maildir.
func IsMaildir(entries []os.DirEntry) bool {
	for _, e := range entries {
		switch e.Name() {
		case Cur, New, Tmp:
			if e.IsDir() {
				return true
			}
		case FolderMarker:
			if e.Type().IsRegular() {
				return true
			}
		}
	}
	return false
}

// HasMessageDirs reports whether entries hold cur/ or new/ directories,
// where messages are: what makes a root a Maildir (tmp/ alone is not
// enough, as a home directory has one too).
func HasMessageDirs(entries []os.DirEntry) bool {
	return slices.ContainsFunc(entries, func(e os.DirEntry) bool {
		return e.IsDir() && (e.Name() == Cur || e.Name() == New)
	})
}

// HasFolderFiles reports whether a directory holds files that Dovecot or
// Courier keep in a folder directory (its UID list, indexes, keywords), so
// that it is a folder even without cur/, new/ or tmp/.
func HasFolderFiles(entries []os.DirEntry) bool {
	return slices.ContainsFunc(entries, func(e os.DirEntry) bool {
		n := e.Name()
		return n == "dovecot-uidlist" || n == KeywordsFile || strings.HasPrefix(n, "dovecot.index") ||
			strings.HasPrefix(n, "courierimap") // courierimapuiddb, courierimapkeywords/, courierimapacl
	})
}

// RootMarkers are files Dovecot and Courier keep only at a Maildir's root.
var RootMarkers = []string{"dovecot-uidlist", "dovecot-uidvalidity", "dovecot.index", "dovecot.list.index",
	"subscriptions", "courierimapsubscribed", "courierimapuiddb", "maildirsize"}

// InboxLevel spells a first level that names INBOX (case-insensitively,
// as IMAP does) the canonical way.
func InboxLevel(name string) string {
	if strings.EqualFold(name, InboxPath) {
		return InboxPath
	}
	return name
}
