package dav

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/report"
)

// client sends requests to one DAV server: it adds credentials, never
// follows redirects (Go's client would turn a redirected PROPFIND into a
// GET; discovery follows them itself), and retries overloads and dropped
// connections. It implements webdav.HTTPClient for go-webdav's reads.
type client struct {
	hc   *http.Client
	auth func(*http.Request)
	// trusted are the sites that get the credentials (trust.go).
	trusted map[string]bool
	// refused is a .well-known redirect discovery did not follow, because
	// it leads to another site; errors mention it.
	refused *url.URL
	// allowPlaintext lets credentials go over http:// off loopback.
	allowPlaintext bool
	retry          RetryPolicy
	notify         func(format string, args ...any) // throttling notes; may be nil
	sleep          func(ctx context.Context, d time.Duration) error
}

func newClient(hc *http.Client, user, password, token string, concurrency int, policy RetryPolicy) *client {
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		// One kept-alive connection per worker, plus discovery's.
		tr.MaxIdleConnsPerHost = concurrency + 2
		hc = &http.Client{Transport: tr}
	}
	own := *hc
	own.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c := &client{hc: &own, retry: policy.withDefaults(), sleep: retry.Sleep}
	switch {
	case token != "":
		c.auth = func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
	case user != "" || password != "":
		c.auth = func(r *http.Request) { r.SetBasicAuth(user, password) }
	default:
		c.auth = func(*http.Request) {}
	}
	return c
}

// Do sends req with credentials, retrying as the policy allows. A request
// with a body is retried only if it can be replayed (GetBody).
func (c *client) Do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	for attempt := 1; ; attempt++ {
		r := req
		if attempt > 1 {
			r = req.Clone(ctx)
			if req.Body != nil && req.Body != http.NoBody {
				if req.GetBody == nil {
					return nil, fmt.Errorf("dav: %s %s: cannot replay the request body", req.Method, redact(req.URL))
				}
				b, err := req.GetBody()
				if err != nil {
					return nil, fmt.Errorf("dav: %s %s: %w", req.Method, redact(req.URL), err)
				}
				r.Body = b
			}
		}
		if c.trusts(r.URL) {
			c.auth(r)
		}
		resp, err := c.hc.Do(r)
		last := attempt >= c.retry.Attempts
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil && permanent(err):
			if ue, ok := err.(*url.Error); ok {
				err = ue.Err // the method and URL follow once, below
			}
			why := "the server's certificate is not trusted here; if the address is right, give its CA certificate with --tls-ca"
			if report.NotTLS(err) {
				why = "the server does not speak TLS there: check the scheme and port of --url"
			}
			return nil, fmt.Errorf("dav: %s %s: %w (%s)", req.Method, redact(req.URL), err, why)
		case err != nil:
			if last {
				return nil, fmt.Errorf("dav: %s %s: %w (after %d tries)", req.Method, redact(req.URL), err, attempt)
			}
			if err := c.pause(ctx, attempt, nil, req, "connection failed: "+err.Error()); err != nil {
				return nil, err
			}
		case retryable(resp.StatusCode) && !last:
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if err := c.pause(ctx, attempt, resp.Header, req, resp.Status); err != nil {
				return nil, err
			}
		default:
			return resp, nil
		}
	}
}

func (c *client) pause(ctx context.Context, attempt int, h http.Header, req *http.Request, why string) error {
	d := c.retry.wait(attempt, h, time.Now())
	if c.notify != nil {
		c.notify("%s %s: %s; retrying in %s", req.Method, redact(req.URL), why, d.Round(time.Millisecond))
	}
	return c.sleep(ctx, d)
}

// answer is a response read into memory: DAV answers and objects are
// small, and a bounded read keeps a hostile server from exhausting memory.
type answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// maxAnswer bounds a response body read into memory.
const maxAnswer = 128 << 20

// send makes one request with body (nil for none) and reads the answer.
func (c *client) send(ctx context.Context, method, target string, header http.Header, body []byte) (*answer, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("dav: %s %s: %w", method, target, err)
	}
	return c.exchange(req, header)
}

// sendSection is send with a body read from a file section (a spooled
// bulk upload), so that it need not be held in memory; it is re-read
// from the start when the request is retried.
func (c *client) sendSection(ctx context.Context, method, target string, header http.Header, body *io.SectionReader) (*answer, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, io.NewSectionReader(body, 0, body.Size()))
	if err != nil {
		return nil, fmt.Errorf("dav: %s %s: %w", method, target, err)
	}
	req.ContentLength = body.Size() // Radicale reads Content-Length only, never a chunked body
	req.GetBody = func() (io.ReadCloser, error) {
		return io.NopCloser(io.NewSectionReader(body, 0, body.Size())), nil
	}
	return c.exchange(req, header)
}

// exchange sends req with header added and reads the answer.
func (c *client) exchange(req *http.Request, header http.Header) (*answer, error) {
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err == nil && len(b) > maxAnswer {
		err = errors.New("answer larger than 128 MiB")
	}
	if err != nil {
		return nil, fmt.Errorf("dav: %s %s: read answer: %w", req.Method, redact(req.URL), err)
	}
	return &answer{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// redact drops any credentials from a URL before it is logged.
func redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	if u.User == nil {
		return u.String()
	}
	v := *u
	v.User = nil
	return v.String()
}

// serverSays is the server's answer in a line for reports: status and
// up to 300 bytes of its body, whitespace runs made one space and other
// control characters escaped (\x1b), so that an answer printed on a
// terminal cannot erase or forge lines.
func (a *answer) serverSays() string {
	s := fmt.Sprintf("%d %s", a.Status, http.StatusText(a.Status))
	body := strings.Join(strings.Fields(strings.ToValidUTF8(string(a.Body), "\uFFFD")), " ")
	var b strings.Builder
	for _, r := range body {
		if b.Len() >= 300 {
			b.WriteString("...")
			break
		}
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	if b.Len() > 0 {
		s += ": " + b.String()
	}
	return s
}
