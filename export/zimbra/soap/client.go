package soap

import (
	"bytes"
	"cmp"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/mailhaul/mailhaul/internal/davclient"
	"github.com/mailhaul/mailhaul/internal/loopback"
	"github.com/mailhaul/mailhaul/internal/ratelimit"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/internal/trace"
)

// Config says how to reach one Zimbra installation.
type Config struct {
	// URL is the admin service, https://HOST:7071 (a path is ignored).
	URL string
	// Admin is the admin account's name.
	Admin string
	// Password gives the admin's password when a login needs it
	// (PasswordFile reads one from a file). It is never logged, and
	// never kept beyond the login.
	Password func() (string, error)

	// MailURL is the base URL (scheme, host, port) of the mailbox server
	// named by an account's zimbraMailHost; nil: https://HOST, Zimbra's
	// proxy port. A request to the wrong server is proxied by Zimbra.
	MailURL func(mailHost string) string
	// AllowPlaintext lets the password and tokens go over http:// to a
	// host other than loopback (they travel in clear).
	AllowPlaintext bool
	// ViaAdminPort sends the REST exports and GetFolderRequest to the
	// admin URL with the admin token (cookie ZM_ADMIN_AUTH_TOKEN), for a
	// network where only 7071 is reachable; no delegated tokens then.
	ViaAdminPort bool
	// BasicAuth sends the REST exports to the admin URL with the admin's
	// name and password as HTTP Basic (where the installation allows
	// it, as zmbackup's curl -u does), and the mailbox's SOAP there with
	// the admin token (as ViaAdminPort): no delegated tokens. The
	// password then travels with every export, so http:// to a host
	// other than loopback is refused whatever AllowPlaintext says.
	BasicAuth bool

	// RootCAs verify the servers' certificates; nil: the system's.
	RootCAs *x509.CertPool
	// Conns is the number of kept-alive connections per host.
	Conns int
	// Transport replaces the verified TLS transport (tests, proxies);
	// pacing and retries are laid over it either way.
	Transport http.RoundTripper
	// Retry bounds the repetition of a request; zero fields take
	// davclient.DefaultLoop's.
	Retry retry.Loop
	// RequestsPerSecond paces every request of this client, retries
	// included (default 25, under Zimbra's DoS filter of 30 per client;
	// negative: no pacing, for a host in zimbraHttpThrottleSafeIPs).
	RequestsPerSecond float64
	// HeaderTimeout bounds the wait for an answer's headers (default 10
	// min: Zimbra searches a large mailbox before the first byte of an
	// export), each try of each request, over any Transport.
	HeaderTimeout time.Duration
	// IdleTimeout gives up an answer whose body sent nothing for that
	// long (default 5 min): a SOAP answer is asked again; an export
	// stream's break is transient, so the user's export is started again.
	IdleTimeout time.Duration
	// PageSize is SearchDirectoryRequest's limit (default 1000).
	PageSize int
	// DelegateLifetime is the life asked for a delegated token (default
	// 1 h; the server may cap it with zimbraAuthTokenLifetime).
	DelegateLifetime time.Duration
	// Logf hears of repeated requests; nil: silent.
	Logf func(format string, args ...any)
	// Now is the clock tokens are renewed by; nil: time.Now.
	Now func() time.Time
}

// Client talks to one Zimbra installation. It is safe for concurrent
// use: one client serves all the users of a run, so that the pace holds
// for the whole run.
type Client struct {
	cfg   Config
	admin *url.URL
	hc    *http.Client
	now   func() time.Time

	mu         sync.Mutex
	adminTok   token
	delegated  map[string]token // by account name, lower-case
	loginGroup sync.Mutex       // one admin login at a time
	refused    error            // the refused admin login, under loginGroup
}

type token struct {
	value   string
	expires time.Time
}

// DefaultRequestsPerSecond keeps a client under Jetty's DoS filter,
// which Zimbra sets to 30 requests a second per client: with a burst of
// one, no second ever holds more than 26 requests.
const DefaultRequestsPerSecond = 25

