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

	"github.com/mailhaul/mailhaul/internal/cause"
	"github.com/mailhaul/mailhaul/internal/termtext"
	"github.com/mailhaul/mailhaul/internal/trace"
	migrateplan "github.com/mailhaul/mailhaul/migrate/plan"
)

// Exit codes, as documented in the README; internal/cause is their one
// home (the migrate engine and the Kubernetes Job use them too).
const (
	exitOK         = cause.ExitOK      // everything was done
	exitFailed     = cause.ExitFailed  // the run itself failed, for a cause not known
	exitPartial    = cause.ExitPartial // the run finished, but some items failed (they are listed)
	exitPermanent  = cause.ExitPermanent
	exitHeld       = cause.ExitHeld
	exitConnection = cause.ExitConnection
	exitTLS        = cause.ExitTLS
	exitAuth       = cause.ExitAuth
	exitUsage      = cause.ExitUsage
	exitOverQuota  = cause.ExitOverQuota
	// exitCancelled: stopped by SIGINT or SIGTERM (128 + SIGINT, as shells
	// report it). Not a success: what was done and what was not attempted
	// is in the report.
	exitCancelled = cause.ExitCancelled
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// errPartial marks a run that finished with some items failed. Commands
// return it after printing what failed.
var errPartial = errors.New("finished with failures")

// errPermanent marks a migrate run whose users left undone all failed for
// causes no re-run overcomes (exit 4); the summary has named them.
var errPermanent = errors.New("finished; the users left failed permanently")

// errHeld marks a migrate run whose users left undone were all still held
// by other processes when its wait ran out (exit 75); the summary names them.
var errHeld = errors.New("finished; other processes still hold some users")

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
	if app.untrace != nil {
		app.untrace()
	}
	switch {
	case err == nil && ctx.Err() == nil:
		return exitOK
	case err == nil, (errors.Is(err, errPartial) || errors.Is(err, errPermanent) || errors.Is(err, errHeld)) && ctx.Err() != nil:
		fmt.Fprintln(stderr, "mailhaul: stopped early: interrupted")
		return exitCancelled
	case errors.Is(err, errPartial):
		return exitPartial
	case errors.Is(err, errPermanent):
		return exitPermanent
	case errors.Is(err, errHeld):
		return exitHeld
	}
	// Errors can quote archive contents (folder names, server answers).
	fmt.Fprintln(stderr, "mailhaul:", termtext.Escape(err.Error()))
	if ctx.Err() != nil {
		return exitCancelled
	}
	return exitCode(err)
}

// exitCode is the exit code of a run that failed with err, by its cause
// (internal/cause); 1 when the cause is not known.
func exitCode(err error) int {
	var probs migrateplan.Problems
	if errors.As(err, &probs) || strings.HasPrefix(err.Error(), "unknown command ") { // cobra's, untyped
		return exitUsage
	}
	return cause.Of(err).ExitCode()
}

// markUsage makes every error of the command line's parsing (flags,
// arguments) of cmd and its children a usage error.
func markUsage(cmd *cobra.Command) {
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cause.MarkUsage(err) })
	if args := cmd.Args; args != nil {
		cmd.Args = func(c *cobra.Command, a []string) error { return cause.MarkUsage(args(c, a)) }
	}
	for _, c := range cmd.Commands() {
		markUsage(c)
	}
}

// app holds what every command shares: global flags and output streams.
type app struct {
	stdout, stderr io.Writer
	json           bool   // machine-readable output
	quiet          bool   // no progress display
	debug          bool   // trace the IMAP and HTTP conversations to stderr
	debugFile      string // or to this file
	untrace        func()
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
	root.PersistentFlags().BoolVar(&a.debug, "debug", false, "trace every IMAP, DAV and HTTP conversation to stderr (credentials redacted, message contents shown by size only)")
	root.PersistentFlags().StringVar(&a.debugFile, "debug-file", "", "write the --debug trace to this file instead of stderr (appended to; created or made 0600); implies --debug")
	root.PersistentPreRunE = func(*cobra.Command, []string) error { return a.startTrace() }
	root.AddCommand(a.exportCommand(), a.inspectCommand(), a.verifyCommand(), a.extractCommand(), a.importCommand(), a.compareCommand(), a.restoreCommand(),
		a.pushCommand(), a.pullCommand(), a.copyCommand(), a.migrateCommand())
	root.Long = rootLong(root)
	markUsage(root)
	return root
}

// startTrace turns the --debug trace on, to stderr or to --debug-file.
// The file is made readable by its owner alone: the trace has no
// credentials, but it has addresses, folder names and server answers.
func (a *app) startTrace() error {
	switch {
	case a.debugFile != "":
		f, err := os.OpenFile(a.debugFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("--debug-file: %w", err)
		}
		if err := f.Chmod(0o600); err != nil { // an older file, made by someone's umask
			f.Close()
			return fmt.Errorf("--debug-file: %w", err)
		}
		restore := trace.SetOutput(f)
		a.untrace = func() { restore(); f.Close() }
	case a.debug:
		a.untrace = trace.SetOutput(a.stderr)
	}
	return nil
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
	b.WriteString("\nExit codes: 0 all done, 3 finished with some items failed (listed), 1 failed (cause not known),\n" +
		"10 connection, 12 TLS or host key, 16 authentication, 64 usage or configuration, 113 over quota,\n" +
		"4 migrate: the users left failed permanently, 130 stopped by SIGINT or SIGTERM (what was not done is in the report).")
	return b.String()
}
