package davclient

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// CollectionInfo is a collection in a home set as a source reads it:
// what it is and the properties worth keeping.
type CollectionInfo struct {
	URL *url.URL // ends in "/"
	// Types are the local names of its resourcetype: "collection",
	// "addressbook", "calendar", "schedule-inbox", "schedule-outbox",
	// "shared", "shared-owner", "subscribed" (CalendarServer's), ...
	Types       []string
	Name        string // displayname
	Description string // addressbook- or calendar-description
	Color       string // Apple's calendar-color
	// Components are a calendar's supported components (VEVENT, VTODO);
	// none given: any.
	Components []string
	SyncToken  string // RFC 6578 sync-token; "" when the server has none
	CTag       string // CalendarServer's getctag, else the collection's ETag
	// Source is a subscribed calendar's feed (CalendarServer's source).
	Source string
}

// Is reports whether the collection has resource type local.
func (ci CollectionInfo) Is(local string) bool {
	for _, t := range ci.Types {
		if t == local {
			return true
		}
	}
	return false
}

const collectionsBody = `<?xml version="1.0" encoding="utf-8"?>` +
	`<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CR="urn:ietf:params:xml:ns:carddav" xmlns:CS="http://calendarserver.org/ns/" xmlns:A="http://apple.com/ns/ical/">` +
	`<D:prop><D:resourcetype/><D:displayname/><D:getetag/><D:sync-token/><CS:getctag/><CS:source/>` +
	`<C:calendar-description/><CR:addressbook-description/><A:calendar-color/><C:supported-calendar-component-set/></D:prop></D:propfind>`

// Collections lists the collections in the home set home (a Depth 1
// PROPFIND), with their resource types and properties, in the server's
// order; the home itself is left out.
func (c *Client) Collections(ctx context.Context, home *url.URL) ([]CollectionInfo, error) {
	a, err := c.Send(ctx, "PROPFIND", home.String(), http.Header{"Depth": {"1"}, "Content-Type": {"application/xml; charset=utf-8"}}, []byte(collectionsBody))
	if err != nil {
		return nil, err
	}
	if a.Status != http.StatusMultiStatus {
		return nil, markAuth(a.Status, fmt.Errorf("dav: list collections in %s: PROPFIND answered %s", Redact(home), a.ServerSays()))
	}
	type named struct {
		XMLName xml.Name
		Name    string `xml:"name,attr"`
	}
	var ms struct {
		Responses []struct {
			Href      string `xml:"DAV: href"`
			PropStats []struct {
				Types struct {
					Any []named `xml:",any"`
				} `xml:"DAV: prop>resourcetype"`
				Name      string `xml:"DAV: prop>displayname"`
				ETag      string `xml:"DAV: prop>getetag"`
				SyncToken string `xml:"DAV: prop>sync-token"`
				CTag      string `xml:"http://calendarserver.org/ns/ prop>getctag"`
				Source    struct {
					Href string `xml:"DAV: href"`
				} `xml:"http://calendarserver.org/ns/ prop>source"`
				CalDesc    string  `xml:"urn:ietf:params:xml:ns:caldav prop>calendar-description"`
				CardDesc   string  `xml:"urn:ietf:params:xml:ns:carddav prop>addressbook-description"`
				Color      string  `xml:"http://apple.com/ns/ical/ prop>calendar-color"`
				Components []named `xml:"urn:ietf:params:xml:ns:caldav prop>supported-calendar-component-set>comp"`
				Status     string  `xml:"DAV: status"`
			} `xml:"DAV: propstat"`
		} `xml:"DAV: response"`
	}
	if err := xml.Unmarshal(a.Body, &ms); err != nil {
		return nil, fmt.Errorf("dav: list collections in %s: PROPFIND answer: %w", Redact(home), err)
	}
	var out []CollectionInfo
	for _, r := range ms.Responses {
		u, err := home.Parse(strings.TrimSpace(r.Href))
		if err != nil || path.Clean(u.Path) == path.Clean(home.Path) {
			continue
		}
		ci := CollectionInfo{URL: u}
		u.Path = dirPath(u.Path)
		u.RawPath = ""
		etag := ""
		for _, ps := range r.PropStats {
			if ps.Status != "" && !strings.Contains(ps.Status, " 200 ") {
				continue // the properties the collection does not have
			}
			for _, t := range ps.Types.Any {
				ci.Types = append(ci.Types, t.XMLName.Local)
			}
			for _, comp := range ps.Components {
				ci.Components = append(ci.Components, strings.ToUpper(comp.Name))
			}
			ci.Name = firstSet(ci.Name, ps.Name)
			ci.Description = firstSet(ci.Description, ps.CalDesc, ps.CardDesc)
			ci.Color = firstSet(ci.Color, ps.Color)
			ci.SyncToken = firstSet(ci.SyncToken, ps.SyncToken)
			ci.CTag = firstSet(ci.CTag, ps.CTag)
			ci.Source = firstSet(ci.Source, ps.Source.Href)
			etag = firstSet(etag, ps.ETag)
		}
		ci.CTag = firstSet(ci.CTag, etag)
		if !ci.Is("collection") {
			continue // a plain resource beside the collections
		}
		out = append(out, ci)
	}
	return out, nil
}

