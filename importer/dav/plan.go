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
)

// planLine is what a dry run would do with one collection.
type planLine struct {
	col     *collection
	send    int // objects that would be sent
	present int // objects the target or the journal already has
	clash   int // objects whose UID the target holds with other content
	hrefs   map[string]bool
}

// dryRun settles an object without sending it: to be sent when the
// collection lacks its href; otherwise compared with what is there.
func (im *importer) dryRun(ctx context.Context, jb job) {
	im.mu.Lock()
	pl := im.planFor(jb.col)
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
	im.planned(jb.col, true)
	im.rep.AddImported(int64(len(jb.body)))
}

func (im *importer) planFor(col *collection) *planLine {
	pl := im.plan[col]
	if pl == nil {
		pl = &planLine{col: col}
		im.plan[col] = pl
	}
	return pl
}

func (im *importer) planned(col *collection, send bool) {
	if !im.opt.DryRun {
		return
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	if send {
		im.planFor(col).send++
	} else {
		im.planFor(col).present++
	}
}

func (im *importer) plannedClash(col *collection) {
	im.mu.Lock()
	im.planFor(col).clash++
	im.mu.Unlock()
}

func (im *importer) writePlan() {
	if im.opt.Plan == nil {
		return
	}
	lines := make([]*planLine, 0, len(im.plan))
	for _, pl := range im.plan {
		lines = append(lines, pl)
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i].col.URL.String() < lines[j].col.URL.String() })
	for _, pl := range lines {
		what := "calendar"
		if pl.col.Kind == "contacts" {
			what = "address book"
		}
		verb := "use existing"
		if pl.col.Planned {
			verb = "create"
		}
		clash := ""
		if pl.clash > 0 {
			clash = fmt.Sprintf(", %d held there with other content (see the failures)", pl.clash)
		}
		fmt.Fprintf(im.opt.Plan, "%s %s %q at %s: %d to send, %d already there%s\n",
			verb, what, pl.col.Name, redact(pl.col.URL), pl.send, pl.present, clash)
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
