package mbox

import (
	"strings"

	"github.com/mailhaul/mailhaul/internal/safename"
)

// Thunderbird's layout: the folder "Name" is the file Name (other writers
// add ".mbox"), and its subfolders live in the directory Name.sbd, so the
// folder "Work/2024" is the file Work.sbd/2024.
const (
	// SbdSuffix ends the directory holding a folder's subfolders.
	SbdSuffix = ".sbd"
	// MboxSuffix is the extension some writers give mbox files.
	MboxSuffix = ".mbox"
	// IndexSuffix ends Thunderbird's summary files (Name.msf), rebuilt from
	// the mbox and never a folder.
	IndexSuffix = ".msf"
)

// FolderName is a folder level's name from a file or directory name of the
// tree: without ".mbox" or ".sbd".
func FolderName(name string) string {
	if n, ok := strings.CutSuffix(name, SbdSuffix); ok && n != "" {
		return n
	}
	if len(name) > len(MboxSuffix) && strings.EqualFold(name[len(name)-len(MboxSuffix):], MboxSuffix) {
		return name[:len(name)-len(MboxSuffix)]
	}
	return name
}

// TreePath is where the folder path (levels separated by "/") lives in a
// Thunderbird tree: the directories of its parents, each Level.sbd, and
// the file of its last level, slash-separated. Every level is one safe
// file name escaped reversibly (safename.Escape, '%' and two hex digits),
// with the '.' of a ".sbd", ".mbox" or ".msf" ending escaped too, so no
// level can climb out of the tree, reach across it, or come back as
// another folder, and two folders never share a file, whatever the order
// or the run that writes them. TreePath("INBOX") is "Inbox", as
// Thunderbird names it (and a top folder "Inbox" is "%49nbox").
func TreePath(folder string) string {
	levels := strings.Split(folder, "/")
	for i, l := range levels {
		levels[i] = safename.Escape(l, SbdSuffix, MboxSuffix, IndexSuffix)
	}
	switch levels[0] {
	case "INBOX":
		levels[0] = "Inbox"
	case "Inbox":
		levels[0] = "%49nbox"
	}
	for i := range levels[:len(levels)-1] {
		levels[i] += SbdSuffix
	}
	return strings.Join(levels, "/")
}
