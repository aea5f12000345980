package dav

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/mailhaul/mailhaul/format"
)

// planLine is what a dry run would do with the items of one kind from
// one archive folder.
type planLine struct {
	res     *resolution
	send    int // objects that would be sent
	present int // objects the target or the journal already has
	clash   int // objects whose UID the target holds with other content
	hrefs   map[string]bool
}

// dryRun settles an object without sending it: to be sent when the
// collection lacks its href; otherwise compared with what is there.
func (im *importer) dryRun(ctx context.Context, jb job) {
	im.mu.Lock()
	pl := im.planFor(jb)
	if pl.hrefs == nil && !jb.col.Planned {
		im.mu.Unlock()
		hrefs, err := im.c.listHrefs(ctx, jb.col.URL)
		if err != nil {
			im.rep.Note("dry run: could not list %s: %v", redact(jb.col.URL), err)
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

// planFor is the plan line of jb's folder and kind; im.mu is held.
func (im *importer) planFor(jb job) *planLine {
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

func (im *importer) planned(jb job, send bool) {
	if !im.opt.DryRun {
		return
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	if send {
		im.planFor(jb).send++
	} else {
		im.planFor(jb).present++
	}
}

func (im *importer) plannedClash(jb job) {
	im.mu.Lock()
	im.planFor(jb).clash++
	im.mu.Unlock()
}

// writePlan prints a line for each archive folder and kind: which target
// collection it goes to, whether that exists, why it was chosen, and the
// counts.
func (im *importer) writePlan() {
	if im.opt.Plan == nil {
		return
	}
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
	for _, pl := range lines {
		r := pl.res
		from := fmt.Sprintf("%s %q", kindWord(r.col.Kind), r.from)
		if r.kind == format.KindTask {
			from = fmt.Sprintf("tasks of calendar %q", r.from)
		}
		state := "existing"
		if r.col.Planned {
			state = "new"
		}
		how := ""
		if r.how != "" {
			how = " (" + r.how + ")"
		}
		clash := ""
		if pl.clash > 0 {
			clash = fmt.Sprintf(", %d held there with other content (see the failures)", pl.clash)
		}
		fmt.Fprintf(im.opt.Plan, "%s -> %s %q at %s%s: %d to send, %d already there%s\n",
			from, state, r.col.Name, redact(r.col.URL), how, pl.send, pl.present, clash)
	}
}

// listHrefs returns the names of the resources in a collection.
func (c *client) listHrefs(ctx context.Context, col *url.URL) (map[string]bool, error) {
	_, members, err := c.listETags(ctx, col)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(members))
	for name := range members {
		out[name] = true
	}
	return out, nil
}

// listETags lists a collection with a Depth 1 PROPFIND asking only for
// ETags, which every server answers: the collection's own ETag ("" when
// it has none) and each member's name with its ETag.
func (c *client) listETags(ctx context.Context, col *url.URL) (self string, members map[string]string, err error) {
	body := []byte(`<?xml version="1.0" encoding="utf-8"?><propfind xmlns="DAV:"><prop><getetag/></prop></propfind>`)
	a, err := c.send(ctx, "PROPFIND", col.String(), http.Header{"Depth": {"1"}, "Content-Type": {"application/xml; charset=utf-8"}}, body)
	if err != nil {
		return "", nil, err
	}
	if a.Status != http.StatusMultiStatus {
		return "", nil, fmt.Errorf("PROPFIND answered %s", a.serverSays())
	}
	var ms struct {
		Responses []struct {
			Href      string `xml:"DAV: href"`
			PropStats []struct {
				ETag   string `xml:"DAV: prop>getetag"`
				Status string `xml:"DAV: status"`
			} `xml:"DAV: propstat"`
		} `xml:"DAV: response"`
	}
	if err := xml.Unmarshal(a.Body, &ms); err != nil {
		return "", nil, fmt.Errorf("PROPFIND answer: %w", err)
	}
	members = map[string]string{}
	for _, r := range ms.Responses {
		u, err := col.Parse(strings.TrimSpace(r.Href))
		if err != nil {
			continue
		}
		etag := ""
		for _, ps := range r.PropStats {
			if ps.ETag != "" && (ps.Status == "" || strings.Contains(ps.Status, " 200 ")) {
				etag = strings.TrimSpace(ps.ETag)
			}
		}
		if path.Clean(u.Path) == path.Clean(col.Path) {
			self = etag
			continue
		}
		members[path.Base(u.Path)] = etag
	}
	return self, members, nil
}
