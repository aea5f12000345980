package davclient

import (
	"context"
	"net/url"
)

// Endpoints are a DAV account's addresses as the user named them: the
// server (discovery starts at its .well-known entries) and the address
// book and calendar homes, each "" when not given.
type Endpoints struct{ URL, CardDAV, CalDAV string }

// Check refuses addresses that would carry the credentials in clear
// (CheckPlaintext) or in the URL, or that are not http(s) URLs
// (ParseDir): before anything is written or sent.
func (e Endpoints) Check(allowPlaintext bool) error {
	for _, raw := range []string{e.URL, e.CardDAV, e.CalDAV} {
		if raw == "" {
			continue
		}
		if _, err := ParseDir(raw); err != nil {
			return err
		}
		if err := CheckPlaintext(raw, allowPlaintext); err != nil {
			return err
		}
	}
	return nil
}

// Connect is how a source and a target reach an account: it refuses an
// address that would carry the credentials in clear (CheckPlaintext) or
// in the URL (ParseDir), makes the client, trusts the sites the user
// named and no other (trust.go), and discovers the homes. base is the
// parsed URL, nil when only homes were given.
func Connect(ctx context.Context, cfg Config, e Endpoints) (c *Client, homes Homes, base *url.URL, err error) {
	if err := e.Check(cfg.AllowPlaintext); err != nil {
		return nil, Homes{}, nil, err
	}
	if e.URL != "" {
		if base, err = ParseDir(e.URL); err != nil {
			return nil, Homes{}, nil, err
		}
	}
	c = New(cfg)
	for _, raw := range []string{e.URL, e.CardDAV, e.CalDAV} {
		if u, err := url.Parse(raw); err == nil && raw != "" {
			c.Trust(u)
		}
	}
	homes, err = c.Discover(ctx, base, e.CardDAV, e.CalDAV)
	if err != nil {
		return nil, Homes{}, nil, err
	}
	return c, homes, base, nil
}
