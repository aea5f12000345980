package dav

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"

	"github.com/mailhaul/mailhaul/compare"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/davclient"
	"github.com/mailhaul/mailhaul/report"
)

// compareBatch is how many objects one multiget of a comparison reads.
const compareBatch = checkBatch

// Compare compares the target with the archives' expected state (see
// package compare): each archive address book or calendar goes to the
// collection the import would choose (its own resolution, with the
// journal read but not written, nothing created), each collection is
// listed by UID, and each expected object is compared by meaning with the
// target's object of its UID, as the import compares what it sent
// (sameAsSent). It changes nothing on the target. An error means the
// comparison could not be made.
func (t *Target) Compare(ctx context.Context, req importer.Request) (*compare.Result, error) {
	if req.User == "" {
		req.User = t.opt.User
	}
	if len(req.Archives) == 0 {
		return nil, errors.New("dav: no archive given")
	}
	ex, err := compare.Read(ctx, req.Archives, compare.Options{
		Kinds: []format.Kind{format.KindContact, format.KindEvent, format.KindTask}, Select: req.Select})
	if err != nil {
		return nil, err
	}
	target := t.opt.URL
	if target == "" {
		target = strings.TrimSpace(t.opt.CardDAV + " " + t.opt.CalDAV)
	}
	req.DryRun = true // resolve collections without creating any
	rep := report.New(req.User, "dav", target, req.Archives)
	im, closeJournal, _, err := t.open(ctx, req, rep)
	if err != nil {
		return nil, err
	}
	defer closeJournal()
	if err := im.cols.checkMapping(ctx); err != nil {
		return nil, err
	}
	cmp := &davCompare{ctx: ctx, im: im, res: &compare.Result{Kind: "dav", User: req.User, Target: target, Archives: req.Archives,
		State: ex.State, Notes: ex.Notes}, byCol: map[string]*colCompare{}}
	if err := cmp.expect(ctx, ex); err != nil {
		return nil, err
	}
	for _, cc := range cmp.cols {
		if err := cmp.list(ctx, cc); err != nil {
			return nil, err
		}
	}
	if err := ex.Bodies(ctx, cmp.content); err != nil {
		return nil, err
	}
	for _, cc := range cmp.cols {
		if err := cmp.flush(ctx, cc); err != nil {
			return nil, err
		}
		cmp.finish(cc)
	}
	for _, cc := range cmp.cols {
		cmp.res.Folders = append(cmp.res.Folders, *cc.f)
	}
	if n := cmp.unknown; n > 0 {
		cmp.res.Notes = append(cmp.res.Notes, fmt.Sprintf("%d objects of the state record are in none of the archives: only their presence was compared", n))
	}
	// How the collections were chosen, as the import's plan says it.
	cmp.res.Notes = append(cmp.res.Notes, rep.Notes...)
	cmp.res.Finish()
	return cmp.res, ctx.Err()
}

type davCompare struct {
	ctx   context.Context // the run's, for the reads Bodies' callback makes
	im    *session
	res   *compare.Result
	cols  []*colCompare
	byCol map[string]*colCompare // collection path → its comparison
	// unknown counts objects known from the state record alone, whose
	// content cannot be compared.
	unknown int
	// of maps an expected item (folder, NUL, sourceId) to its collection.
	of map[string]*colCompare
}

// colCompare is one target collection's comparison.
type colCompare struct {
	col  *collection
	f    *compare.Folder
	want map[string]compare.Item // object key (objectKey) → expected
	// have maps an object key to the target's hrefs holding it.
	have    map[string][]*url.URL
	order   []string // have's keys, as listed
	pending []pendingCheck
}

type pendingCheck struct {
	it   compare.Item
	href *url.URL
	sent []byte
}

// expectedKey is how an expected object is found on the target: its UID,
// or for one without, the resource name the import gives it.
func expectedKey(it compare.Item) string {
	if it.UID != "" {
		return "uid:" + it.UID
	}
	if len(it.SHA256) >= 32 {
		return "href:" + resourceName("mailhaul-"+it.SHA256[:32], it.Kind.Ext())
	}
	return "ref:" + it.Ref
}

// expect resolves each expected item's collection, in the archives' order.
func (c *davCompare) expect(ctx context.Context, ex *compare.Expected) error {
	c.of = map[string]*colCompare{}
	for _, f := range ex.Folders {
		for _, it := range ex.Items[f.Path] {
			fk := format.FolderContacts
			if it.Kind != format.KindContact {
				fk = format.FolderCalendar
			}
			if f.Kind != "" && f.Kind != fk {
				continue // the other kind's folder of the same path
			}
			if f.Kind == "" {
				f.Kind = fk
			}
			k := expectedKey(it)
			uid := it.UID
			if uid == "" && len(it.SHA256) >= 32 {
				uid = "mailhaul-" + it.SHA256[:32]
			}
			col, err := c.im.cols.forItem(ctx, f, it.Kind, resourceName(uid, it.Kind.Ext()))
			if err != nil {
				return err
			}
			cc := c.byCol[col.URL.Path]
			if cc == nil {
				cc = &colCompare{col: col, f: &compare.Folder{Target: davclient.Redact(col.URL), Absent: col.Planned},
					want: map[string]compare.Item{}, have: map[string][]*url.URL{}}
				c.byCol[col.URL.Path] = cc
				c.cols = append(c.cols, cc)
			}
			if len(cc.f.Source) == 0 || cc.f.Source[len(cc.f.Source)-1] != f.Path {
				cc.f.Source = append(cc.f.Source, f.Path)
			}
			cc.want[k] = it
			if !it.Known() {
				c.unknown++
			}
			cc.f.SourceCount++
			cc.f.SourceBytes += it.Size
			c.of[f.Path+"\x00"+it.Ref] = cc
		}
	}
	return nil
}

