package imap_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	imapsrc "github.com/mailhaul/mailhaul/export/imap"
	"github.com/mailhaul/mailhaul/importer/imap/faultserver"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// TestThrottledAndRefusedReads: a server that throttles reads as Office
// 365 does (refusals naming a "Suggested Backoff Time"), refuses to
// deliver twelve messages (NO), and, like Exchange, hangs up at a
// connection's tenth error. Every other message is exported whole; each
// refused one is reported by folder and UID; the connection is replaced
// before the server's limit, so the server never has to hang up.
func TestThrottledAndRefusedReads(t *testing.T) {
	budget := faultserver.Office365(time.Second, 0)
	var armed atomic.Bool
	srv, err := faultserver.Start(faultserver.Options{Users: map[string]string{"alice": "a-secret"}, Budget: &budget,
		CostPerFetch: 90000, ErrorLimit: 10,
		FetchHook: func(_ int, set imap.NumSet) error {
			uids, ok := set.(imap.UIDSet)
			ok = ok && armed.Load()
			for u := imap.UID(3); ok && u <= 36; u += 3 {
				if uids.Contains(u) {
					return &imap.Error{Type: imap.StatusResponseTypeNo, Text: fmt.Sprintf("message %d is corrupt", u)}
				}
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := testservers.IMAPLogin(t, srv.Addr, "alice", "a-secret")
	if err := c.Create("Empty", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs := corpus(t, 40)
	base := time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, m := range msgs {
		cmd := c.Append("INBOX", int64(len(m)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen, "Work"}, Time: base.Add(time.Duration(i) * time.Hour)})
		cmd.Write(m)
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	c.Logout()
	// What the server holds (go-imap's memory server is not byte-faithful
	// to what was appended): read before the faults are armed.
	var held []testservers.Message
	for _, mb := range testservers.ReadMailboxes(t, srv.Addr, "alice", "a-secret") {
		if mb.Name == "INBOX" {
			held = mb.Messages
		}
	}
	armed.Store(true)

	lim, _ := imapconn.ProviderLimits("office365")
	src := &imapsrc.Source{Account: imapconn.Account{Addr: srv.Addr, User: "alice", Secret: imapconn.Password("a-secret")},
		Limits: lim, Retry: quickRetry, Chunk: 8}
	sink := &exporttest.Sink{}
	if err := src.Export(context.Background(), sink, export.Options{}); err != nil {
		t.Fatal(err)
	}
	st := srv.Stats()
	t.Logf("server: %+v", st)
	if st.Throttled == 0 {
		t.Error("the server never throttled: the test did not test throttling")
	}
	if st.ErrorDisconnects != 0 {
		t.Errorf("the server hung up %d times at its error limit: the connection must be replaced before", st.ErrorDisconnects)
	}
	if len(sink.Errors) != 12 {
		t.Fatalf("%d errors, want the 12 refused messages: %+v", len(sink.Errors), sink.Errors)
	}
	for _, e := range sink.Errors {
		var uid int
		fmt.Sscanf(e.Item, "UID %d", &uid)
		if e.Folder != "INBOX" || uid%3 != 0 || !strings.Contains(e.Reason, fmt.Sprintf("message %d is corrupt", uid)) {
			t.Errorf("error %+v: want INBOX, a refused UID and the server's reason", e)
		}
	}
	if len(sink.Items) != len(msgs)-12 {
		t.Fatalf("%d messages exported, want %d", len(sink.Items), len(msgs)-12)
	}
	for _, it := range sink.Items {
		var uv, uid int
		fmt.Sscanf(it.SourceID, "%d:%d", &uv, &uid)
		want := held[uid-1]
		flags := slices.Sorted(slices.Values(it.Flags))
		if sha256.Sum256(it.Body) != want.SHA256 || !it.Received.Equal(want.Date) || !slices.Equal(flags, want.Flags) {
			t.Errorf("UID %d: %d bytes, %s, %v; want %q..., %s, %v", uid, len(it.Body), it.Received, flags, want.Head, want.Date, want.Flags)
		}
	}
	if f := sink.Folder("Empty"); f == nil {
		t.Error("the empty folder is missing")
	}
}
