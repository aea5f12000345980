package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mailhaul/mailhaul/export"
	davexport "github.com/mailhaul/mailhaul/export/dav"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/davclient"
	"github.com/mailhaul/mailhaul/internal/termtext"
)

const exportDAVHelp = `Export every address book and calendar of one CardDAV/CalDAV account into an
archive: each collection with its display name, colour, description, supported
components, sync token and CTag (for later deltas), each object byte for byte as the
server holds it (multiget REPORTs of --batch objects, streamed into the archive).

The server is found from --url through .well-known/carddav and .well-known/caldav;
--carddav and --caldav name the address book and calendar homes directly. The
password comes from --password-file or the MAILHAUL_PASSWORD environment variable, a
bearer token from --token-file; never from an argument. http:// is refused for any
host but loopback unless --allow-plaintext; a certificate that is not trusted fails at
once: give the server's CA with --tls-ca. 429, 5xx and dropped connections are
repeated (Retry-After honoured).

Scheduling inboxes and outboxes, calendars another user shared with this one and
subscribed calendars are listed as warnings and not exported. An object the server
does not deliver (a 404 or 500 in a multiget, asked again alone) is listed by
collection and href and the export goes on (exit 3).

--since ARCHIVE, an earlier export dav of the account, asks each collection for what
changed since that archive's sync token (RFC 6578): every object the server names is
exported whatever its stamps, objects deleted since are counted as skipped (an archive
holds no deletions), a collection new since is exported whole, and the objects that
archive lists as failed are asked for again (its token covers them). Where there is no
token (or the server no longer takes it, said in a warning), and with --after, objects
are kept whose last change they state (a vCard's REV; an iCalendar object's latest
LAST-MODIFIED, else DTSTAMP, else CREATED; without a zone or a time of day, the
latest instant it can mean) is at or after the cutoff; an object that
states none is always exported, one changed by a client that left its stamps alone is
not. Exit codes: 0 all exported, 3 some objects failed (listed in the report beside
the archive), 1 the export failed, 130 stopped by SIGINT or SIGTERM.`

// davSourceFlags reach one CardDAV/CalDAV account: export dav's own
// flags, and (named --dav-...) those with which any export command adds
// the account's contacts and calendars to its archive (addDAVSource).
type davSourceFlags struct {
	url, carddav, caldav, user, passwordFile, tokenFile, tlsCA string
	allowPlaintext                                             bool
	batch                                                      int
	prefix                                                     string // of the flags' names: "" or "dav-"
}

// addFlags registers the flags, each name prefixed (by "" or "dav-").
func (d *davSourceFlags) addFlags(cmd *cobra.Command, prefix, what string) {
	d.prefix = prefix
	fl := cmd.Flags()
	fl.StringVar(&d.url, prefix+"url", "", what+"server URL, e.g. https://dav.example.com/ (discovery through .well-known)")
	fl.StringVar(&d.carddav, prefix+"carddav", "", what+"address book home URL (skips CardDAV discovery)")
	fl.StringVar(&d.caldav, prefix+"caldav", "", what+"calendar home URL (skips CalDAV discovery)")
	fl.StringVar(&d.passwordFile, prefix+"password-file", "", what+"file holding the password (default: $"+passwordEnv+")")
	fl.StringVar(&d.tokenFile, prefix+"token-file", "", what+"file holding an OAuth bearer token, used instead of a password")
	fl.StringVar(&d.tlsCA, prefix+"tls-ca", "", what+"PEM file of CA certificates to trust instead of the system's")
	fl.BoolVar(&d.allowPlaintext, prefix+"allow-plaintext", false, what+"allow http:// to a host other than loopback (the password travels in clear)")
	fl.IntVar(&d.batch, prefix+"batch", davexport.DefaultBatch, what+"objects per multiget REPORT")
}

// addDAVSource lets an export command add a CardDAV/CalDAV account's
// address books and calendars to the archive it writes: --dav-url (or
// --dav-carddav/--dav-caldav), --dav-user (default: --user),
// --dav-password-file... The command then calls d.appendTo on its
// sources.
func addDAVSource(cmd *cobra.Command, d *davSourceFlags) {
	d.addFlags(cmd, "dav-", "contacts and calendars from CardDAV/CalDAV: ")
	cmd.Flags().StringVar(&d.user, "dav-user", "", "contacts and calendars from CardDAV/CalDAV: login (default: --user)")
}

// given reports whether a DAV account was named.
func (d *davSourceFlags) given() bool { return d.url != "" || d.carddav != "" || d.caldav != "" }

// where is the account's server, for the manifest: the URL, or the homes.
func (d *davSourceFlags) where() string {
	if d.url != "" {
		return d.url
	}
	return strings.TrimSpace(d.carddav + " " + d.caldav)
}

