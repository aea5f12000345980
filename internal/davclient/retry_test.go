package davclient

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/internal/retry"
)

// flaky answers the first len(answers) requests with those statuses (and
// Retry-After when given), then 201, recording every body it received.
type flaky struct {
	mu      sync.Mutex
	answers []struct {
		status     int
		retryAfter string
	}
	bodies []string
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	n := len(f.bodies)
	f.bodies = append(f.bodies, string(b))
	f.mu.Unlock()
	if n < len(f.answers) {
		if a := f.answers[n]; a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		w.WriteHeader(f.answers[n].status)
		io.WriteString(w, "busy "+http.StatusText(f.answers[n].status))
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (f *flaky) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.bodies...)
}

func newFlaky(answers ...int) *flaky {
	f := &flaky{}
	for _, s := range answers {
		f.answers = append(f.answers, struct {
			status     int
			retryAfter string
		}{status: s})
	}
	return f
}

// A 429 waits the server's Retry-After, a 503 the backoff, and each try
// sends the whole body again.
func TestRetryingHonoursRetryAfterAndReplaysTheBody(t *testing.T) {
	f := newFlaky(http.StatusTooManyRequests, http.StatusServiceUnavailable)
	f.answers[0].retryAfter = "1"
	srv := httptest.NewServer(f)
	defer srv.Close()
	var waits []time.Duration
	c := New(Config{Retry: retry.Loop{Attempts: 4, Backoff: retry.Policy{First: time.Millisecond, Max: 5 * time.Millisecond},
		OnRetry: func(_ int, _ error, d time.Duration) { waits = append(waits, d) }}})
	start := time.Now()
	a, err := c.Send(context.Background(), http.MethodPut, srv.URL+"/x.vcf", nil, []byte("BEGIN:VCARD"))
	if err != nil || a.Status != http.StatusCreated {
		t.Fatalf("Send = %v, %v; want 201", a, err)
	}
	if got := f.requests(); len(got) != 3 || got[0] != "BEGIN:VCARD" || got[1] != "BEGIN:VCARD" || got[2] != "BEGIN:VCARD" {
		t.Errorf("bodies received %q; want the card three times", got)
	}
	if len(waits) != 2 || waits[0] != time.Second || waits[1] > 5*time.Millisecond {
		t.Errorf("waits %v; want Retry-After's 1s, then the backoff", waits)
	}
	if el := time.Since(start); el < time.Second {
		t.Errorf("done in %s; Retry-After asked for 1s", el)
	}
}

// When the tries run out on an answer, the caller gets that answer, to
// report what the server said; a server's wait beyond MaxWait is capped.
func TestRetryingReturnsTheLastAnswer(t *testing.T) {
	f := newFlaky(503, 503, 503, 503)
	f.answers[0].retryAfter = "3600"
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := New(Config{Retry: retry.Loop{Attempts: 3, Backoff: retry.Policy{First: time.Millisecond}, MaxWait: 10 * time.Millisecond}})
	start := time.Now()
	a, err := c.Send(context.Background(), http.MethodGet, srv.URL+"/", nil, nil)
	if err != nil || a.Status != http.StatusServiceUnavailable || !strings.Contains(a.ServerSays(), "busy") {
		t.Fatalf("Send = %+v, %v; want the last 503 with its body", a, err)
	}
	if n := len(f.requests()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %s: the hour's Retry-After was not capped", el)
	}
}

// onceReader is a body that cannot be read twice (no GetBody).
type onceReader struct{ io.Reader }

// A body that cannot be replayed is sent once, whatever the answer.
func TestRetryingSendsAnUnreplayableBodyOnce(t *testing.T) {
	f := newFlaky(503)
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := New(Config{Retry: retry.Loop{Attempts: 4, Backoff: retry.Policy{First: time.Millisecond}}})
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/x", onceReader{strings.NewReader("data")})
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := len(f.requests()); n != 1 || resp.StatusCode != 503 {
		t.Errorf("%d requests, status %d; want one, 503", n, resp.StatusCode)
	}
}

// A refused connection is tried again, then reported with the count;
// a cancelled run ends the loop with the context's error.
func TestRetryingConnectionErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // nothing listens there now
	c := New(Config{Retry: retry.Loop{Attempts: 3, Backoff: retry.Policy{First: time.Millisecond}}})
	_, err := c.Send(context.Background(), http.MethodGet, addr+"/", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "after 3 tries") {
		t.Errorf("error %v; want one saying it was tried 3 times", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Send(ctx, http.MethodGet, addr+"/", nil, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: error %v, want context.Canceled", err)
	}
}

// NewTransport verifies against the roots it is given; with the system's
// a test certificate fails at once, naming --tls-ca.
func TestNewTransportVerifies(t *testing.T) {
	var n int
	var mu sync.Mutex
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake errors are expected
	srv.StartTLS()
	defer srv.Close()
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	u, _ := url.Parse(srv.URL)
	good := New(Config{RootCAs: pool, Conns: 2})
	if a, err := good.Send(context.Background(), http.MethodGet, u.String(), nil, nil); err != nil || a.Status != 200 {
		t.Errorf("with the server's CA: %v, %v", a, err)
	}
	bad := New(Config{Retry: retry.Loop{Attempts: 5, Backoff: retry.Policy{First: time.Millisecond}}})
	_, err := bad.Send(context.Background(), http.MethodGet, u.String(), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "--tls-ca") || strings.Contains(err.Error(), "tries") {
		t.Errorf("with the system's roots: error %v; want a certificate error naming --tls-ca, not retried", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if n != 1 {
		t.Errorf("%d requests reached the handler, want the trusted one only", n)
	}
}

// Classify decides per answer: a 500 the protocol reads itself (a SOAP
// fault) comes back at once, and a 503 it calls throttling is tried again
// after Retry-After like a 429.
func TestRetryingClassify(t *testing.T) {
	f := newFlaky(500, 503)
	srv := httptest.NewServer(f)
	defer srv.Close()
	var kinds []retry.Kind
	rt := &Retrying{
		Loop: retry.Loop{Attempts: 4, Backoff: retry.Policy{First: time.Millisecond},
			OnRetry: func(_ int, err error, _ time.Duration) { k, _ := retry.Classify(err); kinds = append(kinds, k) }},
		Classify: func(res *http.Response) retry.Kind {
			if res.StatusCode == 503 {
				return retry.Throttled
			}
			return retry.Permanent
		},
	}
	hc := &http.Client{Transport: rt}
	resp, err := hc.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := len(f.requests()); n != 1 || resp.StatusCode != 500 {
		t.Errorf("%d requests, status %d; want the 500 at once", n, resp.StatusCode)
	}
	resp, err = hc.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := len(f.requests()); n != 3 || resp.StatusCode != 201 || len(kinds) != 1 || kinds[0] != retry.Throttled {
		t.Errorf("%d requests, status %d, retries %v; want the 503 retried as throttled, then 201", n, resp.StatusCode, kinds)
	}
}
