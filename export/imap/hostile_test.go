package imap_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	imapsrc "github.com/mailhaul/mailhaul/export/imap"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/ratelimit"
)

// scripted is a minimal IMAP server giving the answers Dovecot never
// gives: LOGIN, CAPABILITY and LOGOUT are its own; every other command is
// answered by answer (the tag and the command after it), whose text (the
// untagged lines, literals in place) goes before the tagged OK.
type scripted struct {
	Addr   string
	caps   string
	answer func(tag, cmd string) string
	ln     net.Listener
	wg     sync.WaitGroup
}

func startScripted(t *testing.T, caps string, answer func(tag, cmd string) string) *scripted {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scripted{Addr: ln.Addr().String(), caps: caps, answer: answer, ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serve(nc) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

var literalEnd = regexp.MustCompile(`\{(\d+)\+?\}$`)

func (s *scripted) serve(nc net.Conn) {
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(nc)
	fmt.Fprintf(nc, "* OK [CAPABILITY %s] scripted\r\n", s.caps)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		for m := literalEnd.FindStringSubmatch(line); m != nil; m = literalEnd.FindStringSubmatch(line) {
			n, _ := strconv.Atoi(m[1])
			if !strings.HasSuffix(m[0], "+}") {
				fmt.Fprint(nc, "+ go\r\n")
			}
			buf := make([]byte, n)
			if _, err := io.ReadFull(r, buf); err != nil {
				return
			}
			rest, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = line[:len(line)-len(m[0])] + strconv.Quote(string(buf)) + strings.TrimRight(rest, "\r\n")
		}
		tag, cmd, _ := strings.Cut(line, " ")
		verb, _, _ := strings.Cut(cmd, " ")
		switch strings.ToUpper(verb) {
		case "LOGIN":
			fmt.Fprintf(nc, "%s OK logged in\r\n", tag)
		case "CAPABILITY":
			fmt.Fprintf(nc, "* CAPABILITY %s\r\n%s OK done\r\n", s.caps, tag)
		case "LOGOUT":
			fmt.Fprintf(nc, "* BYE bye\r\n%s OK done\r\n", tag)
			return
		default:
			fmt.Fprintf(nc, "%s%s OK done\r\n", s.answer(tag, cmd), tag)
		}
	}
}

// scriptedMessage is one message of a scripted folder.
type scriptedMessage struct {
	uid    int
	body   string
	noDate bool  // its metadata FETCH answer leaves out INTERNALDATE
	size   int64 // the RFC822.SIZE it claims (0: its body's)
}

// folderAnswers answers SELECT/EXAMINE, STATUS, UID SEARCH and UID FETCH
// for folders all holding msgs (every FETCH answered with all of them:
// go-imap sets aside what it did not ask for).
func folderAnswers(msgs []scriptedMessage, search func(tag string) string) func(tag, cmd string) string {
	return func(tag, cmd string) string {
		verb, _, _ := strings.Cut(cmd, " ")
		var b strings.Builder
		switch strings.ToUpper(verb) {
		case "SELECT", "EXAMINE":
			fmt.Fprintf(&b, "* %d EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n", len(msgs))
		case "STATUS":
			name := strings.Fields(cmd)[1]
			fmt.Fprintf(&b, "* STATUS %s (UIDVALIDITY 7 UIDNEXT %d)\r\n", name, len(msgs)+1)
		case "UID":
			switch {
			case strings.HasPrefix(strings.ToUpper(cmd), "UID SEARCH"):
				b.WriteString(search(tag))
			case strings.Contains(strings.ToUpper(cmd), "INTERNALDATE"):
				for i, m := range msgs {
					hdr, date := "\r\n", ` INTERNALDATE "02-Jan-2024 10:00:00 +0000"`
					if m.noDate {
						date = ""
					}
					size := m.size
					if size == 0 {
						size = int64(len(m.body))
					}
					fmt.Fprintf(&b, "* %d FETCH (UID %d FLAGS (\\Seen)%s RFC822.SIZE %d BODY[HEADER.FIELDS (MESSAGE-ID)] {%d}\r\n%s)\r\n",
						i+1, m.uid, date, size, len(hdr), hdr)
				}
			default:
				for i, m := range msgs {
					fmt.Fprintf(&b, "* %d FETCH (UID %d BODY[] {%d}\r\n%s)\r\n", i+1, m.uid, len(m.body), m.body)
				}
			}
		}
		return b.String()
	}
}

func scriptedSource(addr string) *imapsrc.Source {
	return &imapsrc.Source{Account: imapconn.Account{Addr: addr, User: "alice", Secret: imapconn.Password("a-secret")},
		Retry: quickRetry, Connections: 1}
}

var twoMessages = []scriptedMessage{{uid: 1, body: "Subject: one\r\n\r\none\r\n"}, {uid: 2, body: "Subject: two\r\n\r\ntwo\r\n"}}

func searchAll(string) string { return "* SEARCH 1 2\r\n" }

// exportScripted exports alice from a scripted server whose LIST answer
// is list and whose folders each hold msgs, found by search.
func exportScripted(t *testing.T, caps, list string, msgs []scriptedMessage, search func(tag string) string, opt export.Options, pacer ...*ratelimit.Pacer) *exporttest.Sink {
	t.Helper()
	answer := folderAnswers(msgs, search)
	s := startScripted(t, caps, func(tag, cmd string) string {
		if strings.HasPrefix(strings.ToUpper(cmd), "LIST") {
			return list
		}
		return answer(tag, cmd)
	})
	src := scriptedSource(s.Addr)
	if len(pacer) > 0 {
		src.Pacer = pacer[0]
	}
	sink := &exporttest.Sink{}
	err := exporttest.Bounded(t, time.Minute, "export", func() error {
		return src.Export(context.Background(), sink, opt)
	})
	if err != nil {
		t.Fatal(err)
	}
	return sink
}

func folderPaths(sink *exporttest.Sink) []string {
	var out []string
	for _, f := range sink.Folders {
		out = append(out, f.Path)
	}
	return out
}

// TestListNamingAMailboxTwice: a server whose LIST names a mailbox twice
// (some do, with LIST-EXTENDED or overlapping namespaces) still has one
// mailbox: it is exported once, not once more as "INBOX~2".
func TestListNamingAMailboxTwice(t *testing.T) {
	sink := exportScripted(t, "IMAP4rev1", "* LIST () \"/\" INBOX\r\n* LIST () \"/\" Work\r\n* LIST () \"/\" inbox\r\n* LIST (\\HasNoChildren) \"/\" Work\r\n",
		twoMessages, searchAll, export.Options{})
	if folders := folderPaths(sink); len(folders) != 2 || len(sink.Items) != 4 || len(sink.Errors) != 0 {
		t.Errorf("folders %v, %d messages, errors %+v; want INBOX and Work, 2 messages each", folders, len(sink.Items), sink.Errors)
	}
}

// TestSearchAnswerNamingMoreUIDsThanTheFolderHolds: a UID SEARCH answer
// naming four billion UIDs for a folder of two messages (a range, in an
// ESEARCH) is a broken server, not a list to expand into 16 GB: the
// folder is reported, naming the SEARCH answer.
func TestSearchAnswerNamingMoreUIDsThanTheFolderHolds(t *testing.T) {
	sink := exportScripted(t, "IMAP4rev1 ESEARCH", "* LIST () \"/\" INBOX\r\n", twoMessages, func(tag string) string {
		return fmt.Sprintf("* ESEARCH (TAG %q) UID ALL 1:4000000000\r\n", tag)
	}, export.Options{})
	if len(sink.Items) != 0 || len(sink.Errors) != 1 || sink.Errors[0].Folder != "INBOX" || !strings.Contains(sink.Errors[0].Reason, "SEARCH") {
		t.Errorf("%d messages, errors %+v; want INBOX reported, naming the SEARCH answer", len(sink.Items), sink.Errors)
	}
}

// TestMetadataWithoutInternalDate: a FETCH answer without a message's
// INTERNALDATE (a broken server, or an unsolicited FETCH of its flags that
// go-imap hands the command first) gives no received time: the message is
// reported, not stored as received in year 1 nor, under a cutoff, counted
// as older than it.
func TestMetadataWithoutInternalDate(t *testing.T) {
	msgs := []scriptedMessage{twoMessages[0], {uid: 2, body: twoMessages[1].body, noDate: true}}
	for _, after := range []time.Time{{}, time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)} {
		sink := exportScripted(t, "IMAP4rev1", "* LIST () \"/\" INBOX\r\n", msgs, searchAll, export.Options{After: after})
		if len(sink.Items) != 1 || len(sink.Errors) != 1 || sink.Errors[0].Item != "UID 2" || len(sink.Skipped) != 0 {
			t.Errorf("after %v: %d messages, errors %+v, skipped %v; want UID 1 exported and UID 2 reported", after, len(sink.Items), sink.Errors, sink.Skipped)
		}
	}
}

