package dav

import (
	"net"
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Credentials go only to the sites the user named (--url, --carddav,
// --caldav), over the scheme named there. A site is a registrable domain:
// a .well-known redirect from example.org to contacts.example.org keeps
// them (iCloud's p42-contacts.icloud.com for icloud.com), one to
// example.net does not, and neither does a home set a server reports on
// another site. An IP address or a single-label name is its own site,
// port included.

// site names the site of u: scheme and registrable domain.
func site(u *url.URL) string {
	host := u.Hostname()
	if net.ParseIP(host) != nil || !strings.Contains(host, ".") {
		return u.Scheme + "://" + u.Host
	}
	domain, err := publicsuffix.EffectiveTLDPlusOne(strings.ToLower(host))
	if err != nil {
		domain = strings.ToLower(host)
	}
	return u.Scheme + "://" + domain
}

// trust adds u's site to those that get the credentials.
func (c *client) trust(u *url.URL) {
	if c.trusted == nil {
		c.trusted = map[string]bool{}
	}
	c.trusted[site(u)] = true
}

// trusts reports whether u's site gets the credentials.
func (c *client) trusts(u *url.URL) bool { return c.trusted[site(u)] }
