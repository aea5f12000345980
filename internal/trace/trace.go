// Package trace writes the --debug trace: every IMAP and HTTP conversation
// of the process, one line per protocol line, with credentials redacted
// and message contents summarised by size. It is the one place that
// decides what a trace may show; imapconn wraps its connections with Conn
// and the HTTP clients (davclient, the Zimbra SOAP client) their transport
// with HTTP.
//
// Each line names its conversation: the user it works for when the
// context says (WithUser: a migrate run traces many users at once), the
// protocol and a number (one per IMAP connection, one per HTTP exchange,
// whose connection is named on a line of its own), and the server.
//
// The output is process-wide, like the standard log package: --debug is a
// setting of the whole run, and threading a writer through every account
// and client configuration would touch every caller for no gain. When
// tracing is off (the default) Conn and HTTP cost one atomic load.
package trace

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailhaul/mailhaul/internal/termtext"
)

var (
	mu  sync.Mutex // one line at a time, whatever the connection
	out atomic.Pointer[[]io.Writer]
	ids atomic.Int64 // numbers the conversations
)

// SetOutput sends the trace to w from now on; nil turns it off. It
// returns a function that restores the previous output. w takes one
// whole line per Write, one Write at a time.
func SetOutput(w io.Writer) (restore func()) {
	var p *[]io.Writer
	if w != nil {
		p = &[]io.Writer{w}
	}
	old := out.Swap(p)
	return func() { out.Store(old) }
}

// Tee sends the trace to w as well as where it goes, if it is being
// written (it turns nothing on): a run's log file keeps the trace beside
// its own lines. A failing output does not keep the others from theirs.
func Tee(w io.Writer) (restore func()) {
	old := out.Load()
	if old == nil {
		return func() {}
	}
	ws := append(append([]io.Writer(nil), *old...), w)
	out.Store(&ws)
	return func() { out.Store(old) }
}

// Enabled reports whether a trace is being written.
func Enabled() bool { return out.Load() != nil }

// emit writes one trace line: time (UTC, with the date: a migration
// night crosses midnight), conversation, direction, text. The text is
// escaped: it quotes what servers sent, and the trace may go to a
// terminal.
func emit(label, dir, text string) {
	p := out.Load()
	if p == nil {
		return
	}
	line := []byte(fmt.Sprintf("%s %s %s %s\n", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), label, dir, termtext.Escape(text)))
	mu.Lock()
	for _, w := range *p {
		w.Write(line)
	}
	mu.Unlock()
}

type ctxKey int

const (
	userKey ctxKey = iota
	requestKey
)

// WithUser returns ctx whose conversations the trace attributes to user:
// the IMAP connections opened and the HTTP requests sent under it.
func WithUser(ctx context.Context, user string) context.Context {
	return context.WithValue(ctx, userKey, user)
}

// WithRequest returns ctx whose HTTP requests the trace names as what,
// after the request line: the SOAP request a body holds, which the trace
// never shows. what must be a name, never data.
func WithRequest(ctx context.Context, what string) context.Context {
	return context.WithValue(ctx, requestKey, what)
}

func fromCtx(ctx context.Context, key ctxKey) string {
	s, _ := ctx.Value(key).(string)
	return s
}

// label names one conversation: the user it works for if known,
// protocol, number, server.
func label(ctx context.Context, proto, addr string) string {
	l := fmt.Sprintf("%s#%d %s", proto, ids.Add(1), termtext.Escape(addr))
	if u := fromCtx(ctx, userKey); u != "" {
		l = "[" + termtext.Escape(u) + "] " + l
	}
	return l
}