// New makes a client; nothing is sent before the first call.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	switch {
	case strings.Contains(cfg.URL, "@") && (err != nil || u.User != nil):
		return nil, errors.New("zimbra: the admin URL carries credentials; give the password with a password file instead")
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return nil, fmt.Errorf("zimbra: the admin URL %q is not an http(s) URL with a host", cfg.URL)
	case u.Scheme == "http" && !cfg.AllowPlaintext && !loopback.IsHost(u.Hostname()):
		return nil, fmt.Errorf("zimbra: %s would send the admin password in clear (http:// to a host other than loopback); use https://, or allow plaintext on a network you trust", u.Host)
	}
	if cfg.BasicAuth {
		if u.Scheme == "http" && !loopback.IsHost(u.Hostname()) {
			return nil, fmt.Errorf("zimbra: %s: HTTP Basic would send the admin password with every export in clear (http:// to a host other than loopback); use https://", u.Host)
		}
		cfg.ViaAdminPort = true // the admin port is where Zimbra takes Basic
	}
	u = &url.URL{Scheme: u.Scheme, Host: u.Host}
	if cfg.Password == nil {
		return nil, errors.New("zimbra: no admin password source")
	}
	base := cfg.Transport
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = 10 * time.Minute
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if base == nil {
		base = davclient.NewTransport(cfg.RootCAs, cfg.Conns)
	}
	base = &bounded{next: base, header: cfg.HeaderTimeout, idle: cfg.IdleTimeout}
	rps := cfg.RequestsPerSecond
	if rps == 0 {
		rps = DefaultRequestsPerSecond
	}
	if rps > 0 {
		base = &paced{next: base, lim: rate.NewLimiter(rate.Limit(rps), 1)}
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 1000
	}
	if cfg.DelegateLifetime <= 0 {
		cfg.DelegateLifetime = time.Hour
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Client{
		cfg:   cfg,
		admin: u,
		now:   now,
		hc: &http.Client{
			Transport: &davclient.Retrying{Next: trace.HTTP(base), Loop: cfg.Retry, Logf: cfg.Logf, Classify: classify},
			// A redirect would carry the token cookie elsewhere; Zimbra
			// proxies to the right server itself.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		delegated: map[string]token{},
	}, nil
}

// PasswordFile gives the password held in a file (its first line), read
// at each login so that a changed file is picked up.
func PasswordFile(path string) func() (string, error) {
	return func() (string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("zimbra: password file: %w", err)
		}
		pw, _, _ := strings.Cut(string(b), "\n")
		pw = strings.TrimRight(pw, "\r")
		if pw == "" {
			return "", fmt.Errorf("zimbra: password file %s: the first line is empty", path)
		}
		return pw, nil
	}
}

// paced holds every try of every request to the client's pace.
type paced struct {
	next http.RoundTripper
	lim  *rate.Limiter
}

func (p *paced) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := ratelimit.WaitN(req.Context(), p.lim, 1); err != nil {
		return nil, err
	}
	return p.next.RoundTrip(req)
}

// classify: a SOAP fault is a 500 with a SOAP body, an answer the caller
// reads (Zimbra labels its JSON answers, faults included,
// "text/javascript; charset=utf-8": SoapJSProtocol.getContentType), never
// retried: a refused login sent again risks locking the admin out; a 503
// is how Jetty's DoS filter refused before 9.4 (429 since),
// so it is throttling; the rest as for any HTTP server.
func classify(res *http.Response) retry.Kind {
	ct := res.Header.Get("Content-Type")
	switch {
	case res.StatusCode == http.StatusInternalServerError && (strings.Contains(ct, "json") || strings.Contains(ct, "javascript") || strings.Contains(ct, "soap")):
		return retry.Permanent
	case res.StatusCode == http.StatusInternalServerError && holdsFault(res):
		return retry.Permanent // a proxy that relabelled the answer
	case res.StatusCode == http.StatusServiceUnavailable:
		return retry.Throttled
	}
	return davclient.StatusKind(res)
}

// holdsFault peeks at a 500's body for a JSON SOAP envelope with
// Body.Fault, leaving the body whole for the caller.
func holdsFault(res *http.Response) bool {
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	res.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), res.Body), res.Body}
	var env struct {
		Body struct {
			Fault json.RawMessage
		}
	}
	return json.Unmarshal(b, &env) == nil && len(env.Body.Fault) > 0
}

// Fault is a SOAP fault: Zimbra's error code (account.NO_SUCH_ACCOUNT,
// service.AUTH_EXPIRED ...) and its reason.
type Fault struct {
	Request, Code, Reason string
}

func (f *Fault) Error() string {
	return fmt.Sprintf("zimbra: %s: %s (%s)", f.Request, f.Code, f.Reason)
}

