package soap

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// roundTripFunc is a transport made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Headers that come as the header clock runs out, while the caller is
// cancelled too, are an error, never a nil answer without one (the
// retrying transport above reads the answer it is given: a panic).
func TestBoundedHeadersAsTheClockRunsOut(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := &bounded{header: time.Millisecond, idle: time.Minute, next: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		<-r.Context().Done() // the header clock ran out
		cancel()             // and the caller gives up at that moment
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("late"))}, nil
	})}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://127.0.0.1/", nil)
	res, err := b.RoundTrip(req)
	if res == nil && err == nil {
		t.Fatal("no answer and no error")
	}
	if err == nil {
		res.Body.Close()
	}
}
