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
// file name (safename.Element), and a level that FolderName would read
// back differently (it ends in ".sbd" or ".mbox", or ".msf", which
// readers ignore) gets a "_" appended, so no level can climb out of the
// tree, reach across it, or come back as another folder. TreePath("INBOX")
// is "Inbox", as Thunderbird names it.
func TreePath(folder string) string {
	levels := strings.Split(folder, "/")
	for i, l := range levels {
		l = safename.Element(l)
		low := strings.ToLower(l)
		if FolderName(l) != l || strings.HasSuffix(low, IndexSuffix) || strings.HasSuffix(low, SbdSuffix) {
			l += "_"
		}
		levels[i] = l
	}
	if levels[0] == "INBOX" {
		levels[0] = "Inbox"
	}
	for i := range levels[:len(levels)-1] {
		levels[i] += SbdSuffix
	}
	return strings.Join(levels, "/")
}