// TestUIDValidityChangedSinceListingWarnsSafely: the folders' UIDVALIDITY
// changed between STATUS and SELECT, on two connections at once: each
// folder is exported with a warning, and the warnings, written from both
// connections, take their turn on the sink as everything else does (the
// race detector watches).
func TestUIDValidityChangedSinceListingWarnsSafely(t *testing.T) {
	s := startScripted(t, "IMAP4rev1", func(tag, cmd string) string {
		switch verb, _, _ := strings.Cut(strings.ToUpper(cmd), " "); verb {
		case "LIST":
			return "* LIST () \"/\" INBOX\r\n* LIST () \"/\" Work\r\n"
		case "STATUS":
			return strings.Replace(folderAnswers(twoMessages, searchAll)(tag, cmd), "UIDVALIDITY 7", "UIDVALIDITY 6", 1)
		case "EXAMINE", "SELECT":
			time.Sleep(100 * time.Millisecond) // both connections at it at once
		}
		return folderAnswers(twoMessages, searchAll)(tag, cmd)
	})
	src := scriptedSource(s.Addr)
	src.Connections = 2
	sink := &exporttest.Sink{}
	err := exporttest.Bounded(t, time.Minute, "export", func() error {
		return src.Export(context.Background(), sink, export.Options{})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sink.Items) != 4 || len(sink.Warnings) != 2 || !strings.Contains(sink.Warnings[0].Reason, "from 6 to 7") {
		t.Errorf("%d messages, warnings %+v; want 4, and one warning per folder naming both UIDVALIDITY values", len(sink.Items), sink.Warnings)
	}
}

// TestCancelWhileTheServerHoldsAFetch: an interrupted export (SIGINT
// cancels the context) returns at once even while the server sits on a
// FETCH answer, with the context's error, and leaves no goroutine of its
// own behind: the connections are closed under go-imap's reads.
func TestCancelWhileTheServerHoldsAFetch(t *testing.T) {
	release := make(chan struct{})
	held := make(chan struct{}, 4)
	s := startScripted(t, "IMAP4rev1", func(tag, cmd string) string {
		up := strings.ToUpper(cmd)
		switch {
		case strings.HasPrefix(up, "LIST"):
			return "* LIST () \"/\" INBOX\r\n* LIST () \"/\" Work\r\n"
		case strings.HasPrefix(up, "UID FETCH"):
			held <- struct{}{}
			<-release
		}
		return folderAnswers(twoMessages, searchAll)(tag, cmd)
	})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	src := scriptedSource(s.Addr)
	src.Connections = 2
	done := make(chan error, 1)
	go func() { done <- src.Export(ctx, &exporttest.Sink{}, export.Options{}) }()
	<-held
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("export cancelled: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the export did not return within 10 s of its cancellation")
	}
	// The scripted server's goroutines stay until the test ends; the
	// export's (go-imap's readers, the workers) must be gone.
	leftover := func() string {
		buf := make([]byte, 1<<20)
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "imapclient") || strings.Contains(g, "imapconn") || strings.Contains(g, "export/imap.(") {
				return g
			}
		}
		return ""
	}
	deadline := time.Now().Add(5 * time.Second)
	for leftover() != "" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if g := leftover(); g != "" {
		t.Errorf("a goroutine of the export outlived it:\n%s", g)
	}
}

