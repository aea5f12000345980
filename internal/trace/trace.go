// Package trace writes the --debug trace: every IMAP and HTTP conversation
// of the process, one line per protocol line, with credentials redacted
// and message contents summarised by size. It is the one place that
// decides what a trace may show; imapconn wraps its connections with Conn
// and the HTTP clients (davclient, the Zimbra SOAP client) their transport
// with HTTP.
//
// The output is process-wide, like the standard log package: --debug is a
// setting of the whole run, and threading a writer through every account
// and client configuration would touch every caller for no gain. When
// tracing is off (the default) Conn and HTTP cost one atomic load.
package trace

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailhaul/mailhaul/internal/termtext"
)

var (
	mu  sync.Mutex // one line at a time, whatever the connection
	out atomic.Pointer[io.Writer]
	ids atomic.Int64 // numbers the conversations
)

// SetOutput sends the trace to w from now on; nil turns it off. It
// returns a function that restores the previous output.
func SetOutput(w io.Writer) (restore func()) {
	var p *io.Writer
	if w != nil {
		p = &w
	}
	old := out.Swap(p)
	return func() { out.Store(old) }
}

// Enabled reports whether a trace is being written.
func Enabled() bool { return out.Load() != nil }

// emit writes one trace line: time, conversation, direction, text. The
// text is escaped: it quotes what servers sent, and the trace may go to a
// terminal.
func emit(label, dir, text string) {
	p := out.Load()
	if p == nil {
		return
	}
	line := fmt.Sprintf("%s %s %s %s\n", time.Now().UTC().Format("15:04:05.000"), label, dir, termtext.Escape(text))
	mu.Lock()
	io.WriteString(*p, line)
	mu.Unlock()
}

// label names one conversation: protocol, number, server.
func label(proto, addr string) string {
	return fmt.Sprintf("%s#%d %s", proto, ids.Add(1), addr)
}
