package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailhaul/mailhaul/export"
	imapsrc "github.com/mailhaul/mailhaul/export/imap"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/ratelimit"
	"github.com/mailhaul/mailhaul/internal/retry"
)

// exportIMAPFlags are export imap's own flags, besides every export's.
type exportIMAPFlags struct {
	imapLogin
	imapSourceSettings
}

const exportIMAPHelp = `Export one user's mailbox from an IMAP server (Dovecot, Cyrus, Exchange, Office 365,
a hosted provider) into an archive: every folder LIST shows, with its special use (Sent,
Drafts, Trash, Junk, Archive), subscription and hierarchy (the server's separator becomes
"/"), empty folders too; every message byte for byte with its flags, keywords and
INTERNALDATE as the received time, streamed from the server into the archive. Each
folder's UIDVALIDITY, UIDNEXT and (with CONDSTORE) HIGHESTMODSEQ are recorded in the
archive, and each message's sourceId is UIDVALIDITY:UID.

--after / --since: SEARCH SINCE the day before (in UTC) as the server-side filter, then the
exact test on INTERNALDATE; the delta ends with the state record (every message's folder,
sourceId and flags, from one FETCH without bodies per folder). A message flagged \Deleted
but not expunged is exported with that flag; \Recent is never exported. --folder and --exclude take path patterns ("Work/*"; a folder's
subfolders follow it). Folders are spread over --connections parallel connections (at
most the --provider's cap). A dropped connection, or a server that throttles (Office
365's "Suggested Backoff Time" is honoured), is retried where it stopped: a folder goes
on after the last message stored, never exporting one twice or skipping one. A message
the server refuses to deliver, and a folder whose UIDVALIDITY changes while it is read,
are listed in the report by folder and UID, and the rest goes on (exit 3); so is a folder
whose name the server sends other than in modified UTF-7 (it cannot be named back).

--admin logs in as that administrator acting for --user (SASL PLAIN authorization
identity; Dovecot master users). The password comes from --password-file or
MAILHAUL_PASSWORD, never from the command line; --auth xoauth2 --token-file F reads an
OAuth token, again on every reconnect. --dav-url (or --dav-carddav / --dav-caldav) adds
the user's address books and calendars from a CardDAV/CalDAV server to the same
archive, as export dav reads them.`

func (a *app) exportIMAPCommand() *cobra.Command {
	var f exportFlags
	var xf exportIMAPFlags
	cmd := &cobra.Command{
		Use:   "imap --url imaps://HOST[:PORT] --user LOGIN --out DIR",
		Short: "Export a mailbox from an IMAP server",
		Long:  exportIMAPHelp + "\n\n" + exportHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			xf.user = f.user
			return a.runExportIMAP(cmd.Context(), &f, &xf)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.user, "user", "", "the mailbox owner's login, and the archive's owner (required)")
	fl.StringArrayVar(&f.contacts, "contacts", nil, "a .vcf file to add as an address book named after the file (repeatable)")
	fl.StringArrayVar(&f.calendars, "calendar", nil, "an .ics file to add as a calendar named after the file (repeatable)")
	archiveFlagSet(cmd, &f)
	addDAVSource(cmd, &f.dav)
	xf.addFlags(fl, "source")
	fl.StringVar(&xf.provider, "provider", "generic", "source profile (connection cap, error budget): "+strings.Join(imapconn.Providers(), ", "))
	fl.StringArrayVar(&xf.folders, "folder", nil, "export only folders matching this pattern, and those below them (repeatable)")
	fl.StringArrayVar(&xf.exclude, "exclude", nil, "leave out folders matching this pattern, and those below them (repeatable)")
	fl.IntVar(&xf.connections, "connections", 0, "parallel connections (default: the provider's)")
	fl.Float64Var(&xf.maxBytesPerSecond, "max-bytes-per-second", 0, "read at most this many bytes per second")
	fl.Float64Var(&xf.maxMessagesPerSecond, "max-messages-per-second", 0, "read at most this many messages per second")
	for _, name := range []string{"user", "url", "out"} {
		cmd.MarkFlagRequired(name)
	}
	return cmd
}

func (a *app) runExportIMAP(ctx context.Context, f *exportFlags, xf *exportIMAPFlags) error {
	acct, err := xf.account()
	if err != nil {
		return err
	}
	src, where, err := imapSource(acct, xf.imapSourceSettings, a.retryLog)
	if err != nil {
		return err
	}
	sources, err := a.withContacts(src, f)
	if err != nil {
		return err
	}
	return a.runExport(ctx, f, export.Job{User: f.user, Kind: "imap", Path: where, PathIsURL: true, Source: sources})
}

// imapSourceSettings are what an IMAP source takes besides its account
// (export imap's flags, or a plan's source).
type imapSourceSettings struct {
	provider                                string
	folders, exclude                        []string
	connections                             int
	maxBytesPerSecond, maxMessagesPerSecond float64
}

// imapSource builds the IMAP source of acct, and the server's URL for the
// manifest (never the credentials); logf hears of retries.
func imapSource(acct imapconn.Account, s imapSourceSettings, logf func(string, ...any)) (*imapsrc.Source, string, error) {
	if s.provider == "" {
		s.provider = "generic"
	}
	lim, err := imapconn.ProviderLimits(s.provider)
	if err != nil {
		return nil, "", err
	}
	if s.connections < 0 || (lim.MaxConnections > 0 && s.connections > lim.MaxConnections) {
		return nil, "", fmt.Errorf("--connections: %d is more than the %s provider allows one user (%d)", s.connections, s.provider, lim.MaxConnections)
	}
	user := acct.User
	src := &imapsrc.Source{Account: acct, Limits: lim, Connections: s.connections, Folders: s.folders, Exclude: s.exclude,
		Pacer: ratelimit.NewPacer(s.maxBytesPerSecond, s.maxMessagesPerSecond),
		Retry: retry.Loop{Backoff: retry.Policy{First: time.Second, Max: time.Minute}, MaxWait: 15 * time.Minute,
			OnRetry: func(_ int, err error, wait time.Duration) {
				logf("%s: %s; again in %s", user, err, wait.Round(time.Second))
			}}}
	where := "imap://" + acct.Addr
	if acct.Mode == imapconn.ImplicitTLS {
		where = "imaps://" + acct.Addr
	}
	return src, where, nil
}
