package davclient

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/mailhaul/mailhaul/internal/loopback"
)

// Credentials go only to the sites the user named (Trust: --url,
// --carddav, --caldav), over the scheme named there. A site is a
// registrable domain: a .well-known redirect from example.org to
// contacts.example.org keeps them (iCloud's p42-contacts.icloud.com for
// icloud.com), one to example.net does not, and neither does a home set a
// server reports on another site. An IP address or a single-label name is
// its own site, port included. Over http:// they go only to loopback,
// unless the user allowed plaintext: a discovered or redirected http://
// address elsewhere gets none.

// Site names the site of u: scheme and registrable domain.
func Site(u *url.URL) string {
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

// Trust adds u's site to those that get the credentials.
func (c *Client) Trust(u *url.URL) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.trusted == nil {
		c.trusted = map[string]bool{}
	}
	c.trusted[Site(u)] = true
}

// Trusts reports whether u's site gets the credentials.
func (c *Client) Trusts(u *url.URL) bool {
	c.mu.Lock()
	trusted := c.trusted[Site(u)]
	c.mu.Unlock()
	return trusted && (u.Scheme == "https" || c.allowPlaintext || loopback.IsHost(u.Hostname()))
}

// CheckPlaintext refuses a URL the user named that would carry the
// credentials in clear: http:// to a host other than loopback, unless
// plaintext is allowed. import imap applies the same rule to imap://.
func CheckPlaintext(raw string, allow bool) error {
	u, err := url.Parse(raw)
	if raw == "" || err != nil || allow || u.Scheme != "http" || loopback.IsHost(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("dav: %s would send the password in clear (http:// to a host other than loopback); use https://, or --allow-plaintext on a network you trust", Redact(u))
}
