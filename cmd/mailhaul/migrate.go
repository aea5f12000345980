package main

import (
	"github.com/spf13/cobra"
)

const migrateHelp = `A whole migration from one plan file (TOML): the source, the archive place, the
targets, the users (a CSV, or every account of a Zimbra) and the limits. Secrets
are references only (password_file, password_env, token_file); relative paths are
relative to the plan file. See testdata/migrate/plan.toml for an example.`

// migrateCommand is the parent of the commands that run a migration from
// a plan (check first).
func (a *app) migrateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Migrate many users from one plan file",
		Long:  migrateHelp,
	}
	cmd.AddCommand(a.migrateCheckCommand(), a.migrateRunCommand(), a.migrateCompareCommand(), a.migrateStatusCommand(), a.migrateRenderCommand())
	return cmd
}