// source builds the DAV source, reading the secret from its file (or the
// environment), never from an argument; login defaults to user.
func (d *davSourceFlags) source(user, since string, logf func(string, ...any)) (*davexport.Source, error) {
	if !d.given() {
		return nil, fmt.Errorf("give --%[1]surl, or --%[1]scarddav and/or --%[1]scaldav", d.prefix)
	}
	// Never into the manifest with credentials, nor in clear.
	if err := (davclient.Endpoints{URL: d.url, CardDAV: d.carddav, CalDAV: d.caldav}).Check(d.allowPlaintext); err != nil {
		return nil, err
	}
	if d.batch < 1 {
		return nil, fmt.Errorf("--%sbatch must be at least 1", d.prefix)
	}
	login := d.user
	if login == "" {
		login = user
	}
	cfg := davclient.Config{User: login, AllowPlaintext: d.allowPlaintext, Logf: logf}
	if d.tlsCA != "" {
		pool, err := loadCAs(d.tlsCA)
		if err != nil && d.prefix != "" {
			return nil, fmt.Errorf("--%stls-ca: %w", d.prefix, err)
		}
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if d.tokenFile != "" {
		b, err := readSecretFile(d.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--%stoken-file: %w", d.prefix, err)
		}
		cfg.Token = strings.TrimSpace(string(b))
	} else {
		pw, err := password(d.passwordFile)
		if err != nil {
			return nil, fmt.Errorf("--%spassword-file: %w", d.prefix, errors.Unwrap(err))
		}
		cfg.Password = pw
	}
	return davSource(cfg, davclient.Endpoints{URL: d.url, CardDAV: d.carddav, CalDAV: d.caldav}, d.batch, since)
}

// davSource builds the DAV source of one account (export dav's flags, or
// a plan's source); since is the earlier archive of a delta, whose
// collections' sync tokens make it, or "".
func davSource(cfg davclient.Config, e davclient.Endpoints, batch int, since string) (*davexport.Source, error) {
	if cfg.Conns == 0 {
		cfg.Conns = 2
	}
	if batch == 0 {
		batch = davexport.DefaultBatch
	}
	src := &davexport.Source{Config: cfg, URL: e.URL, CardDAV: e.CardDAV, CalDAV: e.CalDAV, Batch: batch}
	if since != "" {
		src.Earlier, src.EarlierFailed = earlierCollections(since)
	}
	return src, nil
}

// appendTo adds the DAV source to sources when an account was named
// (--dav-url...), for the archive's owner user; since is the command's
// --since archive, whose collections' sync tokens make the delta.
func (d *davSourceFlags) appendTo(sources export.Composite, user, since string, logf func(string, ...any)) (export.Composite, error) {
	if !d.given() {
		return sources, nil
	}
	src, err := d.source(user, since, logf)
	if err != nil {
		return nil, fmt.Errorf("contacts and calendars from CardDAV/CalDAV: %w", err)
	}
	return append(sources, src), nil
}

// retryLog prints a request that is repeated (throttling, a dropped
// connection), escaped: it can quote a server's answer.
func (a *app) retryLog(format string, args ...any) {
	fmt.Fprintln(a.stderr, termtext.Escape(fmt.Sprintf(format, args...)))
}

// exportDAVCommand is "export dav".
func (a *app) exportDAVCommand() *cobra.Command {
	var f exportFlags
	cmd := &cobra.Command{
		Use:   "dav --url https://HOST/ --user LOGIN --password-file F --out DIR",
		Short: "Export the address books and calendars of a CardDAV/CalDAV account",
		Long:  exportDAVHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.exportDAV(cmd.Context(), &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.user, "user", "", "the login, and the archive's owner (required)")
	f.dav.addFlags(cmd, "", "")
	archiveFlagSet(cmd, &f)
	for _, name := range []string{"user", "out"} {
		cmd.MarkFlagRequired(name)
	}
	return cmd
}

func (a *app) exportDAV(ctx context.Context, f *exportFlags) error {
	src, err := f.dav.source(f.user, f.since, a.retryLog)
	if err != nil {
		return fmt.Errorf("export dav: %w", err)
	}
	return a.runExport(ctx, f, export.Job{User: f.user, Kind: "dav", Path: f.dav.where(), PathIsURL: true, Source: src})
}

// earlierCollections reads the address books and calendars of an
// earlier archive with their sync tokens, for a delta of what changed
// since, and the objects it could not export in them (its summary's
// errors naming an href), by folder, for the delta to ask for again.
// Both are nil when it is not an export dav archive and none of its
// collections has a token (its contacts came from elsewhere: the stamps
// make the delta), or it cannot be read (export.Run reports why).
func earlierCollections(archive string) (map[string]string, map[string][]string) {
	r, err := format.Open(archive, nil)
	if err != nil {
		return nil, nil
	}
	defer r.Close()
	fromDAV := r.Manifest().Source.Kind == "dav"
	out, failed, pim := map[string]string{}, map[string][]string{}, map[string]bool{}
	for {
		e, err := r.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) || !fromDAV && len(out) == 0 {
				return nil, nil
			}
			return out, failed
		}
		if f := e.Folder; f != nil && f.Kind != format.FolderMail && (fromDAV || f.SyncToken != "") {
			out[string(f.Kind)+"/"+f.Path] = f.SyncToken
			pim[f.Path] = true
		}
		if e.Summary != nil {
			for _, p := range e.Summary.Errors {
				// An object's href; a collection's error names its URL.
				if pim[p.Folder] && strings.HasPrefix(p.Item, "/") {
					failed[p.Folder] = append(failed[p.Folder], p.Item)
				}
			}
		}
	}
}
