package zimbra

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strings"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/zimbra/tgz"
	"github.com/mailhaul/mailhaul/format"
)

// Inspection says what Zimbra tgz files are and what an export of them
// would do, found by running the export itself into a sink that counts.
type Inspection struct {
	Files []string `json:"files"`
	// Meta is true for meta=1 exports (.meta entries), false for meta=0.
	Meta bool `json:"meta"`
	// Naming is "ZCS 8+" for names with a "%010d-" id prefix, "ZCS 5/6"
	// without one.
	Naming string `json:"naming"`
	// Types counts the items found by Zimbra type ("message", "contact"...).
	Types map[string]int `json:"types"`
	// Folders are the archive folders the export would make; Counts the
	// items it would carry.
	Folders  []format.Folder  `json:"folders"`
	Counts   format.Counts    `json:"counts"`
	Errors   []format.Problem `json:"errors"`
	Warnings []format.Problem `json:"warnings,omitempty"`
	Skipped  map[string]int   `json:"skipped,omitempty"`
}

// IsExport reports whether the file at p looks like a Zimbra tgz: its
// first sound item (damaged ones among the first few are passed over, so
// that inspect can report them) has a .meta Zimbra's reader accepts, or
// carries a Zimbra item type as its devmajor (meta=0).
func IsExport(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	r, err := tgz.NewReader(f, p, nil)
	if err != nil {
		return false
	}
	defer r.Close()
	for range maxDamagedFirst {
		it, err := r.Next()
		if errors.Is(err, tgz.ErrDamaged) {
			continue
		}
		return err == nil && (it.Meta != nil || it.Type > 0 && it.Type <= tgz.TypeLink)
	}
	return false
}

// maxDamagedFirst is how many damaged items IsExport passes over.
const maxDamagedFirst = 16

// idPrefix is the "%010d-" prefix of ZCS 8+ entry names.
var idPrefix = regexp.MustCompile(`^[0-9]{10}-`)

// Inspect reads files as Export would, writing nothing. The error is
// Export's: a file that cannot be read at all.
func Inspect(ctx context.Context, files ...string) (*Inspection, error) {
	ins := &Inspection{Files: files, Types: map[string]int{}, Folders: []format.Folder{}, Errors: []format.Problem{}}
	x := newExporter(ctx, &countSink{ins: ins}, export.Options{}, &Source{Files: files})
	prefixed, plain := 0, 0
	x.observe = func(r *tgz.Reader, it *tgz.Item) {
		ins.Meta = ins.Meta || r.HasMeta()
		ins.Types[tgz.TypeName(it.Type)]++
		if base := path.Base(it.Entry); idPrefix.MatchString(base) {
			prefixed++
		} else if it.Type == tgz.TypeFolder || it.Type == tgz.TypeMessage {
			plain++
		}
	}
	if err := x.exportAll(); err != nil {
		return ins, err
	}
	switch {
	case prefixed > 0:
		ins.Naming = "ZCS 8+"
	case plain > 0:
		ins.Naming = "ZCS 5/6"
	}
	return ins, nil
}

// countSink counts what an export would write.
type countSink struct{ ins *Inspection }

func (s *countSink) AddFolder(f format.Folder) error {
	s.ins.Folders = append(s.ins.Folders, f)
	return nil
}

func (s *countSink) AddItem(it format.Item, body io.Reader) error {
	n, err := io.Copy(io.Discard, body) // the digest is checked on the way
	if err != nil {
		return fmt.Errorf("zimbra: item %s: %w: %w", it.SourceID, format.ErrItemBody, err)
	}
	s.ins.Counts.Add(it.Kind, n)
	return nil
}

func (s *countSink) AddError(p format.Problem)   { s.ins.Errors = append(s.ins.Errors, p) }
func (s *countSink) AddWarning(p format.Problem) { s.ins.Warnings = append(s.ins.Warnings, p) }

func (s *countSink) AddSkipped(reason string, n int) {
	if s.ins.Skipped == nil {
		s.ins.Skipped = map[string]int{}
	}
	s.ins.Skipped[reason] += n
}

var _ export.Sink = (*countSink)(nil)

// Describe is one line saying what the files are.
func (ins *Inspection) Describe() string {
	meta := "meta=0 (plain .eml/.vcf/.ics entries, no folder records)"
	if ins.Meta {
		meta = "meta=1 (.meta records)"
	}
	naming := ""
	if ins.Naming != "" {
		naming = ", " + ins.Naming + " naming"
	}
	return fmt.Sprintf("Zimbra export (?fmt=tgz), %s%s, %d file(s): %s", meta, naming, len(ins.Files), strings.Join(ins.Files, ", "))
}
