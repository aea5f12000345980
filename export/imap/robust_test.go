package imap_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/faultproxy"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// quickRetry keeps the tests' pauses short.
var quickRetry = retry.Loop{Attempts: 30, Backoff: retry.Policy{First: 5 * time.Millisecond, Max: 50 * time.Millisecond}}

// TestRoundTripThroughCuts: the same round trip with a proxy in front of
// Dovecot that cuts connections at random points of the UID commands,
// inside the FETCH literals too. Every message still arrives exactly
// once, byte-identical: a retry goes on after the last message stored.
func TestRoundTripThroughCuts(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "a-secret", "bob": "b-secret"})
	dir := t.TempDir()
	big := bigMessage(3 << 20)
	a := seedAlice(t, d, dir, 60, big)

	p, err := faultproxy.Start(faultproxy.Options{Upstream: d.Addr, Verbs: []string{"UID"}, Rate: 0.3, Seed: 7,
		Points: []faultproxy.Point{faultproxy.InsideAnswer, faultproxy.InsideAnswer, faultproxy.Before, faultproxy.AfterCommand}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	src := source(p.Addr, "alice", "a-secret")
	src.Chunk, src.Retry = 5, quickRetry
	rep, err := exportFrom(t, src, "alice", filepath.Join(dir, "out"), "")
	if err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	t.Logf("proxy: %+v; export: %s, %d messages", st, rep.Status, rep.Counts.Messages)
	if st.AnswerCuts == 0 || st.Cuts[faultproxy.Before]+st.Cuts[faultproxy.AfterCommand] == 0 {
		t.Fatalf("the proxy cut %v: the test did not test cuts inside and around the FETCH answers", st.Cuts)
	}
	if rep.Status != "ok" || rep.Counts.Messages != total(a) {
		t.Fatalf("export through cuts: %s, %d messages, want ok and %d; errors %v", rep.Status, rep.Counts.Messages, total(a), rep.Errors)
	}
	importInto(t, d.Addr, "bob", "b-secret", rep.Archive, filepath.Join(dir, "state-b"))
	sameMailboxes(t, a, testservers.ReadMailboxes(t, d.Addr, "bob", "b-secret"))
}

// bigMessage is a message of about n bytes, in lines.
func bigMessage(n int) []byte {
	var b strings.Builder
	b.WriteString("From: big@example.org\r\nSubject: big\r\nMessage-ID: <big@example.org>\r\n\r\n")
	line := strings.Repeat("0123456789abcdef", 4) + "\r\n"
	for b.Len() < n {
		b.WriteString(line)
	}
	return []byte(b.String())
}

// TestRefusedMessageIsReportedAndTheRestGoesOn: a message Dovecot cannot
// read (its file unreadable; Dovecot ends the session on its FETCH) is
// reported by folder and UID; every other message is exported, and the
// report is partial (exit 3).
func TestRefusedMessageIsReportedAndTheRestGoesOn(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "a-secret"})
	dir := t.TempDir()
	a := seedAlice(t, d, dir, 20, nil)
	files, _ := filepath.Glob(filepath.Join(d.Dir, "mail", "alice", "Maildir", "cur", "*"))
	if len(files) < 2 {
		files, _ = filepath.Glob(filepath.Join(d.Dir, "mail", "alice", "Maildir", "new", "*"))
	}
	if len(files) < 2 {
		t.Fatalf("no INBOX files under %s", d.Dir)
	}
	if err := os.Chmod(files[1], 0); err != nil {
		t.Fatal(err)
	}
	src := source(d.Addr, "alice", "a-secret")
	src.Retry = quickRetry
	rep, err := exportFrom(t, src, "alice", filepath.Join(dir, "out"), "")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != "partial" || len(rep.Errors) != 1 || rep.Counts.Messages != total(a)-1 {
		t.Log(d.Log())
		t.Fatalf("export: %s, %d messages, errors %+v; want partial, %d messages and one error", rep.Status, rep.Counts.Messages, rep.Errors, total(a)-1)
	}
	if e := rep.Errors[0]; e.Folder != "INBOX" || !strings.HasPrefix(e.Item, "UID ") || !strings.Contains(e.Reason, "the server failed each time") {
		t.Errorf("error %+v: want INBOX, the UID and the server's refusal", e)
	}
}

// cuttingSink is a test sink that, after its nth message, runs hook (the
// server changes under the export) and drops the connection.
type cuttingSink struct {
	exporttest.Sink
	n    int
	hook func()
}

