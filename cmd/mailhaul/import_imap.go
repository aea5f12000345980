package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func (a *app) importIMAPCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "imap ARCHIVE... --url imaps://host[:port] --user LOGIN",
		Short: "Import one user's archives into an IMAP server",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("import imap: being built (issue 3)")
		},
	}
}
