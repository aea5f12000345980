package main

import "github.com/spf13/cobra"

// importCommand is the parent of the importers; each target kind lives in
// its own file (import_imap.go, import_dav.go).
func (a *app) importCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Import per-user archives into a target server",
	}
	cmd.AddCommand(a.importIMAPCommand(), a.importDAVCommand())
	return cmd
}