func (s *cuttingSink) AddItem(it format.Item, body io.Reader) error {
	err := s.Sink.AddItem(it, body)
	if len(s.Items) == s.n {
		s.hook()
	}
	return err
}

// TestUIDValidityChangeMidExport: when a folder's UIDVALIDITY changes
// between two connections, the UIDs listed name other messages: what was
// stored stays, the rest of the folder is reported by UID, naming both
// UIDVALIDITY values, and the other folders are exported.
func TestUIDValidityChangeMidExport(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "a-secret"})
	inbox := 0
	for _, mb := range seedAlice(t, d, t.TempDir(), 40, nil) {
		if mb.Name == "INBOX" {
			inbox = len(mb.Messages)
		}
	}
	src := source(d.Addr, "alice", "a-secret")
	src.Retry, src.Chunk, src.Connections, src.Folders = quickRetry, 3, 1, []string{"INBOX", "Sent"}
	var conns []*imapconn.Conn
	src.Dial = func(ctx context.Context, a imapconn.Account) (*imapconn.Conn, error) {
		c, err := imapconn.Dial(ctx, a)
		if err == nil {
			conns = append(conns, c)
		}
		return c, err
	}
	sink := &cuttingSink{n: 4}
	sink.hook = func() {
		if out, err := d.Doveadm("mailbox", "update", "-u", "alice", "--uid-validity", "12345", "INBOX"); err != nil {
			t.Fatalf("doveadm mailbox update: %v\n%s", err, out)
		}
		conns[len(conns)-1].Close()
	}
	if err := src.Export(context.Background(), sink, export.Options{}); err != nil {
		t.Fatal(err)
	}
	var inInbox, inSent int
	for _, it := range sink.Items {
		switch it.Folder {
		case "INBOX":
			inInbox++
		case "Sent":
			inSent++
		}
	}
	// Messages received whole before the connection dropped are stored
	// (go-imap may have read a few ahead); every other one is reported.
	if inInbox < 4 || inInbox >= inbox || inSent == 0 {
		t.Errorf("stored %d of %d INBOX and %d Sent messages; want those before the change and every Sent one", inInbox, inbox, inSent)
	}
	if len(sink.Errors) != inbox-inInbox {
		t.Fatalf("%d errors, want %d (INBOX's messages after the change): %+v", len(sink.Errors), inbox-inInbox, sink.Errors)
	}
	for _, e := range sink.Errors {
		if e.Folder != "INBOX" || !strings.HasPrefix(e.Item, "UID ") || !strings.Contains(e.Reason, "to 12345") {
			t.Errorf("error %+v: want INBOX, a UID and the new UIDVALIDITY", e)
		}
	}
}

// TestExpungedMidChunkIsCountedNotLost: a message expunged between a
// chunk's metadata FETCH and its body FETCH is counted as expunged (the
// UID SEARCH that checks no longer finds it), not reported as failed
// and not silently dropped; every other message is exported.
func TestExpungedMidChunkIsCountedNotLost(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "a-secret"})
	inbox := 0
	for _, mb := range seedAlice(t, d, t.TempDir(), 24, nil) {
		if mb.Name == "INBOX" {
			inbox = len(mb.Messages)
		}
	}
	var calls atomic.Int32
	p, err := faultproxy.Start(faultproxy.Options{Upstream: d.Addr, Verbs: []string{"UID"}, Answer: func(string) {
		// The second UID command is the first chunk's metadata FETCH:
		// before its answer comes back, another client expunges UID 2.
		if calls.Add(1) != 2 {
			return
		}
		c := testservers.IMAPLogin(t, d.Addr, "alice", "a-secret")
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Error(err)
			return
		}
		if err := c.Store(imap.UIDSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Close(); err != nil {
			t.Error(err)
		}
		if err := c.Expunge().Close(); err != nil {
			t.Error(err)
		}
		c.Logout().Wait()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	src := source(p.Addr, "alice", "a-secret")
	src.Connections, src.Folders = 1, []string{"INBOX"}
	sink := &exporttest.Sink{}
	if err := src.Export(context.Background(), sink, export.Options{}); err != nil {
		t.Fatal(err)
	}
	if len(sink.Errors) != 0 || sink.Skipped[export.SkipExpunged] != 1 || len(sink.Items) != inbox-1 {
		t.Errorf("%d items, skipped %v, errors %+v; want %d items, one expunged, no error", len(sink.Items), sink.Skipped, sink.Errors, inbox-1)
	}
	for _, it := range sink.Items {
		if strings.HasSuffix(it.SourceID, ":2") {
			t.Errorf("UID 2 was exported after it was expunged")
		}
	}
}