// authFault reports a fault that a fresh token cures.
func authFault(err error) bool {
	var f *Fault
	return errors.As(err, &f) && (f.Code == "service.AUTH_EXPIRED" || f.Code == "service.AUTH_REQUIRED")
}

// maxAnswer bounds a SOAP answer (a page of accounts, an account);
// maxFolderAnswer the one that can be large, the folder tree of a large
// mailbox (GetFolderRequest). An answer is decoded as it streams in, so
// only its response element is held, once, besides what it decodes to.
const (
	maxAnswer       = 8 << 20
	maxFolderAnswer = 64 << 20
)

// answerCap is the bound of name's answer.
func answerCap(name string) int64 {
	if name == "GetFolderRequest" {
		return maxFolderAnswer
	}
	return maxAnswer
}

// call sends one SOAP request to endpoint with tok and decodes the
// response element into out. target, when set, is the account an admin
// token acts on.
func (c *Client) call(ctx context.Context, endpoint, tok, target, name, ns string, req map[string]any, out any) error {
	req["_jsns"] = ns
	hctx := map[string]any{"_jsns": "urn:zimbra", "nosession": map[string]any{}}
	if tok != "" {
		hctx["authToken"] = map[string]any{"_content": tok}
	}
	if target != "" {
		hctx["account"] = map[string]any{"by": "name", "_content": target}
	}
	body, err := json.Marshal(map[string]any{"Header": map[string]any{"context": hctx}, "Body": map[string]any{name: req}})
	if err != nil {
		return fmt.Errorf("zimbra: %s: %w", name, err)
	}
	// The transport repeats what fails before the answer; an answer
	// whose body breaks (stalls, is cut) is asked for again here.
	var (
		hr     *http.Request
		status int
		sample []byte
		fault  *Fault
	)
	loop := c.cfg.Retry
	if loop.Attempts <= 0 {
		loop.Attempts = davclient.DefaultLoop.Attempts
	}
	if loop.Backoff.First <= 0 {
		loop.Backoff = davclient.DefaultLoop.Backoff
	}
	loop.OnRetry = func(attempt int, err error, wait time.Duration) {
		if c.cfg.Logf != nil {
			c.cfg.Logf("%v; asking again in %s", err, wait.Round(time.Millisecond))
		}
		if c.cfg.Retry.OnRetry != nil {
			c.cfg.Retry.OnRetry(attempt, err, wait)
		}
	}
	retry.Do(ctx, loop, func(ctx context.Context, _ int) error {
		var broke bool
		hr, status, sample, fault, broke, err = c.post(ctx, endpoint, name, body, out)
		if broke {
			return err // marked transient
		}
		return nil // done: err, if any, is the outcome
	})
	switch {
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, errNotAnswer):
		a := davclient.Answer{Status: status, Body: sample}
		return fmt.Errorf("zimbra: %s to %s: %s", name, davclient.Redact(hr.URL), a.ServerSays())
	case err != nil:
		return err
	case fault != nil:
		return fault
	}
	return nil
}

// errNotAnswer: the answer is not Zimbra's JSON SOAP (a proxy's page).
var errNotAnswer = errors.New("not a SOAP answer")

