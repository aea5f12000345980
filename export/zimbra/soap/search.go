package soap

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Hit is one item of the mailbox as SearchRequest lists it: what a
// delta's state record needs (its folder, flags and tags), without the
// item's data.
type Hit struct {
	Type   string // the element: "m" (message), "cn" (contact), "appt", "task"
	ID     int
	Folder int    // l: the folder's id
	Flags  string // f: Zimbra's flag letters ("u" unread, "f" flagged, "r" replied...)
	// TagNames is tn: the tag names joined by ',', each ',' and '\'
	// escaped by '\' (TagUtil.encodeTags; tgz.SplitTags reads it).
	TagNames string
	Size     int64     // s: bytes
	Date     time.Time // d: a message's received time, another item's last change
	UID      string    // an appointment's or task's iCalendar UID (uid)
}

// HitTypes are the item types Items asks for.
const HitTypes = "message,contact,appointment,task"

// maxHitPage is Zimbra's own cap of a SearchRequest's limit (1000): a
// larger limit is cut to it, and paging by offset must step by what was
// asked.
const maxHitPage = 1000

type hitJSON struct {
	ID  value `json:"id"`
	L   value `json:"l"`
	F   value `json:"f"`
	TN  value `json:"tn"`
	S   value `json:"s"`
	D   value `json:"d"`
	UID value `json:"uid"`
}

// Items lists every message, contact, appointment and task of a's
// mailbox, Trash and Junk included (is:anywhere), oldest first, in pages
// of page hits (SearchRequest limit/offset, until its more is false; 0:
// the client's PageSize, at most Zimbra's 1000), and calls fn with each.
// Only one page is held at a time, and each answer is bounded as every
// SOAP answer is; a page that breaks is asked again, and one that still
// fails ends Items with its error: the caller never gets a listing that
// stops early without a word. Items ordered by date shift only when an
// item is deleted while the pages are read (new mail comes last, a move
// keeps the date), so a caller that must not miss an item checks the
// folder counts (Folders) around it.
func (c *Client) Items(ctx context.Context, a Account, page int, fn func(Hit) error) error {
	if page <= 0 {
		page = c.cfg.PageSize
	}
	page = min(page, maxHitPage)
	// A server that says more for ever is stopped: no mailbox holds
	// 100 million items.
	for offset := 0; offset < 100_000_000; offset += page {
		var r struct {
			More value     `json:"more"`
			M    []hitJSON `json:"m"`
			Cn   []hitJSON `json:"cn"`
			Appt []hitJSON `json:"appt"`
			Task []hitJSON `json:"task"`
		}
		req := map[string]any{"types": HitTypes, "query": "is:anywhere", "sortBy": "dateAsc",
			"limit": page, "offset": offset}
		if err := c.userCall(ctx, a, "SearchRequest", "urn:zimbraMail", req, &r); err != nil {
			return err
		}
		n := 0
		for _, g := range []struct {
			typ  string
			hits []hitJSON
		}{{"m", r.M}, {"cn", r.Cn}, {"appt", r.Appt}, {"task", r.Task}} {
			for _, h := range g.hits {
				n++
				if q, _, ok := strings.Cut(string(h.ID), ":"); ok && a.ID != "" && q != a.ID {
					continue // another account's item, in a mountpoint: not this mailbox's
				}
				hit, err := h.hit(g.typ)
				if err != nil {
					return fmt.Errorf("zimbra: SearchRequest for %s (offset %d): %w", a.Name, offset, err)
				}
				if err := fn(hit); err != nil {
					return err
				}
			}
		}
		more := string(r.More) == "true" || string(r.More) == "1"
		switch {
		case !more:
			return nil
		case n < page:
			// Paging by offset steps by the page asked: a short page
			// that says more would skip what it left out.
			return fmt.Errorf("zimbra: SearchRequest for %s (offset %d): %d items of %d asked, and more to come: the listing would miss some",
				a.Name, offset, n, page)
		}
	}
	return fmt.Errorf("zimbra: SearchRequest for %s: the server says there is more after 100 million items", a.Name)
}

func (h hitJSON) hit(typ string) (Hit, error) {
	id, err := strconv.Atoi(localID(h.ID))
	if err != nil || id <= 0 {
		return Hit{}, fmt.Errorf("%s with id %q", typ, h.ID)
	}
	folder, err := strconv.Atoi(localID(h.L))
	if err != nil || folder <= 0 {
		return Hit{}, fmt.Errorf("%s %d in folder %q", typ, id, h.L)
	}
	out := Hit{Type: typ, ID: id, Folder: folder, Flags: string(h.F), TagNames: string(h.TN),
		Size: h.S.int64(), UID: string(h.UID)}
	if ms := h.D.int64(); ms > 0 {
		out.Date = time.UnixMilli(ms).UTC()
	}
	return out, nil
}
