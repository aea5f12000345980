package dav

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"sort"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/davclient"
)

// planLine is what a dry run would do with the items of one kind from
// one archive folder.
type planLine struct {
	res     *resolution
	send    int   // objects that would be sent
	bytes   int64 // their bytes
	present int   // objects the target or the journal already has
	clash   int   // objects whose UID the target holds with other content
	hrefs   map[string]bool
}

// dryRun settles an object without sending it: to be sent when the
// collection lacks its href; otherwise compared with what is there.
func (im *session) dryRun(ctx context.Context, jb job) {
	if p, ok := im.previous(jb); ok {
		im.dryUpdate(ctx, jb, p)
		return
	}
	im.mu.Lock()
	pl := im.planFor(jb)
	if pl.hrefs == nil && !jb.col.Planned {
		im.mu.Unlock()
		hrefs, err := im.c.listHrefs(ctx, jb.col.URL)
		if err != nil {
			im.rep.Note("dry run: could not list %s: %v", davclient.Redact(jb.col.URL), err)
		}
		im.mu.Lock()
		pl.hrefs = hrefs
	}
	have := pl.hrefs[path.Base(jb.href.Path)]
	im.mu.Unlock()
	defer im.progress()
	if have {
		// Compared with the archive's object in a batch (check.go): the
		// same is present, another is sent with --update and a conflict
		// without, as the real run will do.
		im.queueCheck(check{jb: jb, href: jb.href, dry: true})
		return
	}
	im.planned(jb, true)
	im.rep.AddImported(int64(len(jb.body)))
}

// dryUpdate predicts a delta's edit of an object mailhaul placed: the
// real run replaces it if the target still holds mailhaul's version (the
// ETag recorded), or with --prefer source; otherwise it is a conflict.
func (im *session) dryUpdate(ctx context.Context, jb job, p placedObject) {
	defer im.progress()
	im.planned(jb, true)
	a, err := im.c.Send(ctx, http.MethodGet, jb.href.String(), nil, nil)
	if err != nil {
		im.failed(jb, err.Error())
		return
	}
	if a.Status/100 == 2 {
		if same, _, _ := sameAsSent(a.Body, jb.body); same {
			im.rep.AddPresent()
			return
		}
	}
	if im.opt.PreferSource || (a.Status/100 == 2 && strongETag(p.etag) != "" && a.Header.Get("ETag") == p.etag) {
		im.rep.AddUpdatedItem()
		return
	}
	im.conflict(jb, "it was changed on the target after mailhaul put it there; the edit made at the source would not be applied (--prefer source applies it)")
}

// planFor is the plan line of jb's folder and kind; im.mu is held.
func (im *session) planFor(jb job) *planLine {
	res := im.cols.resolution(jb.item.Kind, jb.item.Folder)
	if res == nil { // not resolved through forItem: cannot happen, but keep a line
		res = &resolution{col: jb.col, from: jb.item.Folder, kind: jb.item.Kind}
	}
	pl := im.plan[res]
	if pl == nil {
		pl = &planLine{res: res}
		im.plan[res] = pl
	}
	return pl
}

func (im *session) planned(jb job, send bool) {
	if !im.req.DryRun {
		return
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	if send {
		pl := im.planFor(jb)
		pl.send++
		pl.bytes += int64(len(jb.body))
	} else {
		im.planFor(jb).present++
	}
}

func (im *session) plannedClash(jb job) {
	im.mu.Lock()
	im.planFor(jb).clash++
	im.mu.Unlock()
}

// planValue is the dry run's plan: a folder for each archive folder and
// kind, naming the target collection (its URL), whether it would be
// created, and the counts; the note gives its display name, why it was
// chosen, and the objects held there with other content.
func (im *session) planValue() *importer.Plan {
	lines := make([]*planLine, 0, len(im.plan))
	for _, pl := range im.plan {
		lines = append(lines, pl)
	}
	sort.Slice(lines, func(i, j int) bool {
		a, b := lines[i].res, lines[j].res
		if a.from != b.from {
			return a.from < b.from
		}
		return a.kind < b.kind
	})
	p := &importer.Plan{Folders: []importer.PlanFolder{}}
	for _, pl := range lines {
		r := pl.res
		kind := "contacts"
		switch r.kind {
		case format.KindEvent:
			kind = "events"
		case format.KindTask:
			kind = "tasks"
		}
		note := fmt.Sprintf("%s %q", kindWord(r.col.Kind), r.col.Name)
		if r.how != "" {
			note += " (" + r.how + ")"
		}
		if pl.clash > 0 {
			note += fmt.Sprintf("; %d held there with other content (see the failures)", pl.clash)
		}
		p.Folders = append(p.Folders, importer.PlanFolder{Source: r.from, Target: davclient.Redact(r.col.URL), Kind: kind,
			Create: r.col.Planned, Items: pl.send, Bytes: pl.bytes, Present: pl.present, Note: note})
	}
	return p
}

// listHrefs returns the names of the resources in a collection.
func (c *client) listHrefs(ctx context.Context, col *url.URL) (map[string]bool, error) {
	_, members, err := c.ListETags(ctx, col)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(members))
	for name := range members {
		out[name] = true
	}
	return out, nil
}
