package trace

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// HTTP returns next traced: each request (each try, when under a retrying
// transport) is shown by method, URL, headers and the size of its body,
// the answer by status, headers and size. Bodies are never shown: they
// are messages, contacts, or SOAP requests carrying passwords and tokens.
func HTTP(next http.RoundTripper) http.RoundTripper { return &transport{next: next} }

type transport struct{ next http.RoundTripper }

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !Enabled() {
		return t.next.RoundTrip(req)
	}
	l := label("http", req.URL.Host)
	emit(l, "C:", req.Method+" "+redactURL(req.URL)+" "+req.Proto)
	headers(l, "C:", req.Header)
	emit(l, "C:", "(body of "+size(req.ContentLength)+" not shown)")
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		emit(l, "S:", "error: "+err.Error())
		return resp, err
	}
	emit(l, "S:", resp.Proto+" "+resp.Status)
	headers(l, "S:", resp.Header)
	emit(l, "S:", "(body of "+size(resp.ContentLength)+" not shown)")
	return resp, nil
}

func size(n int64) string {
	if n < 0 {
		return "unknown size"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

func headers(l, dir string, h http.Header) {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range h[k] {
			if secretName(k) {
				v = redacted
			}
			emit(l, dir, k+": "+v)
		}
	}
}

// secretName reports whether a header or query parameter of that name can
// carry a credential: Authorization and Cookie headers, tokens, passwords.
func secretName(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"auth", "cookie", "token", "pass", "secret", "key", "sig"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// redactURL hides a URL's password and the values of query parameters
// named like credentials (Zimbra's REST takes ?auth=...).
func redactURL(u *url.URL) string {
	c := *u
	if c.RawQuery != "" {
		q := c.Query()
		for k := range q {
			if secretName(k) {
				q[k] = []string{redacted}
			}
		}
		c.RawQuery = q.Encode()
	}
	return c.Redacted()
}
