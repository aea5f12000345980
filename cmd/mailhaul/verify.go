package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/termtext"
)

func (a *app) verifyCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "verify ARCHIVE_OR_DIR...",
		Short: "Check archives against their .sha256, their structure and every item checksum",
		Long: `verify reads each archive completely: the file against the .sha256 beside it,
the archive's structure, every item's SHA-256, and the summary against what the
archive holds. A directory is searched for archives, and a .sha256 file whose
archive is missing counts as a failure: run it at the far end of a carried drive.
It exits 1 naming every archive that failed and why.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runVerify(cmd.Context(), args)
		},
	}
}

// verifyResult is one archive's outcome, a JSON line with --json.
type verifyResult struct {
	Event   string `json:"event"`
	Archive string `json:"archive"`
	OK      bool   `json:"ok"`
	User    string `json:"user,omitempty"`
	Items   int    `json:"items"`
	Bytes   int64  `json:"bytes"`
	SHA256  string `json:"sha256,omitempty"`
	// NotExported counts items the archive records as not exported: the
	// archive is sound, but the export was partial.
	NotExported int      `json:"notExported,omitempty"`
	Notes       []string `json:"notes,omitempty"` // the reader's, such as a folder read under a safe path
	Error       string   `json:"error,omitempty"`
}

func (a *app) runVerify(ctx context.Context, args []string) error {
	archives, problems, err := findArchives(args)
	if err != nil {
		return err
	}
	failed := 0
	for _, p := range problems {
		a.printVerify(verifyResult{Event: "verify", Archive: p.path, Error: p.reason})
		failed++
	}
	for _, path := range archives {
		if err := ctx.Err(); err != nil {
			return err
		}
		res := verifyResult{Event: "verify", Archive: path}
		v, err := format.Verify(ctx, path)
		if err == nil && !v.ChecksumFile {
			err = fmt.Errorf("%s: no %s beside it", path, format.ChecksumSuffix)
		}
		if v != nil {
			res.User, res.SHA256 = v.Manifest.User, v.SHA256
			res.Items, res.Bytes = v.Summary.Counts.Items(), v.Summary.Counts.Bytes
			res.NotExported = len(v.Summary.Errors) + v.Summary.Truncated
			res.Notes = v.Notes
		}
		if err != nil {
			res.Error = err.Error()
			failed++
		} else {
			res.OK = true
		}
		a.printVerify(res)
	}
	if failed > 0 {
		return fmt.Errorf("verify: %d of %d archives failed", failed, len(archives)+len(problems))
	}
	return nil
}

func (a *app) printVerify(r verifyResult) {
	if a.json {
		writeJSONLine(a.stdout, r)
		return
	}
	if !r.OK {
		fmt.Fprintf(a.stdout, "FAIL  %s: %s\n", termtext.Escape(r.Archive), termtext.Escape(r.Error))
		return
	}
	note := ""
	if r.NotExported > 0 {
		note = fmt.Sprintf(" (records %d items not exported; see inspect)", r.NotExported)
	}
	fmt.Fprintf(a.stdout, "OK    %s  %s, %d items, %s%s\n", termtext.Escape(r.Archive), termtext.Escape(r.User), r.Items, humanBytes(r.Bytes), note)
	for _, n := range r.Notes {
		fmt.Fprintf(a.stdout, "      note: %s\n", termtext.Escape(n))
	}
}

type verifyProblem struct{ path, reason string }

// findArchives expands directories into the archives below them, and
// reports checksum files whose archive is missing.
func findArchives(args []string) ([]string, []verifyProblem, error) {
	var archives []string
	var problems []verifyProblem
	for _, arg := range args {
		fi, err := os.Stat(arg)
		if err != nil {
			return nil, nil, fmt.Errorf("verify: %w", err)
		}
		if !fi.IsDir() {
			archives = append(archives, arg)
			continue
		}
		err = filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			switch {
			// Hidden files too: an archive an older version named
			// ".bob@x.tgz" must be checked, not passed over.
			case d.IsDir():
			case format.IsArchiveName(name):
				archives = append(archives, p)
			case strings.HasSuffix(name, format.ChecksumSuffix):
				arch := strings.TrimSuffix(p, format.ChecksumSuffix)
				if _, err := os.Stat(arch); errors.Is(err, fs.ErrNotExist) {
					problems = append(problems, verifyProblem{arch, "archive missing: only its " + format.ChecksumSuffix + " is here"})
				}
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("verify: %w", err)
		}
	}
	sort.Strings(archives)
	if len(archives) == 0 && len(problems) == 0 {
		return nil, nil, fmt.Errorf("verify: no archives in %s", strings.Join(args, ", "))
	}
	return archives, problems, nil
}