// firstSet is the first of vs that is not blank, trimmed.
func firstSet(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// Members lists the objects of the collection col, handing each one's
// href and ETag to fn as the answer streams in, so that a collection of
// any size is listed in bounded memory. It asks with an initial
// sync-collection REPORT (RFC 6578), whose sync-token it returns: the
// token of exactly the state listed, for a later delta. A server that
// refuses that REPORT (not the credentials: a 401 is returned, wrapping
// ErrUnauthorized) is listed with a Depth 1 PROPFIND instead, and the
// token is "". So is one whose REPORT lists nothing while the PROPFIND
// finds objects: an empty answer is checked, never taken on trust. An
// error from fn ends the listing and is returned as it is.
func (c *Client) Members(ctx context.Context, col *url.URL, fn func(href *url.URL, etag string) error) (syncToken string, err error) {
	n := 0
	present := func(u *url.URL, etag string, gone bool) error {
		if gone {
			return nil // not in an initial listing
		}
		n++
		return fn(u, etag)
	}
	token, refused, err := c.sync(ctx, col, "", present)
	if err != nil && (!refused || errors.Is(err, ErrUnauthorized)) || n > 0 {
		return token, err
	}
	body := `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getetag/></D:prop></D:propfind>`
	_, _, _, err = c.members(ctx, "PROPFIND", col, "1", body, present)
	if refused || n > 0 {
		token = ""
	}
	return token, err
}

// ErrSyncToken is a sync token the server no longer accepts (RFC 6578
// §3.2, the valid-sync-token precondition): only a full listing helps.
var ErrSyncToken = errors.New("the server no longer accepts the sync token")

// Changes lists what changed in the collection col since token, a sync
// token of an earlier listing (RFC 6578): fn gets each member added or
// changed since, and each one removed (gone), as the answer streams in.
// It returns the new token. A token the server no longer accepts is an
// error wrapping ErrSyncToken.
func (c *Client) Changes(ctx context.Context, col *url.URL, token string, fn func(href *url.URL, etag string, gone bool) error) (string, error) {
	if token == "" {
		return "", errors.New("dav: Changes needs the sync token of an earlier listing")
	}
	next, _, err := c.sync(ctx, col, token, fn)
	return next, err
}

// maxSyncPages bounds the sync-collection requests of one listing.
const maxSyncPages = 100000

// sync lists col with sync-collection REPORTs from token ("" for an
// initial listing). A server may truncate its answer (RFC 6578 §3.6: a
// 507 for the collection itself; Google's CardDAV and SabreDAV with a
// limit do): the token that answer ends with is asked again for the
// rest, until an answer is whole, so that no member is missed and the
// token returned is that of everything listed.
func (c *Client) sync(ctx context.Context, col *url.URL, token string, fn func(href *url.URL, etag string, gone bool) error) (next string, refused bool, err error) {
	for page := 0; ; page++ {
		var b strings.Builder
		b.WriteString(`<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>`)
		xml.EscapeText(&b, []byte(token))
		b.WriteString(`</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`)
		next, refused, truncated, err := c.members(ctx, "REPORT", col, "0", b.String(), fn)
		switch {
		case err != nil:
			return "", refused && page == 0, err
		case !truncated:
			return next, false, nil
		case next == "" || next == token:
			return "", false, fmt.Errorf("dav: list %s: the server truncated its sync-collection answer without a new sync token to ask for the rest", Redact(col))
		case page+1 >= maxSyncPages:
			return "", false, fmt.Errorf("dav: list %s: the server's sync-collection answer is still truncated after %d requests", Redact(col), maxSyncPages)
		}
		token = next
	}
}

// members sends one listing request; refused is set when the server
// answered with an error status before listing anything, truncated when
// it said its answer is not whole (a 507 for the collection itself).
func (c *Client) members(ctx context.Context, method string, col *url.URL, depth, body string, fn func(u *url.URL, etag string, gone bool) error) (token string, refused, truncated bool, err error) {
	req, err := http.NewRequestWithContext(ctx, method, col.String(), strings.NewReader(body))
	if err != nil {
		return "", false, false, fmt.Errorf("dav: %s %s: %w", method, Redact(col), err)
	}
	req.Header.Set("Depth", depth)
	req.Header.Set("Content-Type", "application/xml; charset=utf-8")
	resp, err := c.Do(req)
	if err != nil {
		return "", false, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusMultiStatus {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		err := fmt.Errorf("dav: list %s: %s answered %s", Redact(col), method, (&Answer{Status: resp.StatusCode, Body: b}).ServerSays())
		if bytes.Contains(b, []byte("valid-sync-token")) {
			err = fmt.Errorf("%w: %w", ErrSyncToken, err)
		}
		return "", true, false, markAuth(resp.StatusCode, err)
	}
	var r struct {
		Href      string `xml:"DAV: href"`
		PropStats []struct {
			ETag       string    `xml:"DAV: prop>getetag"`
			Collection *struct{} `xml:"DAV: prop>resourcetype>collection"`
			Status     string    `xml:"DAV: status"`
		} `xml:"DAV: propstat"`
		Status string `xml:"DAV: status"`
	}
	token, err = eachResponse(resp.Body, method, func(dec *xml.Decoder, se *xml.StartElement) error {
		r.Href, r.PropStats, r.Status = "", nil, ""
		if err := dec.DecodeElement(&r, se); err != nil {
			return fmt.Errorf("%s answer: %w", method, err)
		}
		u, err := col.Parse(plain(r.Href))
		if err == nil && path.Clean(u.Path) == path.Clean(col.Path) {
			// The collection itself; a 507 says the answer is cut short.
			truncated = truncated || strings.Contains(r.Status, " 507 ")
			return nil
		}
		if err != nil {
			return nil
		}
		if strings.Contains(r.Status, " 404 ") {
			return fn(u, "", true) // removed (a delta's answer)
		}
		etag := ""
		for _, ps := range r.PropStats {
			if ps.Status != "" && !strings.Contains(ps.Status, " 200 ") {
				continue
			}
			if ps.Collection != nil {
				return nil // a collection inside it: not an object
			}
			etag = firstSet(etag, plain(ps.ETag))
		}
		return fn(u, etag, false)
	})
	if err != nil {
		return "", false, false, err
	}
	return token, false, truncated, nil
}
