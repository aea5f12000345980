package main

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mailhaul/mailhaul/export/zimbra"
	"github.com/mailhaul/mailhaul/internal/termtext"
)

// exportZimbraCommand is "export zimbra": --from-tgz FILE... reads the
// files of one user (repeatable, or followed by more files, as a shell
// glob gives them); --url (or --zmmailbox) exports users of a live
// Zimbra, one archive each (zimbra_live.go).
func (a *app) exportZimbraCommand(k sourceKind) *cobra.Command {
	var f exportFlags
	var lf zimbraLiveFlags
	var tgzs []string
	cmd := &cobra.Command{
		Use: k.name + " --from-tgz FILE... --user ADDRESS --out DIR\n  " +
			k.name + " --url https://HOST:7071 --admin ADMIN --password-file F (--user ADDRESS... | --users-file F | --all-users) --out DIR",
		Short: "Export Zimbra mailboxes: from a live server, or from the tgz files its REST export wrote",
		Long: k.short + ".\n\n" + `Several files of one user (the root export plus /Trash and /Junk, which a plain
export leaves out; meta=1 or meta=0; any ZCS release) become one archive, each item
once. Blobs are checked against their blob_digest; a damaged item, a .err entry, a
.meta without its blob and a file cut short are reported by entry name and the rest
is exported (exit 3). Contacts become vCards, appointments and tasks iCalendar objects
of their address books and calendars; one that cannot be converted is listed by id,
folder and subject; documents, notes, chats, search folders and mountpoints are counted as not migrated.

` + zimbraLiveHelp + `

Exit codes: 0 all exported, 3 some items or users failed (each listed, and in the report
beside each archive), 1 the export failed (every user), 130 stopped by SIGINT or SIGTERM.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			files := append(append([]string{}, tgzs...), args...)
			if f.src != "" {
				files = append(files, f.src)
			}
			live := lf.url != "" || lf.zmmailbox != ""
			switch {
			case live && len(files) > 0:
				return errors.New("export zimbra: --from-tgz reads files, --url and --zmmailbox a live Zimbra: give one or the other")
			case live && f.accountID != "":
				return errors.New("export zimbra: --account-id is for --from-tgz; a live export reads the account's id itself")
			case live:
				return a.exportZimbraLive(cmd, &f, &lf)
			case len(files) == 0:
				return errors.New("export zimbra: give the Zimbra tgz files with --from-tgz FILE..., or a live Zimbra with --url (or --zmmailbox)")
			}
			if name := lf.liveOnly(cmd); name != "" {
				return fmt.Errorf("export zimbra: --%s is for a live Zimbra (--url or --zmmailbox), not --from-tgz", name)
			}
			switch {
			case len(lf.users) != 1:
				return errors.New("export zimbra: --from-tgz files are one user's: give one --user")
			case f.out == "":
				return errors.New("export zimbra: --out is required")
			}
			f.files, f.src = files, files[0]
			return a.exportKind(cmd.Context(), k, &f)
		},
	}
	exportFlagSet(cmd, &f, "Zimbra tgz file", false)
	cmd.Flags().StringArrayVar(&tgzs, "from-tgz", nil, "a Zimbra tgz export of the user (repeatable; files after it are taken too)")
	cmd.Flags().MarkHidden("src") // --from-tgz says it; --src FILE is taken as one more
	cmd.Flags().StringVar(&f.accountID, "account-id", "", "with --from-tgz: the account's zimbraId (zmprov ga USER zimbraId), so that contacts "+
		"without a UID of their own get the UID a live export gives them (<zimbraId>:<item id>) instead of zimbra-<item id>")
	lf.add(cmd, &f)
	return cmd
}

// zimbraInspection is inspect's answer for a Zimbra tgz.
type zimbraInspection struct {
	Kind string `json:"kind"` // "zimbra-tgz"
	*zimbra.Inspection
}

// inspectZimbra inspects a Zimbra tgz: what it is, what an export would
// convert, and what it would report.
func (a *app) inspectZimbra(cmd *cobra.Command, path string) error {
	ins, err := zimbra.Inspect(cmd.Context(), path)
	if a.json {
		writeJSONLine(a.stdout, zimbraInspection{"zimbra-tgz", ins})
	} else {
		printZimbraInspection(a.stdout, ins)
	}
	if err != nil {
		return err
	}
	if len(ins.Errors) > 0 {
		return errPartial
	}
	return nil
}

func printZimbraInspection(w io.Writer, ins *zimbra.Inspection) {
	esc := termtext.Escape
	fmt.Fprintln(w, esc(ins.Describe()))
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ZIMBRA TYPE\tITEMS")
	for _, t := range sortedKeys(ins.Types) {
		fmt.Fprintf(tw, "%s\t%d\n", esc(t), ins.Types[t])
	}
	tw.Flush()
	c := ins.Counts
	fmt.Fprintf(w, "\nwould export %d folders, %d messages (%s), %d contacts, %d events, %d tasks\n",
		len(ins.Folders), c.Messages, humanBytes(c.Bytes), c.Contacts, c.Events, c.Tasks)
	for _, reason := range sortedKeys(ins.Skipped) {
		fmt.Fprintf(w, "skipped %d: %s\n", ins.Skipped[reason], esc(reason))
	}
	if n := len(ins.Warnings); n > 0 {
		fmt.Fprintf(w, "\nwarnings (%d):\n", n)
		printProblems(w, "warning", "", ins.Warnings, 20) // each names its file
	}
	if n := len(ins.Errors); n > 0 {
		fmt.Fprintf(w, "\nwould not be exported (%d):\n", n)
		printProblems(w, "error", "", ins.Errors, 1000)
	}
}
