package davclient

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/caldav"
	"github.com/emersion/go-webdav/carddav"
)

// Homes are the collections under which a user's address books and
// calendars live.
type Homes struct {
	AddressBooks *url.URL // nil when the server offers no CardDAV
	Calendars    *url.URL // nil when the server offers no CalDAV
}

// Discover finds the home sets: an explicit URL wins; otherwise
// .well-known/{carddav,caldav} (RFC 6764), whose redirect is followed here
// because Go's client would turn the PROPFIND into a GET, then the
// current-user-principal and its home-set property.
func (c *Client) Discover(ctx context.Context, base *url.URL, cardURL, calURL string) (Homes, error) {
	var h Homes
	var err error
	if cardURL != "" {
		if h.AddressBooks, err = ParseDir(cardURL); err != nil {
			return h, err
		}
	} else if base != nil {
		h.AddressBooks, err = c.findHome(ctx, base, "carddav")
		if err != nil {
			return h, err
		}
	}
	if calURL != "" {
		if h.Calendars, err = ParseDir(calURL); err != nil {
			return h, err
		}
	} else if base != nil {
		h.Calendars, err = c.findHome(ctx, base, "caldav")
		if err != nil {
			return h, err
		}
	}
	if h.AddressBooks == nil && h.Calendars == nil {
		return h, fmt.Errorf("dav: no CardDAV or CalDAV service found (give --url, --carddav or --caldav)")
	}
	return h, nil
}

// ParseDir parses a collection URL, making sure it ends in a slash so that
// relative references resolve inside it.
func ParseDir(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("dav: %q is not an http(s) URL", s)
	}
	if u.User != nil {
		return nil, fmt.Errorf("dav: put credentials in --user and --password-file, not in the URL %s", Redact(u))
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

// findHome returns the home set of service ("carddav" or "caldav"), or nil
// when the server has none.
func (c *Client) findHome(ctx context.Context, base *url.URL, service string) (*url.URL, error) {
	start, err := c.contextPath(ctx, base, service)
	if err != nil {
		return nil, fmt.Errorf("dav: %s discovery: %w", service, err)
	}
	wc, err := webdav.NewClient(c, start.String())
	if err != nil {
		return nil, fmt.Errorf("dav: %w", err)
	}
	principal, err := wc.FindCurrentUserPrincipal(ctx)
	if err != nil && start.String() != base.String() {
		// The well-known answer pointed somewhere unhelpful: RFC 6764
		// suggests trying the service root itself.
		start = base
		wc, _ = webdav.NewClient(c, base.String())
		principal, err = wc.FindCurrentUserPrincipal(ctx)
	}
	if err != nil {
		err = fmt.Errorf("dav: %s discovery at %s: find the current user principal: %w", service, Redact(start), err)
		c.mu.Lock()
		if c.unauthorized {
			err = markAuth(http.StatusUnauthorized, err)
		}
		c.mu.Unlock()
		if refused := c.refusedRedirect(); refused != nil {
			err = fmt.Errorf("%w (its /.well-known/%s redirects to %s, which does not get the credentials: another site, or http:// off loopback; if you trust it, give that address with --%s)",
				err, service, Redact(refused), service)
		}
		return nil, err
	}
	var home string
	switch service {
	case "carddav":
		cc, _ := carddav.NewClient(c, start.String())
		home, err = cc.FindAddressBookHomeSet(ctx, principal)
	default:
		cc, _ := caldav.NewClient(c, start.String())
		home, err = cc.FindCalendarHomeSet(ctx, principal)
	}
	if err != nil || home == "" {
		// A server that has only one of the two services answers the
		// other's home-set property with 404.
		return nil, nil
	}
	return ParseDir(start.ResolveReference(&url.URL{Path: home}).String())
}

// contextPath follows /.well-known/<service> redirects (up to five) and
// returns where discovery should start: the redirect target, or base when
// the server has no well-known entry. The error is set only when asking
// the base again could not help either (an untrusted certificate).
func (c *Client) contextPath(ctx context.Context, base *url.URL, service string) (*url.URL, error) {
	target := base.ResolveReference(&url.URL{Path: "/.well-known/" + service})
	body := []byte(`<?xml version="1.0" encoding="utf-8"?><propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>`)
	hdr := http.Header{"Content-Type": {"application/xml; charset=utf-8"}, "Depth": {"0"}}
	for range 5 {
		a, err := c.Send(ctx, "PROPFIND", target.String(), hdr, body)
		if err != nil {
			if Permanent(err) {
				return nil, err
			}
			return base, nil
		}
		switch {
		case a.Status >= 300 && a.Status < 400:
			loc, err := target.Parse(a.Header.Get("Location"))
			if err != nil || a.Header.Get("Location") == "" {
				return base, nil
			}
			if !c.Trusts(loc) {
				// Every request carries the password or token: never
				// send it to another site, nor from https to http
				// (the scheme is part of the site), nor over http off
				// loopback unless allowed (trust.go).
				c.mu.Lock()
				c.refused = loc
				c.mu.Unlock()
				return base, nil
			}
			target = loc
		case a.Status == http.StatusMultiStatus:
			return target, nil
		default:
			return base, nil
		}
	}
	return base, nil
}

// refusedRedirect is the last .well-known redirect not followed.
func (c *Client) refusedRedirect() *url.URL {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refused
}
