package maildir

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/srcfs"
	"github.com/mailhaul/mailhaul/format"
	mdir "github.com/mailhaul/mailhaul/mailbox/maildir"
)

// Layout is how a Maildir's folders are laid out on disk (see
// mailbox/maildir, where the layouts are described).
type Layout = mdir.Layout

// The layouts, as mailbox/maildir names them.
const (
	LayoutAuto      = mdir.LayoutAuto
	LayoutMaildirPP = mdir.LayoutMaildirPP
	LayoutFS        = mdir.LayoutFS
)

// ParseLayout reads a layout name: "auto" (or ""), "maildir++" or "fs".
func ParseLayout(s string) (Layout, error) { return mdir.ParseLayout(s) }

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
