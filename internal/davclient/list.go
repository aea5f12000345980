package davclient

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/emersion/go-webdav/caldav"
	"github.com/emersion/go-webdav/carddav"
)

// Collection is an address book or calendar in a home set.
type Collection struct {
	URL     *url.URL // ends in "/"
	Name    string   // display name
	MaxSize int64    // max-resource-size; 0: none given
	// Components are the calendar's supported components (VEVENT,
	// VTODO); none given: any.
	Components []string
}

// AddressBooks lists the address books in the home set home.
func (c *Client) AddressBooks(ctx context.Context, home *url.URL) ([]Collection, error) {
	cc, err := carddav.NewClient(c, home.String())
	if err != nil {
		return nil, fmt.Errorf("dav: %w", err)
	}
	abs, err := cc.FindAddressBooks(ctx, home.Path)
	if err != nil {
		return nil, fmt.Errorf("dav: list address books in %s: %w", Redact(home), err)
	}
	out := make([]Collection, 0, len(abs))
	for _, ab := range abs {
		out = append(out, Collection{URL: home.ResolveReference(&url.URL{Path: dirPath(ab.Path)}), Name: ab.Name, MaxSize: ab.MaxResourceSize})
	}
	return out, nil
}

// Calendars lists the calendars in the home set home.
func (c *Client) Calendars(ctx context.Context, home *url.URL) ([]Collection, error) {
	cc, err := caldav.NewClient(c, home.String())
	if err != nil {
		return nil, fmt.Errorf("dav: %w", err)
	}
	cals, err := cc.FindCalendars(ctx, home.Path)
	if err != nil {
		return nil, fmt.Errorf("dav: list calendars in %s: %w", Redact(home), err)
	}
	out := make([]Collection, 0, len(cals))
	for _, cal := range cals {
		out = append(out, Collection{URL: home.ResolveReference(&url.URL{Path: dirPath(cal.Path)}), Name: cal.Name,
			MaxSize: cal.MaxResourceSize, Components: cal.SupportedComponentSet})
	}
	return out, nil
}

func dirPath(p string) string {
	if !strings.HasSuffix(p, "/") {
		return p + "/"
	}
	return p
}

// ListETags lists a collection with a Depth 1 PROPFIND asking only for
// ETags, which every server answers: the collection's own ETag ("" when
// it has none) and each member's name with its ETag.
func (c *Client) ListETags(ctx context.Context, col *url.URL) (self string, members map[string]string, err error) {
	body := []byte(`<?xml version="1.0" encoding="utf-8"?><propfind xmlns="DAV:"><prop><getetag/></prop></propfind>`)
	a, err := c.Send(ctx, "PROPFIND", col.String(), http.Header{"Depth": {"1"}, "Content-Type": {"application/xml; charset=utf-8"}}, body)
	if err != nil {
		return "", nil, err
	}
	if a.Status != http.StatusMultiStatus {
		return "", nil, fmt.Errorf("PROPFIND answered %s", a.ServerSays())
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
