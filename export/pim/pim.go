// Package pim exports contacts and calendars from files (.vcf, .ics, .vcs)
// into the archive: each file becomes one address book or calendar, each
// vCard one contact item and each iCalendar UID one event or task item,
// with the source bytes kept as they are.
//
// The splitters, SplitVCards and IndexCalendar, are shared with the DAV
// importers and the Zimbra exporter. They stream: a vCard file is read
// once holding one card, an iCalendar file twice, holding a small index
// entry per component between the passes.
package pim

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mailhaul/mailhaul/export/srcfs"
)

// defaultName is the collection name for path when the caller gave none:
// the file's base name without its extension.
func defaultName(name, path string) string {
	if name != "" {
		return name
	}
	base := filepath.Base(path)
	if n := strings.TrimSuffix(base, filepath.Ext(base)); n != "" {
		return n
	}
	return base
}

// openFile opens a file the user named on the command line; failing to is
// a usage error, so it is returned rather than recorded as a problem.
func openFile(path string) (*os.File, os.FileInfo, error) {
	// Never through a link as the last component; a FIFO or device is
	// never read (opening a FIFO would block).
	f, err := srcfs.OpenRootFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("pim: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("pim: %w", err)
	}
	return f, fi, nil
}

// lineEnding is the terminator of b's first line, CRLF if it has none.
func lineEnding(b []byte) string {
	i := bytes.IndexByte(b, '\n')
	if i > 0 && b[i-1] == '\r' || i < 0 {
		return "\r\n"
	}
	return "\n"
}

// SkipDuplicate is the Skipped reason for a contact or calendar object
// identical to an earlier one of the same collection, UID and all: the
// target can hold only one object per UID, so it is exported once.
const SkipDuplicate = "identical copy of an earlier item with the same UID"
