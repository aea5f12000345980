package maildir

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/srcfs"
	"github.com/mailhaul/mailhaul/format"
)

// Layout is how a Maildir's folders are laid out on disk.
type Layout int

const (
	// LayoutAuto detects the layout: Maildir++ if the root holds any
	// ".Folder" maildir, else LAYOUT=fs if the root (or an INBOX directory
	// in it) holds cur/ or new/ and nested maildirs, else a plain Maildir,
	// which is Maildir++ with only INBOX.
	LayoutAuto Layout = iota
	// LayoutMaildirPP is Maildir++ (Courier, Dovecot's default): the root
	// is INBOX and ".Work.2024" is the folder Work/2024.
	LayoutMaildirPP
	// LayoutFS is Dovecot's LAYOUT=fs: "Work/2024/cur". INBOX is the root,
	// a top-level directory named INBOX, or both merged.
	LayoutFS
)

func (l Layout) String() string {
	switch l {
	case LayoutAuto:
		return "auto"
	case LayoutMaildirPP:
		return "maildir++"
	case LayoutFS:
		return "fs"
	}
	return fmt.Sprintf("Layout(%d)", int(l))
}

// ParseLayout reads a layout name: "auto" (or ""), "maildir++" or "fs".
func ParseLayout(s string) (Layout, error) {
	for _, l := range []Layout{LayoutAuto, LayoutMaildirPP, LayoutFS} {
		if s == l.String() {
			return l, nil
		}
	}
	if s == "" {
		return LayoutAuto, nil
	}
	return LayoutAuto, fmt.Errorf("maildir: unknown layout %q: want auto, maildir++ or fs", s)
}

// Source exports the Maildir at Root.
type Source struct {
	Root   string
	Layout Layout // detected when zero
}

var _ export.Source = (*Source)(nil)

// Export sends every folder and message under s.Root to sink, folders in
// path order (INBOX first), each folder's messages in file-name order.
// Files that cannot be read are reported with sink.AddError and skipped.
// It fails only when the root cannot be listed, the sink fails, or ctx is
// cancelled.
func (s *Source) Export(ctx context.Context, sink export.Sink, opt export.Options) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	rd, err := srcfs.OpenRoot(filepath.Clean(s.Root))
	if err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	defer rd.Close()
	layout, t, err := discover(rd, s.Layout)
	if err != nil {
		return err
	}
	if err := checkRoot(rd, s.Layout, layout, t); err != nil {
		return err
	}
	for _, p := range t.problems {
		sink.AddError(p)
	}
	folders := t.sorted()
	var stale staleNames
	subs, err := readSubscriptions(rd, subscriptionKeys(folders), &stale)
	if err != nil {
		sink.AddWarning(format.Problem{Item: "subscriptions",
			Reason: "subscriptions unknown, every folder marked subscribed: " + cause(err)})
	} else if p, ok := stale.problem(); ok {
		sink.AddWarning(p)
	}
	assignRoles(folders)
	for _, f := range folders {
		f.subscribed = subs.has(f.source)
	}

	bufp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bufp)
	x := &exporter{root: rd, sink: sink, opt: opt, body: body{ctx: ctx, buf: *bufp}}
	for _, f := range folders {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := x.exportFolder(f); err != nil {
			return err
		}
	}
	return nil
}
