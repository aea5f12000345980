package trace

import (
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// HTTP returns next traced: each request (each try, when under a retrying
// transport) is shown by method, URL, headers and the size of its body,
// the answer by status, headers and size. Bodies are never shown: they
// are messages, contacts, or SOAP requests carrying passwords and tokens;
// what a body asks for is named by the caller (WithRequest). The
// connection an exchange went over is named by its local address, so
// that the exchanges of one connection can be told apart from another's.
func HTTP(next http.RoundTripper) http.RoundTripper { return &transport{next: next} }

type transport struct{ next http.RoundTripper }

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !Enabled() {
		return t.next.RoundTrip(req)
	}
	ctx := req.Context()
	l := label(ctx, "http", req.URL.Host)
	line := req.Method + " " + redactURL(req.URL) + " " + req.Proto
	if what := fromCtx(ctx, requestKey); what != "" {
		line += " (" + what + ")"
	}
	emit(l, "C:", line)
	headers(l, "C:", req.Header)
	emit(l, "C:", "(body of "+size(req.ContentLength)+" not shown)")
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(c httptrace.GotConnInfo) {
			how := "new"
			if c.Reused {
				how = "reused"
			}
			emit(l, "C:", "(connection from "+c.Conn.LocalAddr().String()+", "+how+")")
		},
	}))
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
