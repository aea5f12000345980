package imap

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/importer/imap/faultserver"
)

// A server that stops reading in the middle of an APPEND's literal
// blocks the sender's write. The command's limit covers the sending too:
// the connection is given up, the target checked, the message sent again
// on a new one and stored once. (The limit used to start only once the
// write was done, and such a run hung until it was cancelled.)
func TestStalledWriteIsGivenUp(t *testing.T) {
	defer func(r int64) { minRate = r }(minRate)
	minRate = 1 << 40 // the limit is Timeout alone, whatever the size: room for 16 MiB under load
	release := make(chan struct{})
	var once sync.Once
	srv, err := faultserver.Start(faultserver.Options{Users: map[string]string{"u": "p"},
		Hook: func(conn, n int) error {
			first := false
			once.Do(func() { first = true })
			if first {
				<-release // never reads this literal
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	defer close(release)
	// Larger than what the loopback socket buffers take in.
	body := "From: a@example.org\r\nMessage-ID: <big@example.org>\r\nSubject: big\r\n\r\n" +
		strings.Repeat(strings.Repeat("x", 76)+"\r\n", (16<<20)/78)
	archive := filepath.Join(t.TempDir(), "u.tgz")
	writeArchive(t, archive, []testFolder{{folder: format.Folder{Path: "INBOX", Role: format.RoleInbox},
		msgs: []testMsg{{body: []byte(body), received: time.Unix(1600000000, 0)}}}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opt := testRun{Options: Options{Account: account(srv.Addr, "u", "p"), Timeout: 4 * time.Second, Connections: 1, Settle: 50 * time.Millisecond},
		Request: importer.Request{User: "u"}}
	rep, err := opt.run(ctx, []string{archive})
	if err != nil || ctx.Err() != nil {
		t.Fatalf("run: %v (context: %v): the stalled write was not given up", err, ctx.Err())
	}
	if rep.Imported != 1 || rep.Failed != 0 || rep.NotAttempted != 0 {
		t.Errorf("report: %s; %q; want the message imported once", rep.Line(), rep.Statement)
	}
}
