package imap_test

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// TestMemoryStaysFlat exports a 50 MB message and a folder of 3,000
// messages into a real archive writer while sampling the heap: the
// message goes from the FETCH literal to the writer's spill file, and a
// folder is read in UID chunks, so the heap never holds a message or a
// folder.
func TestMemoryStaysFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("appends 50 MB and 3,000 messages")
	}
	d := testservers.StartDovecot(t, map[string]string{"alice": "a-secret"})
	c := testservers.IMAPLogin(t, d.Addr, "alice", "a-secret")
	const bigSize = 50 << 20
	line := strings.Repeat("0123456789abcdef", 6) + "\r\n"
	head := "From: big@example.org\r\nSubject: fifty megabytes\r\n\r\n"
	body := head + strings.Repeat(line, (bigSize-len(head))/len(line))
	app := c.Append("INBOX", int64(len(body)), nil)
	io.Copy(app, strings.NewReader(body))
	app.Close()
	if _, err := app.Wait(); err != nil {
		t.Fatal(err)
	}
	bigLen := len(body)
	body = ""
	if err := c.Create("Many", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	const many = 3000
	var cmds []*imapclient.AppendCommand
	for i := range many {
		m := fmt.Sprintf("From: n%d@example.org\r\nSubject: message %d\r\n\r\n%s", i, i, strings.Repeat("x", 2000))
		a := c.Append("Many", int64(len(m)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}})
		a.Write([]byte(m))
		a.Close()
		cmds = append(cmds, a)
	}
	for _, a := range cmds {
		if _, err := a.Wait(); err != nil {
			t.Fatal(err)
		}
	}

	w, err := format.NewWriter(io.Discard, format.Manifest{User: "alice"}, &format.WriterOptions{SpillDir: t.TempDir(), SpillThreshold: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close() // ends its compressor's goroutines
	// Garbage collected promptly, the heap in use is what is live.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	src := source(d.Addr, "alice", "a-secret")
	err = src.Export(context.Background(), w, export.Options{})
	close(stop)
	<-sampled
	if err != nil {
		t.Fatal(err)
	}
	sum := w.Summary()
	if sum.Counts.Messages != many+1 || sum.Counts.Bytes < int64(bigLen) {
		t.Fatalf("exported %d messages, %d bytes; want %d and over %d", sum.Counts.Messages, sum.Counts.Bytes, many+1, bigLen)
	}
	grew := int64(peak.Load()) - int64(before.HeapInuse)
	t.Logf("heap in use %.1f MB before; grew by at most %.1f MB", float64(before.HeapInuse)/(1<<20), float64(grew)/(1<<20))
	// At its peak the heap holds the archive writer's own buffers (its
	// in-memory buffer below the 1 MB spill threshold, which a
	// bytes.Buffer may round up to 2 MB, and some 10 MB of compression
	// blocks), measured with a heap profile; nothing of the source's. A
	// message held whole would add its 50 MB.
	if grew > 25<<20 {
		t.Errorf("the heap grew by %.1f MB exporting a 50 MB message and %d messages: not streamed", float64(grew)/(1<<20), many)
	}
}