// list reads a collection's objects, compareBatch at a time, keeping each
// one's key and href.
func (c *davCompare) list(ctx context.Context, cc *colCompare) error {
	if cc.col.Planned {
		return nil // not on the target
	}
	_, members, err := c.im.c.ListETags(ctx, cc.col.URL)
	if err != nil {
		return fmt.Errorf("dav: list %s: %w", davclient.Redact(cc.col.URL), err)
	}
	var hrefs []*url.URL
	read := func() error {
		err := c.im.c.MultigetEach(ctx, cc.col.URL, cc.col.Kind == format.FolderContacts, hrefs, func(o davclient.Object) error {
			if o.Data == nil {
				return nil // gone since the listing
			}
			k := "uid:" + objectUID(o.Data)
			if k == "uid:" {
				k = "href:" + davclient.LastSegment(o.Href)
			}
			if _, ok := cc.have[k]; !ok {
				cc.order = append(cc.order, k)
			}
			cc.have[k] = append(cc.have[k], o.Href)
			cc.f.TargetCount++
			cc.f.TargetBytes += int64(len(o.Data))
			return nil
		})
		hrefs = hrefs[:0]
		if err != nil {
			return fmt.Errorf("dav: read %s: %w", davclient.Redact(cc.col.URL), err)
		}
		return nil
	}
	for name := range members {
		hrefs = append(hrefs, cc.col.URL.ResolveReference(&url.URL{Path: name}))
		if len(hrefs) == compareBatch {
			if err := read(); err != nil {
				return err
			}
		}
	}
	if len(hrefs) > 0 {
		return read()
	}
	return nil
}

// content queues an expected object's bytes, as the import sends them,
// for comparison with the target's object of its key.
func (c *davCompare) content(folder string, it compare.Item, body io.Reader) error {
	cc := c.of[folder+"\x00"+it.Ref]
	if cc == nil {
		return nil
	}
	hrefs := cc.have[expectedKey(it)]
	if len(hrefs) == 0 {
		return nil // missing: listed by finish
	}
	b, err := io.ReadAll(io.LimitReader(body, maxObject+1))
	if err != nil {
		return nil // damaged in the archive: the import failed it too
	}
	sent, _ := c.im.asSent(c.ctx, format.Item{Kind: it.Kind, Folder: folder, UID: it.UID, SourceID: it.Ref}, b)
	cc.pending = append(cc.pending, pendingCheck{it: it, href: hrefs[0], sent: sent})
	if len(cc.pending) >= compareBatch {
		return c.flush(c.ctx, cc)
	}
	return nil
}

// flush compares the queued objects with the target's.
func (c *davCompare) flush(ctx context.Context, cc *colCompare) error {
	if len(cc.pending) == 0 {
		return nil
	}
	hrefs := make([]*url.URL, len(cc.pending))
	for i, p := range cc.pending {
		hrefs[i] = p.href
	}
	got, err := c.im.c.Multiget(ctx, cc.col.URL, cc.col.Kind == format.FolderContacts, hrefs)
	if err != nil {
		return fmt.Errorf("dav: read %s: %w", davclient.Redact(cc.col.URL), err)
	}
	for _, p := range cc.pending {
		obj, ok := got[davclient.HrefKey(p.href)]
		if !ok {
			cc.f.Content = append(cc.f.Content, compare.Difference{Ref: p.it.Ref, Reason: "listed on the target but not returned when read"})
			continue
		}
		if same, diff, _ := sameAsSent(obj.Data, p.sent); !same {
			what := "its content lines differ"
			if len(diff) > 0 {
				what = describeDiff(diff)
			}
			cc.f.Content = append(cc.f.Content, compare.Difference{Ref: p.it.Ref, Reason: "UID " + p.it.UID + ": " + what})
		}
	}
	cc.pending = cc.pending[:0]
	return nil
}

// finish lists what is missing, duplicated and extra.
func (c *davCompare) finish(cc *colCompare) {
	for k, it := range cc.want {
		hrefs := cc.have[k]
		switch {
		case len(hrefs) == 0:
			cc.f.Missing = append(cc.f.Missing, compare.Difference{Ref: it.Ref, Reason: "UID " + it.UID})
		case len(hrefs) > 1:
			cc.f.Duplicates = append(cc.f.Duplicates, compare.Difference{Ref: it.Ref, Copies: len(hrefs) - 1, Reason: "UID " + it.UID})
		}
	}
	for _, k := range cc.order {
		if _, ok := cc.want[k]; ok {
			continue
		}
		for _, h := range cc.have[k] {
			cc.f.Extra = append(cc.f.Extra, compare.Difference{Ref: davclient.LastSegment(h), Reason: strings.Replace(strings.Replace(k, "uid:", "UID ", 1), "href:", "", 1)})
		}
	}
	sortDiffs(cc.f.Missing)
	sortDiffs(cc.f.Duplicates)
}

func sortDiffs(ds []compare.Difference) {
	slices.SortFunc(ds, func(a, b compare.Difference) int { return strings.Compare(a.Ref, b.Ref) })
}
