package davclient

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/internal/trace"
)

// Config says how a Client reaches one DAV account.
type Config struct {
	// User and Password authenticate with HTTP Basic; Token, when set, is
	// sent as a Bearer token instead. None of them is ever logged.
	User, Password, Token string

	// AllowPlaintext lets the credentials go over http:// to a host other
	// than loopback (they travel in clear).
	AllowPlaintext bool

	// RootCAs verify the servers' certificates; nil: the system's.
	RootCAs *x509.CertPool
	// Conns is the number of kept-alive connections per host.
	Conns int
	// Transport replaces the one NewTransport builds from RootCAs and
	// Conns (tests, proxies); the retries are laid over it either way.
	Transport http.RoundTripper

	// Retry bounds the repetition of a request; zero fields take
	// DefaultLoop's.
	Retry retry.Loop
	// Logf hears of each repeated request (throttling, dropped
	// connections); nil: silent.
	Logf func(format string, args ...any)
}

// Client sends requests to one DAV account: it adds the credentials for
// the trusted sites only, never follows redirects (Go's client would turn
// a redirected PROPFIND into a GET; discovery follows them itself), and
// repeats requests through Retrying. It implements webdav.HTTPClient, so
// go-webdav's reads go through it too. It is safe for concurrent use.
type Client struct {
	hc             *http.Client
	auth           func(*http.Request)
	allowPlaintext bool

	mu      sync.Mutex
	trusted map[string]bool // the sites that get the credentials (trust.go)
	// refused is a .well-known redirect discovery did not follow, because
	// it leads to another site; errors mention it.
	refused *url.URL
	// unauthorized: a site that got the credentials answered 401 (go-webdav's
	// errors do not export the status, so discovery marks its error by it).
	unauthorized bool
}

// New makes a client; Trust the sites the user named before use.
func New(cfg Config) *Client {
	base := cfg.Transport
	if base == nil {
		base = NewTransport(cfg.RootCAs, cfg.Conns)
	}
	c := &Client{
		hc: &http.Client{
			Transport:     &Retrying{Next: trace.HTTP(base), Loop: cfg.Retry, Logf: cfg.Logf},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		allowPlaintext: cfg.AllowPlaintext,
	}
	switch {
	case cfg.Token != "":
		c.auth = func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+cfg.Token) }
	case cfg.User != "" || cfg.Password != "":
		c.auth = func(r *http.Request) { r.SetBasicAuth(cfg.User, cfg.Password) }
	default:
		c.auth = func(*http.Request) {}
	}
	return c
}

// Do sends req, with the credentials when its site is trusted.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	if c.Trusts(req.URL) {
		c.auth(req)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx := req.Context(); ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the method and URL follow once, below
		}
		return nil, fmt.Errorf("dav: %s %s: %w", req.Method, Redact(req.URL), err)
	}
	if resp.StatusCode == http.StatusUnauthorized && c.Trusts(req.URL) {
		c.mu.Lock()
		c.unauthorized = true
		c.mu.Unlock()
	}
	return resp, nil
}

// Answer is a response read into memory: DAV answers and objects are
// small, and a bounded read keeps a hostile server from exhausting memory.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// maxAnswer bounds a response body read into memory.
const maxAnswer = 128 << 20

// Send makes one request with body (nil for none) and reads the answer.
func (c *Client) Send(ctx context.Context, method, target string, header http.Header, body []byte) (*Answer, error) {
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

// SendSection is Send with a body read from a file section (a spooled
// upload), so that it need not be held in memory; it is re-read from the
// start when the request is repeated.
func (c *Client) SendSection(ctx context.Context, method, target string, header http.Header, body *io.SectionReader) (*Answer, error) {
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
func (c *Client) exchange(req *http.Request, header http.Header) (*Answer, error) {
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
		return nil, fmt.Errorf("dav: %s %s: read answer: %w", req.Method, Redact(req.URL), err)
	}
	return &Answer{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// ErrUnauthorized marks an error that is the server's 401: it refused
// the credentials. Asking again, or for other objects, only adds failed
// logins, and a server may lock the account after a few: callers stop.
var ErrUnauthorized = errors.New("the server refused the credentials")

// markAuth wraps err with ErrUnauthorized when status is 401.
func markAuth(status int, err error) error {
	if status == http.StatusUnauthorized {
		return fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	return err
}

// Redact drops any credentials from a URL before it is logged.
func Redact(u *url.URL) string {
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

// ServerSays is the server's answer in a line for reports: status and
// up to 300 bytes of its body, whitespace runs made one space and other
// control characters escaped (\x1b), so that an answer printed on a
// terminal cannot erase or forge lines.
func (a *Answer) ServerSays() string {
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