// post sends one SOAP request and decodes its answer into out (only when
// it is complete: a fresh value is decoded, then copied); broke says the
// answer's body broke (a transient error, worth asking again). sample
// is the answer's start, for errNotAnswer's message.
func (c *Client) post(ctx context.Context, endpoint, name string, body []byte, out any) (hr *http.Request, status int, sample []byte, fault *Fault, broke bool, err error) {
	// --debug names the request: the body, never traced, holds it.
	hr, err = http.NewRequestWithContext(trace.WithRequest(ctx, name), http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, 0, nil, nil, false, fmt.Errorf("zimbra: %s: %w", name, err)
	}
	hr.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := c.hc.Do(hr)
	if err != nil {
		return hr, 0, nil, nil, false, c.transportError(ctx, name, hr, err)
	}
	defer resp.Body.Close()
	limit := answerCap(name)
	ar := &answerReader{r: io.LimitReader(resp.Body, limit+1)}
	fresh := reflect.New(reflect.TypeOf(out).Elem())
	found := false
	derr := errNotAnswer
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusInternalServerError {
		fault, found, derr = decodeAnswer(json.NewDecoder(ar), name, fresh.Interface())
	} else {
		io.Copy(io.Discard, io.LimitReader(ar, 4<<10))
	}
	switch {
	case ar.err != nil && ctx.Err() != nil:
		return hr, 0, nil, nil, false, ctx.Err()
	case ar.err != nil:
		return hr, 0, nil, nil, true, retry.MarkTransient(fmt.Errorf("zimbra: %s to %s: read the answer: %w", name, davclient.Redact(hr.URL), ar.err))
	case ar.n > limit:
		return hr, 0, nil, nil, false, fmt.Errorf("zimbra: %s: the answer is larger than %d MiB", name, limit>>20)
	case derr != nil && !errors.Is(derr, errNotAnswer):
		derr = fmt.Errorf("%w: %w", errNotAnswer, derr)
		fallthrough
	case derr != nil:
		return hr, resp.StatusCode, ar.sample, nil, false, derr
	case fault != nil:
		return hr, resp.StatusCode, nil, fault, false, nil
	case !found:
		return hr, resp.StatusCode, nil, nil, false, fmt.Errorf("zimbra: %s: the answer holds no %sResponse", name, strings.TrimSuffix(name, "Request"))
	}
	reflect.ValueOf(out).Elem().Set(fresh.Elem())
	return hr, resp.StatusCode, nil, nil, false, nil
}

// answerReader counts what it read, keeps its first 4 KB (for an error
// message) and the first read error (the body broke).
type answerReader struct {
	r      io.Reader
	n      int64
	sample []byte
	err    error
}

func (a *answerReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	a.n += int64(n)
	if keep := min(n, 4<<10-len(a.sample)); keep > 0 {
		a.sample = append(a.sample, p[:keep]...)
	}
	if err != nil && err != io.EOF && a.err == nil {
		a.err = err
	}
	return n, err
}

// decodeAnswer reads a JSON SOAP envelope token by token and decodes its
// <name>Response element into out, or its Fault, skipping the rest.
func decodeAnswer(dec *json.Decoder, name string, out any) (fault *Fault, found bool, err error) {
	want := strings.TrimSuffix(name, "Request") + "Response"
	object := func(each func(key string) error) error {
		if t, err := dec.Token(); err != nil || t != json.Delim('{') {
			return cmp.Or(err, errNotAnswer)
		}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return err
			}
			if err := each(fmt.Sprint(t)); err != nil {
				return err
			}
		}
		_, err := dec.Token() // '}'
		return err
	}
	var skip json.RawMessage
	err = object(func(key string) error {
		if key != "Body" {
			return dec.Decode(&skip)
		}
		return object(func(key string) error {
			switch key {
			case want:
				found = true
				return dec.Decode(out)
			case "Fault":
				var fj struct { // text as "x" or {"_content":"x"}: both are Zimbra's JSON
					Reason struct{ Text value }
					Detail struct{ Error struct{ Code value } }
				}
				if err := dec.Decode(&fj); err != nil {
					return err
				}
				code := string(fj.Detail.Error.Code)
				if code == "" {
					code = "soap.UNKNOWN" // SoapFaultException's name for a fault without a code
				}
				fault = &Fault{Request: name, Code: code, Reason: string(fj.Reason.Text)}
				return nil
			}
			return dec.Decode(&skip)
		})
	})
	return fault, found, err
}

// transportError names a request that failed without an answer.
func (c *Client) transportError(ctx context.Context, what string, req *http.Request, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the method and URL follow once, below
	}
	return fmt.Errorf("zimbra: %s %s %s: %w", what, req.Method, davclient.Redact(req.URL), err)
}

// value is a JSON SOAP value as Zimbra writes it: a string or number
// attribute, an element {"_content": …}, or a list of elements (the
// first counts).
type value string

func (v *value) UnmarshalJSON(b []byte) error {
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	*v = value(flatten(x))
	return nil
}

func flatten(x any) string {
	switch t := x.(type) {
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(t)
	case map[string]any:
		return flatten(t["_content"])
	case []any:
		if len(t) > 0 {
			return flatten(t[0])
		}
	}
	return ""
}

func (v value) int64() int64 {
	n, _ := strconv.ParseInt(string(v), 10, 64)
	return n
}

// elem is a child element holding text, as Zimbra reads <name>text</name>.
func elem(s string) map[string]any { return map[string]any{"_content": s} }

// byName selects an account by name.
func byName(name string) map[string]any { return map[string]any{"by": "name", "_content": name} }
