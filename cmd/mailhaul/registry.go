package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/maildir"
	"github.com/mailhaul/mailhaul/export/mbox"
	"github.com/mailhaul/mailhaul/export/zimbra"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/importer/dav"
	emltarget "github.com/mailhaul/mailhaul/importer/eml"
	imapimport "github.com/mailhaul/mailhaul/importer/imap"
	maildirtarget "github.com/mailhaul/mailhaul/importer/maildir"
	mboxtarget "github.com/mailhaul/mailhaul/importer/mbox"
)

// The registry is every kind of source and target mailhaul knows, listed
// in one explicit place (no init() side effects), by the names a command
// line (export --from KIND, restore --to KIND) and a plan file use. The
// commands resolve kinds through it; each kind's package stays unaware of
// it.

// sourceKind is a kind of mailbox that export reads.
type sourceKind struct {
	name  string // as a plan file and --from name it
	short string // one line for the help
	dir   bool   // its path must be a directory
	new   func(sourceSettings) (export.Source, error)
}

// sourceSettings are what a source is built from: its path and the
// settings some kinds take (from flags, or later from a plan file).
type sourceSettings struct {
	Path   string
	Layout string   // maildir: "auto", "maildir++", "fs"
	Files  []string // zimbra: the tgz files of one user (Path is the first)
	// AccountID is zimbra's account id (zimbraId), which contact UIDs
	// are made of when a contact has none of its own.
	AccountID string
}

// targetKind is a kind of destination that import or restore loads
// archives into, as an importer.Target.
type targetKind struct {
	name  string // as a plan file and --to name it
	short string
	local bool // writes files under a directory (restore), not to a server (import)
	// new builds the target; nil while the kind's package does not yet
	// provide an importer.Target (see findTarget).
	new func(targetSettings) (importer.Target, error)
}

// targetSettings are what a target is built from: where it is, and the
// settings of its kind (each target package's own options type, which
// new type-asserts: login, TLS and mapping for a server, layout for a
// directory).
type targetSettings struct {
	Where   string // a server URL (imap, dav) or a directory (maildir, mbox, eml)
	Options any
}

// sourceKinds lists every export source, in the order the help shows them.
// (dav and imap are export dav and export imap, servers with flags of
// their own; zimbra from a live server is export zimbra --url.)
func sourceKinds() []sourceKind {
	return []sourceKind{
		{name: "maildir", short: "Export a Maildir, Maildir++ or fs-layout Maildir", dir: true,
			new: func(s sourceSettings) (export.Source, error) {
				layout, err := maildir.ParseLayout(s.Layout)
				return &maildir.Source{Root: s.Path, Layout: layout}, err
			}},
		{name: "mbox", short: "Export an mbox file or a tree of them (Thunderbird layout)",
			new: func(s sourceSettings) (export.Source, error) { return &mbox.Source{Path: s.Path}, nil }},
		{name: "zimbra", short: "Export the tgz files Zimbra's REST export wrote (zmmailbox getRestURL \"//?fmt=tgz\")",
			new: func(s sourceSettings) (export.Source, error) {
				files := s.Files
				if len(files) == 0 {
					files = []string{s.Path}
				}
				return &zimbra.Source{Files: files, AccountID: s.AccountID}, nil
			}},
	}
}

// targetKinds lists every import and restore target. The slots whose new
// is nil are filled as each package provides its importer.Target.
func targetKinds() []targetKind {
	return []targetKind{
		{name: "imap", short: "an IMAP server (mail)",
			new: func(s targetSettings) (importer.Target, error) {
				opt, ok := s.Options.(imapimport.Options)
				if !ok {
					return nil, fmt.Errorf("imap: settings of type %T, want imap.Options", s.Options)
				}
				return imapimport.New(opt), nil
			}},
		{name: "dav", short: "a CardDAV/CalDAV server (contacts, calendars, tasks)",
			new: func(s targetSettings) (importer.Target, error) {
				opt, ok := s.Options.(dav.Options)
				if !ok {
					return nil, fmt.Errorf("dav: settings of type %T, want dav.Options", s.Options)
				}
				if opt.URL == "" {
					opt.URL = s.Where
				}
				return dav.New(opt), nil
			}},
		{name: "maildir", short: "a Maildir++ tree, as Dovecot reads it", local: true,
			new: func(s targetSettings) (importer.Target, error) {
				return maildirtarget.New(s.Where), nil
			}},
		{name: "mbox", short: "an mboxrd file per folder, in a Thunderbird-style tree", local: true,
			new: func(s targetSettings) (importer.Target, error) {
				return mboxtarget.New(s.Where), nil
			}},
		{name: "eml", short: "an .eml file per message, a .vcf and .ics per address book and calendar", local: true,
			new: func(s targetSettings) (importer.Target, error) {
				return emltarget.New(s.Where), nil
			}},
	}
}

// serverSources read a server, with login flags of their own: export
// --from names their command rather than taking them.
var serverSources = []string{"imap", "dav"}

// findSource resolves a source kind by name.
func findSource(name string) (sourceKind, error) {
	if slices.Contains(serverSources, name) {
		return sourceKind{}, fmt.Errorf("source kind %q is a server, with login flags of its own: use mailhaul export %s --url URL --user LOGIN --out DIR (see mailhaul export %s --help)", name, name, name)
	}
	for _, k := range sourceKinds() {
		if k.name == name {
			return k, nil
		}
	}
	return sourceKind{}, fmt.Errorf("unknown source kind %q: want %s", name, kindNames(sourceKinds(), func(k sourceKind) string { return k.name }))
}

// findTarget resolves a target kind by name, refusing one whose package
// does not provide a target yet.
func findTarget(name string) (targetKind, error) {
	for _, k := range targetKinds() {
		if k.name == name {
			if k.new == nil {
				return k, fmt.Errorf("target kind %q is not available in this build", name)
			}
			return k, nil
		}
	}
	return targetKind{}, fmt.Errorf("unknown target kind %q: want %s", name, kindNames(targetKinds(), func(k targetKind) string { return k.name }))
}

func kindNames[K any](kinds []K, name func(K) string) string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = name(k)
	}
	return strings.Join(names, ", ")
}
