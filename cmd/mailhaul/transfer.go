package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailhaul/mailhaul/internal/ratelimit"
	"github.com/mailhaul/mailhaul/internal/termtext"
	"github.com/mailhaul/mailhaul/report"
	"github.com/mailhaul/mailhaul/transport"
	"github.com/mailhaul/mailhaul/transport/local"
	"github.com/mailhaul/mailhaul/transport/sftp"
)

// transferFlags are the flags push, pull and copy share.
type transferFlags struct {
	transfers  int
	streams    int
	retries    int
	bwlimit    string
	reportPath string
	segmentMiB int
	overwrite  bool
	ssh        sshFlags
	// verb says what happened to an archive that moved, as the user sees
	// it from this end: "sent" (push), "received" (pull), "copied". The
	// JSON report keeps the one status "sent" for all three.
	verb string
}

func (f *transferFlags) register(cmd *cobra.Command, verb string, withSSH bool) {
	f.verb = verb
	fl := cmd.Flags()
	fl.IntVar(&f.transfers, "transfers", 0, "archives moved at once (default: 8 over SFTP, 4 between local folders)")
	fl.IntVar(&f.streams, "streams", 0, "connections one large archive may use at once (default: 8 over a delayed SFTP link, else 1)")
	fl.IntVar(&f.retries, "retries", 5, "attempts after a lost connection, with growing pauses (0: none)")
	fl.StringVar(&f.bwlimit, "bwlimit", "", "bandwidth limit for the whole run in bytes/s, with K, M or G (e.g. 20M)")
	fl.StringVar(&f.reportPath, "report", "", "write the transfer report as JSON to this file")
	fl.BoolVar(&f.overwrite, "overwrite", false, "replace a different archive of the same name at the destination (without it, that archive fails and the one there is kept)")
	fl.IntVar(&f.segmentMiB, "resume-segment", 8, "resume granularity in MiB: a partial transfer continues after the last segment that matches on both sides")
	fl.MarkHidden("resume-segment")
	if withSSH {
		f.ssh.register(cmd)
	}
}

func (a *app) pushCommand() *cobra.Command {
	var f transferFlags
	cmd := &cobra.Command{
		Use:   "push DIR_OR_ARCHIVE... sftp://USER@HOST[:PORT]/PATH",
		Short: "Upload archives with their .sha256 to an SFTP server, verified and resumable",
		Long: `push uploads each archive (and its .sha256) to the directory PATH on the server.
Each is written as NAME.partial, checked on the server against the .sha256 (by
openssl or sha256sum run there, or by reading it back when the account may not run
commands), and only then renamed. An archive already there with the same bytes
is skipped; a different archive of the same name is kept and that archive fails,
unless --overwrite; an interrupted upload continues from the last verified segment.
A path starting /~/ is relative to the login directory.

Authentication: --identity key files (passphrase from --passphrase-file,
MAILHAUL_SSH_PASSPHRASE or the terminal), ssh-agent, or a password from
--password-file or MAILHAUL_PASSWORD. Host keys are checked against known_hosts.

Exit codes: 0 all arrived, 3 some failed (listed), 1 nothing arrived or bad usage.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			dstURL := args[len(args)-1]
			ep, err := f.ssh.endpoint(a, dstURL)
			if err != nil {
				return err
			}
			defer ep.Close()
			ep.StartProbe()
			return a.runTransfer(cmd.Context(), &f, local.Endpoint{}, args[:len(args)-1], ep, ep.Path())
		},
	}
	f.register(cmd, "sent", true)
	return cmd
}

func (a *app) pullCommand() *cobra.Command {
	var f transferFlags
	cmd := &cobra.Command{
		Use:   "pull sftp://USER@HOST[:PORT]/PATH DIR",
		Short: "Download archives with their .sha256 from an SFTP server, verified and resumable",
		Long: `pull downloads the archive PATH, or every archive in the directory PATH, with its
.sha256 into DIR. Each is written as NAME.partial, checked on this disk against
the .sha256, and only then renamed; an archive already in DIR with the same
bytes is skipped, a different one of the same name is kept (the download fails)
unless --overwrite; an interrupted download continues from the last verified
segment. Authentication and host keys as for push.

Exit codes: 0 all arrived, 3 some failed (listed), 1 nothing arrived or bad usage.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ep, err := f.ssh.endpoint(a, args[0])
			if err != nil {
				return err
			}
			defer ep.Close()
			return a.runTransfer(cmd.Context(), &f, ep, []string{ep.Path()}, local.Endpoint{}, args[1])
		},
	}
	f.register(cmd, "received", true)
	return cmd
}

