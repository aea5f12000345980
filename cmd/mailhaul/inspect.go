package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailhaul/mailhaul/export/zimbra"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/termtext"
)

func (a *app) inspectCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect ARCHIVE",
		Short: "Show what an archive holds: folders, counts, kinds, bytes, errors",
		Long: `inspect reads an archive from end to end (checking every item on the way) and
shows its manifest, its folders with their counts and sizes, and the items that
could not be exported. With --json it prints one JSON object. On a Zimbra tgz
(what zmmailbox getRestURL "//?fmt=tgz" wrote) it says what the file is (meta=1
or meta=0, the ZCS naming) and what export zimbra would convert, skip and report.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if zimbra.IsExport(args[0]) {
				return a.inspectZimbra(cmd, args[0])
			}
			ins, err := inspectArchive(cmd.Context(), args[0])
			if ins != nil {
				if a.json {
					writeJSONLine(a.stdout, ins)
				} else {
					ins.print(a.stdout)
				}
			}
			return err
		},
	}
}

// inspection is what inspect reports; its JSON form is documented in the
// README and FORMAT.md.
type inspection struct {
	Archive     string             `json:"archive"`
	Format      int                `json:"format"`
	Compression format.Compression `json:"compression"`
	User        string             `json:"user"`
	Source      format.Source      `json:"source"`
	Started     time.Time          `json:"started"`
	After       time.Time          `json:"after,omitzero"`
	Tool        string             `json:"tool,omitempty"`
	Complete    bool               `json:"complete"` // the summary was read and agrees
	Counts      format.Counts      `json:"counts"`
	Folders     []folderView       `json:"folders"`
	Errors      []format.Problem   `json:"errors"`
	Warnings    []format.Problem   `json:"warnings,omitempty"`
	Skipped     map[string]int     `json:"skipped,omitempty"`
	// State counts a delta's state record: every item the source held
	// (FORMAT.md, "The state record").
	State   *format.Counts `json:"state,omitempty"`
	Problem string         `json:"problem,omitempty"` // why reading stopped early
	Notes   []string       `json:"notes,omitempty"`   // the reader's: a folder read under a safe path
	// Damaged are items whose data does not match their checksum: lost,
	// but the rest of the archive was read (FORMAT.md).
	Damaged []format.Problem `json:"damaged,omitempty"`
}

type folderView struct {
	Path       string            `json:"path"`
	Kind       format.FolderKind `json:"kind"`
	Role       format.Role       `json:"role"`
	Subscribed bool              `json:"subscribed"`
	format.Counts
}

// inspectArchive reads the archive at path. On a damaged archive it returns
// what it read so far together with the error.
func inspectArchive(ctx context.Context, path string) (*inspection, error) {
	r, err := format.Open(path, nil)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	m := r.Manifest()
	ins := &inspection{
		Archive: path, Format: m.Format, Compression: r.Compression(), User: m.User,
		Source: m.Source, Started: m.Started, After: m.After, Tool: m.Tool,
		Folders: []folderView{}, Errors: []format.Problem{},
	}
	index := map[string]int{} // kind + path → index in Folders
	for {
		if err := ctx.Err(); err != nil {
			return ins, err
		}
		e, err := r.Next()
		if err == io.EOF {
			if len(ins.Damaged) > 0 {
				return ins, fmt.Errorf("%s: %d items are damaged (their data does not match their checksum)", path, len(ins.Damaged))
			}
			return ins, nil
		}
		var fe *format.Error
		if errors.Is(err, format.ErrDamagedItem) && errors.As(err, &fe) {
			ins.Damaged = append(ins.Damaged, format.Problem{Item: fe.Entry, Reason: "checksum mismatch"})
			continue
		}
		if err != nil {
			ins.Problem = err.Error()
			return ins, err
		}
		ins.Notes = append(ins.Notes, e.Notes...)
		switch {
		case e.Folder != nil:
			index[string(e.Folder.Kind)+"\x00"+e.Folder.Path] = len(ins.Folders)
			ins.Folders = append(ins.Folders, folderView{Path: e.Folder.Path, Kind: e.Folder.Kind,
				Role: e.Folder.Role, Subscribed: e.Folder.Subscribed})
		case e.Item != nil:
			k := string(e.Item.Kind.FolderKind()) + "\x00" + e.Item.Folder
			ins.Folders[index[k]].Add(e.Item.Kind, e.Item.Size)
			ins.Counts.Add(e.Item.Kind, e.Item.Size)
		case e.Summary != nil:
			ins.Complete = true
			ins.Errors = append(ins.Errors, e.Summary.Errors...)
			ins.Warnings = e.Summary.Warnings
			ins.Skipped = e.Summary.Skipped
			ins.State = e.Summary.State
		}
	}
}

// print shows the inspection for people. Every string comes from the
// archive, so each is escaped: a folder name must not move the cursor or
// forge a line.
func (ins *inspection) print(w io.Writer) {
	esc := termtext.Escape
	fmt.Fprintf(w, "archive  %s (%s, format %d)\n", esc(ins.Archive), ins.Compression, ins.Format)
	fmt.Fprintf(w, "user     %s\n", esc(ins.User))
	fmt.Fprintf(w, "source   %s %s:%s\n", esc(ins.Source.Kind), esc(ins.Source.Host), esc(ins.Source.Path))
	fmt.Fprintf(w, "started  %s\n", ins.Started.Format(time.RFC3339))
	if !ins.After.IsZero() {
		fmt.Fprintf(w, "after    %s (incremental)\n", ins.After.Format(time.RFC3339))
	}
	if ins.Tool != "" {
		fmt.Fprintf(w, "tool     %s\n", esc(ins.Tool))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tFOLDER\tROLE\tMESSAGES\tCONTACTS\tEVENTS\tTASKS\tBYTES")
	for _, f := range ins.Folders {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", esc(string(f.Kind)), esc(f.Path), esc(string(f.Role)),
			f.Messages, f.Contacts, f.Events, f.Tasks, humanBytes(f.Bytes))
	}
	c := ins.Counts
	fmt.Fprintf(tw, "\ttotal\t\t%d\t%d\t%d\t%d\t%s\n", c.Messages, c.Contacts, c.Events, c.Tasks, humanBytes(c.Bytes))
	tw.Flush()
	if s := ins.State; s != nil {
		fmt.Fprintf(w, "state of the source: %d messages, %d contacts, %d events, %d tasks\n", s.Messages, s.Contacts, s.Events, s.Tasks)
	}
	for _, reason := range sortedKeys(ins.Skipped) {
		fmt.Fprintf(w, "skipped %d: %s\n", ins.Skipped[reason], esc(reason))
	}
	for _, n := range ins.Notes {
		fmt.Fprintf(w, "note: %s\n", esc(n))
	}
	if n := len(ins.Warnings); n > 0 {
		fmt.Fprintf(w, "\nwarnings (%d):\n", n)
		printProblems(w, "warning", ins.User, ins.Warnings, 20)
	}
	if n := len(ins.Damaged); n > 0 {
		fmt.Fprintf(w, "\ndamaged in the archive (%d):\n", n)
		printProblems(w, "damaged", ins.User, ins.Damaged, 1000)
	}
	if n := len(ins.Errors); n > 0 {
		fmt.Fprintf(w, "\nnot exported (%d):\n", n)
		printProblems(w, "error", ins.User, ins.Errors, 1000)
	}
	if !ins.Complete {
		fmt.Fprintf(w, "\nINCOMPLETE: %s\n", esc(ins.Problem))
	}
}
