package soap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// bounded holds every try of every request to two clocks, whatever the
// transport under it: the answer's headers must come within header
// (Zimbra searches a large mailbox before an export's first byte), and
// its body, SOAP answer or export stream, must not stay silent for idle
// while the caller waits for it. Either break ends the try's connection
// and reads as an error; the retries above it repeat a try without
// headers, the caller one whose body stalled.
type bounded struct {
	next         http.RoundTripper
	header, idle time.Duration
}

// errNoHeaders is the cause of a try that got no headers in time.
var errNoHeaders = errors.New("no answer")

func (b *bounded) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	wait := time.AfterFunc(b.header, func() { cancel(errNoHeaders) })
	res, err := b.next.RoundTrip(req.WithContext(ctx))
	if !wait.Stop() || err != nil {
		switch {
		case err == nil:
			// The headers came as the clock ran out: still an error,
			// never a nil answer without one.
			res.Body.Close()
			err = fmt.Errorf("no answer within %s", b.header)
		case context.Cause(ctx) == errNoHeaders && req.Context().Err() == nil:
			err = fmt.Errorf("no answer within %s", b.header)
		}
		cancel(nil)
		return nil, err
	}
	body := &idleBody{body: res.Body, idle: b.idle, cancel: cancel}
	body.timer = time.AfterFunc(b.idle, func() { body.stalled.Store(true); cancel(errStalled) })
	body.timer.Stop() // runs while a Read waits
	res.Body = body
	return res, nil
}

// errStalled is the cause of a body that sent nothing for too long.
var errStalled = errors.New("stalled")

// idleBody hangs up a body that sends nothing for idle while a Read
// waits for it; the Read then says so.
type idleBody struct {
	body    io.ReadCloser
	idle    time.Duration
	timer   *time.Timer
	cancel  context.CancelCauseFunc
	stalled atomic.Bool
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.timer.Reset(b.idle)
	n, err := b.body.Read(p)
	b.timer.Stop()
	if err != nil && err != io.EOF && b.stalled.Load() {
		err = fmt.Errorf("nothing came for %s", b.idle)
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.timer.Stop()
	err := b.body.Close()
	b.cancel(nil)
	return err
}