func (a *app) copyCommand() *cobra.Command {
	var f transferFlags
	cmd := &cobra.Command{
		Use:   "copy DIR_OR_ARCHIVE... DST_DIR",
		Short: "Copy archives with their .sha256 between local folders (a drive carried by hand)",
		Long: `copy copies archives and their .sha256 into DST_DIR, such as a mounted drive, the
way push does: NAME.partial, synced to the disk and checked against the
.sha256, then renamed; existing identical archives are skipped, different ones
of the same name kept (that archive fails) unless --overwrite; an interrupted
copy continues. At the far end, run "mailhaul verify DIR" before importing.

Exit codes: 0 all arrived, 3 some failed (listed), 1 nothing arrived or bad usage.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, arg := range args {
				if sftp.IsURL(arg) {
					return fmt.Errorf("copy: %s: copy is for local folders; use push or pull for SFTP", arg)
				}
			}
			return a.runTransfer(cmd.Context(), &f, local.Endpoint{}, args[:len(args)-1], local.Endpoint{}, args[len(args)-1])
		},
	}
	f.register(cmd, "copied", false)
	return cmd
}

// runTransfer plans and runs one transfer, prints what happened, and turns
// the outcome into the exit code.
func (a *app) runTransfer(ctx context.Context, f *transferFlags, src transport.Endpoint, srcPaths []string, dst transport.Endpoint, dstDir string) error {
	limit, err := parseRate(f.bwlimit)
	if err != nil {
		return err
	}
	collectLessOften()
	if f.transfers < 0 || f.streams < 0 {
		return fmt.Errorf("--transfers and --streams must be at least 1 (or 0 for the default)")
	}
	retries := f.retries
	if retries == 0 {
		retries = transport.NoRetries
	}
	jobs, err := plan(ctx, src, srcPaths, dst, dstDir)
	if err != nil {
		return err
	}
	transfers := f.transfers
	if transfers == 0 {
		transfers = autoTransfers(src, dst)
	}
	streams := f.streams
	if streams == 0 {
		streams = autoStreams(src, dst)
	}
	prog := a.newTransferProgress(jobs)
	rep, runErr := transport.Run(ctx, src, dst, jobs, transport.Options{
		Transfers:   transfers,
		Streams:     streams,
		Retries:     retries,
		SegmentSize: int64(max(f.segmentMiB, 1)) << 20,
		Limit:       ratelimit.NewPacer(float64(limit), 0), // 0: unlimited
		Overwrite:   f.overwrite,
		Progress:    prog.event,
		Observer:    prog,
	})
	prog.wait()
	a.printTransferReport(rep, f.verb)
	if f.reportPath != "" {
		if err := writeJSONFile(f.reportPath, rep); err != nil {
			return err
		}
	}
	switch {
	case runErr != nil:
		return fmt.Errorf("transfer interrupted: %w", runErr)
	case rep.Failed == 0:
		return nil
	case rep.Failed == rep.Files:
		return fmt.Errorf("transfer: all %d archives failed", rep.Files)
	}
	return errPartial
}

// collectLessOften tunes the collector for a transfer. Its live heap is a
// few MB, but every byte a pull receives is allocated twice by the
// libraries (x/crypto/ssh for each SSH packet, pkg/sftp for each 255 KiB
// reply), so garbage comes at twice the rate of the data. At the default
// GOGC the collector ran every few MB moved (250 times per 512 MiB
// pushed); at 400, pulls on loopback ran 20% faster. But the goal is a
// multiple of the live heap, and the live heap jumps while the local disk
// holds writes back (replies wait, transport/sftp's readsInFlight): so a
// pull's peak grew with the archive, each jump taken five times, up to the
// 64 MiB soft limit (43 MB of RSS for 73 MB, 70 MB for 720 MB). A budget
// of transferMemory caps it whatever the size, and the collector still
// runs rarely. GOGC and GOMEMLIMIT in the environment win.
func collectLessOften() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(transferMemory)
	}
}

// transferMemory is a transfer's soft memory limit: the live heap (a few
// MB, at most about 8 MiB per transfer in flight while a disk is slow)
// with room for garbage.
const transferMemory = 32 << 20

// autoTransfers picks how many archives move at once: 8 to or from an
// SFTP server, 4 between local folders. Over a delayed link each transfer
// gets its own SSH connection (one SSH channel carries at most its window
// per round trip), and each archive costs about 15 round trips of opening,
// checking and renaming, so several in flight hide them. Over a LAN or
// loopback the transfers share one connection (see transport/sftp's
// pool); on the two-core test machine 8 moved 512 MiB of archives 4% faster
// than 4 (push) and 15% (pull), and 12 no faster than 8.
func autoTransfers(eps ...transport.Endpoint) int {
	for _, ep := range eps {
		if _, remote := ep.(interface{ RoundTrip() time.Duration }); remote {
			return 8
		}
	}
	return 4
}

// autoStreams picks how many connections one large archive may use: 8
// over a delayed SFTP link, where one SSH channel carries only its window
// per round trip (about 25 MB/s at 80 ms), else 1: on a LAN or loopback
// the transfers share one connection and the CPU is the limit. The
// extra streams only take idle transfers' places (transport.Options).
// The endpoints have connected once (plan), so the round trip is known.
func autoStreams(eps ...transport.Endpoint) int {
	for _, ep := range eps {
		if d, ok := ep.(interface{ Delayed() bool }); ok && d.Delayed() {
			return 8
		}
	}
	return 1
}

// plan connects once to each side to list the archives before anything
// moves, so a wrong path or a refused host key stops the run early.
func plan(ctx context.Context, src transport.Endpoint, srcPaths []string, dst transport.Endpoint, dstDir string) ([]transport.Job, error) {
	sc, err := src.Connect(ctx)
	if err != nil {
		return nil, err
	}
	defer sc.Close()
	dc, err := dst.Connect(ctx)
	if err != nil {
		return nil, err
	}
	defer dc.Close()
	return transport.Plan(ctx, sc, srcPaths, dc, dstDir)
}

func (a *app) printTransferReport(rep *report.Transfer, verb string) {
	if a.json {
		for _, r := range rep.Results {
			writeJSONLine(a.stdout, struct {
				Event string `json:"event"`
				report.TransferFile
			}{"transfer-file", r})
		}
		writeJSONLine(a.stdout, struct {
			*report.Transfer
			Results []report.TransferFile `json:"results,omitempty"`
		}{Transfer: rep})
		return
	}
	// File names and errors come from disks and servers: escaped.
	esc := termtext.Escape
	for _, r := range rep.Results {
		switch r.Status {
		case report.TransferSent:
			extra := ""
			if r.ResumedFrom > 0 {
				extra = fmt.Sprintf(", resumed after %s already there", humanBytes(r.ResumedFrom))
			}
			fmt.Fprintf(a.stdout, "%-8s %s  %s in %s%s\n", verb, esc(r.Name), humanBytes(r.Size), roundSeconds(r.Seconds), extra)
		case report.TransferSkipped:
			fmt.Fprintf(a.stdout, "skipped  %s  already there with the same SHA-256\n", esc(r.Name))
		default:
			fmt.Fprintf(a.stderr, "FAILED   %s: %s\n", esc(r.Name), esc(r.Error))
		}
		if r.Note != "" {
			fmt.Fprintf(a.stdout, "         note: %s\n", esc(r.Note))
		}
	}
	refused := 0
	for _, r := range rep.Results {
		if r.Code == report.CodeExists {
			refused++
		}
	}
	if refused > 0 {
		fmt.Fprintf(a.stderr, "%d archives not replaced: a different archive of the same name is at the destination.\n"+
			"  To replace it, run again with --overwrite. To keep both (a Maildir and an mbox export of one user\n"+
			"  are both <user>.tgz), give each export its own directory, here and at the destination\n"+
			"  (export --out maildir/ and --out mbox/, then move each into its own directory).\n", refused)
	}
	rate := float64(rep.BytesSent) / max(rep.Seconds, 1e-3)
	fmt.Fprintf(a.stdout, "%d archives: %d %s, %d skipped, %d failed, %d resumed; %s %s in %s (%s/s) from %s to %s\n",
		rep.Files, rep.Sent, verb, rep.Skipped, rep.Failed, rep.Resumed, humanBytes(rep.BytesSent), verb,
		roundSeconds(rep.Seconds), humanBytes(int64(rate)), esc(rep.From), esc(rep.To))
}

func roundSeconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(10 * time.Millisecond)
}

// parseRate reads "20M", "512K", "1G" or plain bytes per second (binary
// units, an optional trailing "B", "iB" or "/s").
func parseRate(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	t := strings.TrimSuffix(strings.TrimSpace(s), "/s")
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "i")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		}
		if mult > 1 {
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("--bwlimit %q: want a rate such as 20M or 512K", s)
	}
	return int64(v * float64(mult)), nil
}

var errNoTerminal = errors.New("no terminal to ask on")
