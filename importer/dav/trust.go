package dav

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/mailhaul/mailhaul/internal/loopback"
)

// Credentials go only to the sites the user named (--url, --carddav,
// --caldav), over the scheme named there. A site is a registrable domain:
// a .well-known redirect from example.org to contacts.example.org keeps
// them (iCloud's p42-contacts.icloud.com for icloud.com), one to
// example.net does not, and neither does a home set a server reports on
// another site. An IP address or a single-label name is its own site,
// port included. Over http:// they go only to loopback, unless the user
// allowed plaintext (--allow-plaintext): a discovered or redirected
// http:// address elsewhere gets none.

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
func (c *client) trusts(u *url.URL) bool {
	return c.trusted[site(u)] && (u.Scheme == "https" || c.allowPlaintext || loopback.IsHost(u.Hostname()))
}

// checkPlaintext refuses a URL the user named that would carry the
// credentials in clear: http:// to a host other than loopback, unless
// plaintext is allowed. import imap applies the same rule to imap://.
func checkPlaintext(raw string, allow bool) error {
	u, err := url.Parse(raw)
	if raw == "" || err != nil || allow || u.Scheme != "http" || loopback.IsHost(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("dav: %s would send the password in clear (http:// to a host other than loopback); use https://, or --allow-plaintext on a network you trust", redact(u))
}
