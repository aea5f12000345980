package dav

import (
	"net/http"
	"strconv"
	"time"

	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/report"
)

// RetryPolicy bounds how a request is repeated after a 5xx, a 429 or a
// dropped connection. The zero value takes the defaults.
type RetryPolicy struct {
	Attempts int           // tries in all, the first included; default 6
	Base     time.Duration // first backoff; doubles each time; default 500ms
	Max      time.Duration // longest single wait, Retry-After included; default 60s
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Attempts <= 0 {
		p.Attempts = 6
	}
	if p.Base <= 0 {
		p.Base = 500 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 60 * time.Second
	}
	return p
}

// retryable reports whether a response status is worth another try: the
// server is overloaded or briefly broken, not refusing the object.
func retryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// permanent reports whether a failed connection cannot succeed by trying
// again: the server's certificate is not trusted, not valid for its name
// or not valid at all, or the server does not speak TLS at that address.
// Only the user can change that (--tls-ca, the right host name, scheme or
// port), so the request fails at once instead of after six tries.
func permanent(err error) bool {
	return report.UntrustedCert(err) || report.NotTLS(err)
}

// wait is how long to sleep before try number attempt (1 for the first
// retry): the server's Retry-After when it gave one, else an exponential
// backoff with jitter so that parallel workers do not return in step.
func (p RetryPolicy) wait(attempt int, h http.Header, now time.Time) time.Duration {
	if d, ok := retryAfter(h.Get("Retry-After"), now); ok {
		return min(d, p.Max)
	}
	return retry.Policy{First: p.Base, Max: p.Max, Jitter: true}.Delay(attempt)
}

// retryAfter parses a Retry-After value: delay seconds or an HTTP date
// (RFC 9110 §10.2.3).
func retryAfter(v string, now time.Time) (time.Duration, bool) {
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
