// Command mailhaul moves whole mailboxes between mail systems: export to a
// per-user archive, move the archive, import it. Each stage is its own
// subcommand so archives can rest on a disk between stages.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mailhaul/mailhaul/internal/termtext"
)

// Exit codes, as documented in the README.
const (
	exitOK      = 0 // everything was done
	exitFailed  = 1 // the run itself failed, or was used wrongly
	exitPartial = 3 // the run finished, but some items failed (they are listed)
	// exitCancelled: stopped by SIGINT or SIGTERM (128 + SIGINT, as shells
	// report it). Not a success: what was done and what was not attempted
	// is in the report.
	exitCancelled = 130
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// errPartial marks a run that finished with some items failed. Commands
// return it after printing what failed.
var errPartial = errors.New("finished with failures")

// softMemoryLimit keeps the garbage collector from letting the heap grow
// to twice what is live: exports and imports hold only bounded buffers, so
// their memory stays flat whatever the mailbox size. GOMEMLIMIT overrides it.
const softMemoryLimit = 64 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(softMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := &app{stdout: stdout, stderr: stderr}
	root := app.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	switch {
	case err == nil && ctx.Err() == nil:
		return exitOK
	case err == nil, errors.Is(err, errPartial) && ctx.Err() != nil:
		fmt.Fprintln(stderr, "mailhaul: stopped early: interrupted")
		return exitCancelled
	case errors.Is(err, errPartial):
		return exitPartial
	}
	// Errors can quote archive contents (folder names, server answers).
	fmt.Fprintln(stderr, "mailhaul:", termtext.Escape(err.Error()))
	if ctx.Err() != nil {
		return exitCancelled
	}
	return exitFailed
}

// app holds what every command shares: global flags and output streams.
type app struct {
	stdout, stderr io.Writer
	json           bool // machine-readable output
	quiet          bool // no progress display
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "mailhaul",
		Short:         "Move whole mailboxes between mail systems",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().BoolVar(&a.json, "json", false, "machine-readable output: JSON lines (one JSON object for inspect)")
	root.PersistentFlags().BoolVarP(&a.quiet, "quiet", "q", false, "no progress display")
	root.AddCommand(a.exportCommand(), a.inspectCommand(), a.verifyCommand(), a.extractCommand(), a.importCommand(), a.compareCommand(), a.restoreCommand(),
		a.pushCommand(), a.pullCommand(), a.copyCommand(), a.migrateCommand())
	root.Long = rootLong(root)
	return root
}

// rootLong is the root help's overview, made from the commands themselves
// so that none is left out of it.
func rootLong(root *cobra.Command) string {
	var b strings.Builder
	b.WriteString("mailhaul moves mailboxes (mail with folders, flags and dates, contacts, calendars)\nbetween mail systems, one stage a command:\n\n")
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() {
			fmt.Fprintf(&b, "  %-8s %s\n", c.Name(), c.Short)
		}
	}
	b.WriteString("\nExit codes: 0 all done, 3 finished with some items failed (listed), 1 failed,\n130 stopped by SIGINT or SIGTERM (what was not done is in the report).")
	return b.String()
}