// TestFlatMailboxNameWithSlash: a server with no hierarchy (LIST's
// delimiter NIL) may name a mailbox "a/b": one flat folder, not b inside
// a; the "/" becomes "_" and the folder's notes say so.
func TestFlatMailboxNameWithSlash(t *testing.T) {
	sink := exportScripted(t, "IMAP4rev1", "* LIST () NIL INBOX\r\n* LIST () NIL \"2024/Q1\"\r\n", twoMessages, searchAll, export.Options{})
	f := sink.Folder("2024_Q1")
	if f == nil || len(f.Notes) != 1 || !strings.Contains(f.Notes[0], `"2024/Q1"`) || len(sink.InFolder("2024_Q1")) != 2 {
		t.Errorf("folders %+v; want 2024_Q1 with a note naming \"2024/Q1\" and its 2 messages", sink.Folders)
	}
}

// TestFolderDoneHoldsNoUIDs: the UID list of a folder (4 bytes a message,
// 4 MB for a million) is let go once the folder is done, not held until
// the whole mailbox is: memory follows the largest folder, not the
// mailbox. Folder A lists a million UIDs, all expunged by the time they
// are fetched; the heap is read while the server holds B's first FETCH.
func TestFolderDoneHoldsNoUIDs(t *testing.T) {
	const n = 1_000_000
	measure := make(chan struct{})
	measured := make(chan struct{})
	var selected string
	held := func() int { // A a million messages, B two
		if selected == "B" {
			return 2
		}
		return n
	}
	s := startScripted(t, "IMAP4rev1 ESEARCH", func(tag, cmd string) string {
		up := strings.ToUpper(cmd)
		switch {
		case strings.HasPrefix(up, "LIST"):
			return "* LIST () \"/\" A\r\n* LIST () \"/\" B\r\n"
		case strings.HasPrefix(up, "STATUS"):
			return fmt.Sprintf("* STATUS %s (UIDVALIDITY 7 UIDNEXT %d)\r\n", strings.Fields(cmd)[1], n+1)
		case strings.HasPrefix(up, "EXAMINE"):
			selected = strings.Trim(strings.Fields(cmd)[1], `"`)
			return fmt.Sprintf("* %d EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n", held())
		case strings.HasPrefix(up, "UID SEARCH RETURN"):
			return fmt.Sprintf("* ESEARCH (TAG %q) UID ALL 1:%d\r\n", tag, held())
		case strings.HasPrefix(up, "UID SEARCH"):
			return "* SEARCH\r\n" // the check: gone
		case strings.HasPrefix(up, "UID FETCH") && selected == "B":
			close(measure)
			<-measured
			return ""
		}
		return "" // A's FETCHes: nothing, all expunged meanwhile
	})
	src := scriptedSource(s.Addr)
	src.Chunk = 100_000
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	sink := &exporttest.Sink{}
	go func() { done <- src.Export(ctx, sink, export.Options{}) }()
	select {
	case <-measure:
	case err := <-done:
		t.Fatalf("export ended before B: %v; errors %+v, skipped %v", err, sink.Errors, sink.Skipped)
	case <-time.After(2 * time.Minute):
		t.Fatal("folder A not done within 2 minutes")
	}
	runtime.GC()
	var at runtime.MemStats
	runtime.ReadMemStats(&at)
	close(measured)
	cancel()
	<-done
	grew := int64(at.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew by %.1f MB with A done and B under way", float64(grew)/(1<<20))
	if grew > 2<<20 {
		t.Errorf("the heap holds %.1f MB more with folder A done: its %d UIDs are kept", float64(grew)/(1<<20), n)
	}
}

// TestMailboxNameNotModifiedUTF7: a server that sends a mailbox name as
// it is ("R&D", not "R&-D"; 8-bit text) fails go-imap's whole LIST. That
// one folder is reported, by the name the server sent; every other
// folder is exported.
func TestMailboxNameNotModifiedUTF7(t *testing.T) {
	list := "* LIST (\\HasNoChildren) \"/\" INBOX\r\n* LIST () \"/\" \"R&D\"\r\n* LIST () \"/\" \"Caf\xe9\"\r\n" +
		"* LIST () \"/\" \"&AMk-t&AOk-\"\r\n* LIST (\\HasChildren \\Noselect) \".\" Work\r\n* LIST () \".\" Work.2024\r\n"
	sink := exportScripted(t, "IMAP4rev1", list, twoMessages, searchAll, export.Options{})
	if folders := folderPaths(sink); strings.Join(folders, ",") != "INBOX,Work/2024,Été" || len(sink.Items) != 6 {
		t.Errorf("folders %q, %d messages; want INBOX, Work/2024 and Été, 2 messages each", folders, len(sink.Items))
	}
	var bad []string
	for _, e := range sink.Errors {
		bad = append(bad, e.Item)
		if !strings.Contains(e.Reason, "modified UTF-7") {
			t.Errorf("error %+v: want the reason", e)
		}
	}
	if strings.Join(bad, ",") != `(folder "R&D"),(folder "Caf\xe9")` {
		t.Errorf("errors %q; want R&D and the Latin-1 name", bad)
	}
}

// TestPacedByTheBytesRead: --max-bytes-per-second paces by the bytes a
// message's literal holds, not by the RFC822.SIZE the server claims: a
// claim of an exabyte would hold the export for ages.
func TestPacedByTheBytesRead(t *testing.T) {
	msgs := []scriptedMessage{twoMessages[0], {uid: 2, body: twoMessages[1].body, size: 1 << 60}}
	start := time.Now()
	sink := exportScripted(t, "IMAP4rev1", "* LIST () \"/\" INBOX\r\n", msgs, searchAll, export.Options{}, ratelimit.NewPacer(1<<20, 0))
	if len(sink.Items) != 2 || len(sink.Errors) != 0 || time.Since(start) > 20*time.Second {
		t.Errorf("%d messages, errors %+v, in %s; want both, at once", len(sink.Items), sink.Errors, time.Since(start))
	}
}

// TestSubscriptionsWithoutListExtended: a server without LIST-EXTENDED
// (Exchange) tells subscriptions only with LSUB: the folders it names are
// subscribed in the archive, the others not.
func TestSubscriptionsWithoutListExtended(t *testing.T) {
	answer := folderAnswers(twoMessages, searchAll)
	s := startScripted(t, "IMAP4rev1", func(tag, cmd string) string {
		switch verb, _, _ := strings.Cut(strings.ToUpper(cmd), " "); verb {
		case "LIST":
			return "* LIST () \"/\" INBOX\r\n* LIST () \"/\" Work\r\n* LIST () \"/\" Other\r\n"
		case "LSUB":
			return "* LSUB () \"/\" INBOX\r\n* LSUB () \"/\" Work\r\n* LSUB () \"/\" Gone\r\n"
		}
		return answer(tag, cmd)
	})
	sink := &exporttest.Sink{}
	err := exporttest.Bounded(t, time.Minute, "export", func() error {
		return scriptedSource(s.Addr).Export(context.Background(), sink, export.Options{})
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"INBOX": true, "Work": true, "Other": false} {
		if f := sink.Folder(name); f == nil || f.Subscribed != want {
			t.Errorf("folder %s: %+v, want subscribed %v", name, f, want)
		}
	}
	if len(sink.Folders) != 3 || len(sink.Items) != 6 {
		t.Errorf("%d folders, %d messages; want 3 and 6", len(sink.Folders), len(sink.Items))
	}
}
