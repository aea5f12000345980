package davclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/report"
)

// Retrying is an http.RoundTripper that repeats a request through
// retry.Do: a 429 or a 5xx that means "overloaded or briefly broken"
// (500, 502, 503, 504) and a dropped connection are tried again; the
// server's Retry-After is its wait (capped by the loop's MaxWait), else
// the loop's backoff. A certificate that is not trusted, or a server that
// does not speak TLS, fails at once: only the user can change that. When
// the tries run out on an answer, that last answer is returned, so the
// caller can report what the server said.
//
// A request with a body is repeated only when it can be replayed
// (GetBody, which http.NewRequest sets for in-memory bodies).
type Retrying struct {
	Next http.RoundTripper // nil: http.DefaultTransport
	Loop retry.Loop
	// Logf hears of every try that failed and will be repeated.
	Logf func(format string, args ...any)
	// Classify says what an answer means for another try; nil: StatusKind.
	// A protocol whose errors come as a 5xx with a body the caller must
	// read (Zimbra's SOAP faults are 500s) keeps those permanent here.
	Classify func(*http.Response) retry.Kind
}

// DefaultLoop is a DAV request's retry loop: six tries, backoff from
// 500ms up to a minute, and at most a minute of a server's Retry-After.
var DefaultLoop = retry.Loop{Attempts: 6, Backoff: retry.Policy{First: 500 * time.Millisecond, Max: time.Minute}, MaxWait: time.Minute}

// withDefaults fills l's zero fields from DefaultLoop.
func withDefaults(l retry.Loop) retry.Loop {
	d := DefaultLoop
	if l.Attempts <= 0 {
		l.Attempts = d.Attempts
	}
	if l.Backoff.First <= 0 {
		l.Backoff.First = d.Backoff.First
	}
	if l.Backoff.Max <= 0 {
		l.Backoff.Max = d.Backoff.Max
	}
	if l.MaxWait <= 0 {
		l.MaxWait = d.MaxWait
	}
	return l
}

// statusError is an answer worth another try.
type statusError struct{ status string }

func (e *statusError) Error() string { return e.status }

func (t *Retrying) RoundTrip(req *http.Request) (*http.Response, error) {
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	l := withDefaults(t.Loop)
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		l.Attempts = 1 // a body read once cannot be sent again
	}
	classify := t.Classify
	if classify == nil {
		classify = StatusKind
	}
	var resp *http.Response // the last answer, kept for the caller when tries run out
	tries := 0
	onRetry := l.OnRetry
	l.OnRetry = func(attempt int, err error, wait time.Duration) {
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			resp = nil
		}
		if t.Logf != nil {
			t.Logf("%s %s: %v; retrying in %s", req.Method, Redact(req.URL), err, wait.Round(time.Millisecond))
		}
		if onRetry != nil {
			onRetry(attempt, err, wait)
		}
	}
	err := retry.Do(req.Context(), l, func(ctx context.Context, attempt int) error {
		tries = attempt
		r := req
		if attempt > 1 {
			r = req.Clone(ctx)
			if req.Body != nil && req.Body != http.NoBody {
				b, err := req.GetBody()
				if err != nil {
					return fmt.Errorf("replay the request body: %w", err)
				}
				r.Body = b
			}
		}
		res, err := next.RoundTrip(r)
		switch {
		case err != nil && ctx.Err() != nil:
			return retry.MarkPermanent(err)
		case err != nil && Permanent(err):
			why := "the server's certificate is not trusted here; if the address is right, give its CA certificate with --tls-ca"
			if report.NotTLS(err) {
				why = "the server does not speak TLS there: check the scheme and port of the URL"
			}
			return retry.MarkPermanent(fmt.Errorf("%w (%s)", err, why))
		case err != nil:
			return retry.MarkTransient(err)
		}
		resp = res
		kind := classify(res)
		if kind == retry.Permanent {
			return nil
		}
		serr := &statusError{res.Status}
		if wait, ok := RetryAfter(res.Header.Get("Retry-After"), time.Now()); ok || kind == retry.Throttled {
			return retry.MarkThrottled(serr, wait)
		}
		return retry.MarkTransient(serr)
	})
	var serr *statusError
	switch {
	case err == nil:
		return resp, nil
	case errors.As(err, &serr) && resp != nil:
		return resp, nil // out of tries: the caller reads the last answer
	case retry.IsRetryable(err) && tries > 1:
		return nil, fmt.Errorf("%w (after %d tries)", err, tries)
	}
	return nil, err
}

// StatusKind is what an answer's status says about another try: a 429
// asks the client to slow down; a 500, 502, 503 or 504 means the server
// is overloaded or briefly broken; anything else is the server's answer
// about the object, permanent.
func StatusKind(res *http.Response) retry.Kind {
	switch res.StatusCode {
	case http.StatusTooManyRequests:
		return retry.Throttled
	case http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return retry.Transient
	}
	return retry.Permanent
}

// Permanent reports whether a failed connection cannot succeed by trying
// again: the server's certificate is not trusted, not valid for its name
// or not valid at all, or the server does not speak TLS at that address.
// Only the user can change that (--tls-ca, the right host name, scheme or
// port), so the request fails at once instead of after six tries.
func Permanent(err error) bool {
	return report.UntrustedCert(err) || report.NotTLS(err)
}

// RetryAfter parses a Retry-After value: delay seconds or an HTTP date
// (RFC 9110 §10.2.3).
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(s) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
