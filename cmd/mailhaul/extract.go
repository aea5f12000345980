package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/termtext"
)

func (a *app) extractCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "extract ARCHIVE DIR",
		Short: "Write an archive's entries as files below DIR, checking each item",
		Long: `extract writes every entry of an archive (manifest, folder records, item
metadata and data, summary) below DIR, as tar would, but checks every item's
checksum, refuses unsafe names, and never writes outside DIR or over an
existing file.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := format.Open(args[0], nil)
			if err != nil {
				return err
			}
			defer r.Close()
			if err := format.Extract(cmd.Context(), r.Reader, args[1]); err != nil {
				return err
			}
			c := r.Counts()
			if !a.json {
				fmt.Fprintf(a.stdout, "%s: %d items (%s) extracted to %s\n", termtext.Escape(args[0]), c.Items(), humanBytes(c.Bytes), termtext.Escape(args[1]))
			}
			return nil
		},
	}
}
