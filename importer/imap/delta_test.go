package imap

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/internal/trace"
	"github.com/mailhaul/mailhaul/report"
)

// commandLog is the IMAP commands of a run as the --debug trace shows
// them, by conversation: what a small delta costs the server.
type commandLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *commandLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// traced runs fn with the trace going to a commandLog.
func traced(fn func()) *commandLog {
	l := &commandLog{}
	restore := trace.SetOutput(l)
	defer restore()
	fn()
	return l
}

// commands returns the client's commands, verb first ("UID FETCH" for a
// UID command), each with its conversation ("imap#3").
func (l *commandLog) commands() (conns []string, cmds [][2]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(l.buf.Bytes()))
	for sc.Scan() {
		// "15:04:05.000 imap#3 127.0.0.1:1234 C: tag VERB args"
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[3] != "C:" || !strings.HasPrefix(f[1], "imap#") {
			continue
		}
		if !seen[f[1]] {
			seen[f[1]] = true
			conns = append(conns, f[1])
		}
		verb := strings.ToUpper(f[5])
		if verb == "UID" && len(f) > 6 {
			verb += " " + strings.ToUpper(f[6])
		}
		cmds = append(cmds, [2]string{f[1], verb})
	}
	return conns, cmds
}

// count is how many commands of verb were sent.
func (l *commandLog) count(verb string) int {
	_, cmds := l.commands()
	n := 0
	for _, c := range cmds {
		if c[1] == verb {
			n++
		}
	}
	return n
}

// idle are the conversations that logged in and sent nothing else.
func (l *commandLog) idle() []string {
	conns, cmds := l.commands()
	work := map[string]bool{}
	for _, c := range cmds {
		switch c[1] {
		case "LOGIN", "AUTHENTICATE", "CAPABILITY", "ENABLE", "LOGOUT", "ID", "COMPRESS", "STARTTLS":
		default:
			work[c[0]] = true
		}
	}
	var out []string
	for _, c := range conns {
		if !work[c] {
			out = append(out, c)
		}
	}
	return out
}

func (l *commandLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// deltaMsg is message i of a small delta's mailbox.
func deltaMsg(i int) []byte {
	return fmt.Appendf(nil, "Subject: d%04d\r\nMessage-ID: <d%04d@example.org>\r\n\r\nbody %d\r\n", i, i, i)
}

// smallDelta is a user's cutover night as internal/bench/delta.sh makes
// it: a full copy of INBOX (n messages), Archive and Sent, all subscribed,
// imported; then a delta of fresh new messages in INBOX, flips of
// \Flagged on flips of the old ones (read, unread, flagged or not: several
// flag sets) and moves of the first ones to Archive. It returns the
// server, the run and the archives, full first.
func smallDelta(t *testing.T, n, fresh, flips, moves int) (*testservers.Dovecot, testRun, []string) {
	t.Helper()
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret"})
	dir := t.TempDir()
	flagsOf := func(i int) []string {
		if i%2 == 0 {
			return []string{`\Seen`}
		}
		return nil
	}
	var msgs []testMsg
	for i := range n {
		msgs = append(msgs, testMsg{body: deltaMsg(i), id: fmt.Sprintf("INBOX/%d", i), flags: flagsOf(i), received: time.Unix(1e9, 0)})
	}
	full := filepath.Join(dir, "full.tgz")
	writeArchive(t, full, []testFolder{
		{folder: format.Folder{Path: "INBOX", Subscribed: true}, msgs: msgs},
		{folder: format.Folder{Path: "Archive", Subscribed: true}},
		{folder: format.Folder{Path: "Sent", Subscribed: true}, msgs: []testMsg{{body: deltaMsg(9000), id: "Sent/s1", flags: []string{`\Seen`}, received: time.Unix(1e9, 0)}}},
	})
	tr := testRun{Options: Options{Account: account(d.Addr, "alice", "alice-secret"), Provider: "dovecot", Settle: time.Millisecond},
		Request: importer.Request{User: "alice", StateDir: filepath.Join(dir, "state"), ApplyDeletions: true}}
	if rep, err := tr.run(context.Background(), []string{full}); err != nil || rep.Imported != n+1 {
		t.Fatalf("full: %v; %s", err, rep.Statement)
	}

	path := filepath.Join(dir, "delta.tgz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := format.NewWriter(f, format.Manifest{User: "alice", Source: format.Source{Kind: "test"}, After: time.Unix(2e9, 0)},
		&format.WriterOptions{SpillDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"INBOX", "Archive", "Sent"} {
		if err := w.AddFolder(format.Folder{Kind: format.FolderMail, Path: p, Subscribed: true}); err != nil {
			t.Fatal(err)
		}
	}
	for i := n; i < n+fresh; i++ {
		it := format.Item{Kind: format.KindMessage, Folder: "INBOX", SourceID: fmt.Sprintf("INBOX/%d", i), Flags: flagsOf(i), Received: time.Unix(2e9, 0)}
		if err := w.AddItem(it, bytes.NewReader(deltaMsg(i))); err != nil {
			t.Fatal(err)
		}
	}
	var state []format.StateItem
	for i := range n + fresh {
		s := format.StateItem{Kind: format.KindMessage, Folder: "INBOX", SourceID: fmt.Sprintf("INBOX/%d", i), Key: fmt.Sprint(i), Flags: flagsOf(i)}
		switch {
		case i < moves:
			s.Folder, s.SourceID = "Archive", fmt.Sprintf("Archive/%d", i)
		case i < moves+flips:
			s.Flags = append(s.Flags, `\Flagged`)
		}
		state = append(state, s)
	}
	state = append(state, format.StateItem{Kind: format.KindMessage, Folder: "Sent", SourceID: "Sent/s1", Flags: []string{`\Seen`}})
	for _, s := range state {
		if err := w.AddState(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return d, tr, []string{full, path}
}

// checkSmallDelta checks the target after smallDelta's delta.
func checkSmallDelta(t *testing.T, addr string, n, fresh, flips, moves int) {
	t.Helper()
	boxes := readBack(t, addr, "alice", "alice-secret")
	if got := len(boxes["INBOX"]); got != n+fresh-moves {
		t.Errorf("INBOX holds %d messages, want %d", got, n+fresh-moves)
	}
	if got := len(boxes["Archive"]); got != moves {
		t.Errorf("Archive holds %d messages, want %d", got, moves)
	}
	flagged := 0
	for _, m := range boxes["INBOX"] {
		if strings.Contains(strings.Join(m.flags, " "), `\Flagged`) {
			flagged++
		}
	}
	if flagged != flips {
		t.Errorf("INBOX has %d messages flagged, want %d", flagged, flips)
	}
}

// TestSmallDeltaCommands: one user's small delta (bench/delta.sh's
// night) costs the server a fixed handful of commands, as the --debug
// trace shows them: one login per connection used (the control one and
// one append connection for a few new messages), no SUBSCRIBE of a
// folder subscribed already, a SELECT only of the mailbox with work (not
// of every folder, not twice), and the flag changes of many messages of
// several flag sets in one mailbox in one FETCH and one STORE.
func TestSmallDeltaCommands(t *testing.T) {
	const n, fresh, flips, moves = 60, 5, 30, 2
	d, tr, archives := smallDelta(t, n, fresh, flips, moves)
	var rep *report.Report
	var err error
	log := traced(func() { rep, err = tr.run(context.Background(), archives) })
	if err != nil {
		t.Fatalf("%v; %s", err, rep.Statement)
	}
	if ch := changesOf(t, rep); rep.Imported != fresh || ch.Updated != flips || ch.Moved != moves || len(ch.Conflicts)+len(rep.Failures) != 0 {
		t.Errorf("imported %d, changes %+v, failures %v; want %d imported, %d updated, %d moved", rep.Imported, ch, rep.Failures, fresh, flips, moves)
	}
	checkSmallDelta(t, d.Addr, n, fresh, flips, moves)
	conns, _ := log.commands()
	logins := log.count("LOGIN") + log.count("AUTHENTICATE")
	t.Logf("%d connections, %d logins, %d SELECT, %d SUBSCRIBE, %d UID FETCH, %d UID STORE, %d UID MOVE, %d APPEND",
		len(conns), logins, log.count("SELECT"), log.count("SUBSCRIBE"), log.count("UID FETCH"), log.count("UID STORE"), log.count("UID MOVE"), log.count("APPEND"))
	if len(conns) != 2 || logins != 2 {
		t.Errorf("%d connections, %d logins; want 2 of each (control, one append connection)", len(conns), logins)
	}
	if idle := log.idle(); len(idle) > 0 {
		t.Errorf("connections %v logged in and did nothing", idle)
	}
	if got := log.count("SUBSCRIBE"); got != 0 {
		t.Errorf("%d SUBSCRIBE; every folder was subscribed already", got)
	}
	if got := log.count("CREATE"); got != 0 {
		t.Errorf("%d CREATE; every folder is there already", got)
	}
	// INBOX: new messages looked for and flags changed; Archive only
	// receives a MOVE; Sent has no work.
	if got := log.count("SELECT") + log.count("EXAMINE"); got != 1 {
		t.Errorf("%d SELECT; want 1, of INBOX", got)
	}
	// The index of INBOX for the new messages, then the flags of every
	// message to change or move.
	if got := log.count("UID FETCH"); got != 2 {
		t.Errorf("%d UID FETCH; want 2 (INBOX's index, the flags of its %d messages to change)", got, flips+moves)
	}
	if got := log.count("UID STORE"); got != 1 {
		t.Errorf("%d UID STORE for %d flag changes in one mailbox; want 1", got, flips)
	}
	if got := log.count("UID MOVE"); got != 1 {
		t.Errorf("%d UID MOVE for %d moves from one mailbox to one; want 1", got, moves)
	}
	if t.Failed() {
		t.Logf("trace:\n%s", log)
	}
}

// TestDeltaWithoutNewMessagesOpensNoAppendConnection: a delta of flag
// changes and moves alone is done on the control connection: no append
// connection is opened (nor logged into).
func TestDeltaWithoutNewMessagesOpensNoAppendConnection(t *testing.T) {
	const n, flips, moves = 20, 4, 1
	d, tr, archives := smallDelta(t, n, 0, flips, moves)
	var rep *report.Report
	var err error
	log := traced(func() { rep, err = tr.run(context.Background(), archives) })
	if err != nil {
		t.Fatalf("%v; %s", err, rep.Statement)
	}
	if ch := changesOf(t, rep); ch.Updated != flips || ch.Moved != moves || rep.Present != n+1 {
		t.Errorf("changes %+v, %d present; want %d updated, %d moved, %d present", ch, rep.Present, flips, moves, n+1)
	}
	checkSmallDelta(t, d.Addr, n, 0, flips, moves)
	if conns, _ := log.commands(); len(conns) != 1 || log.count("LOGIN")+log.count("AUTHENTICATE") != 1 {
		t.Errorf("connections %v; want the control connection alone\n%s", conns, log)
	}
	// Nothing to look for on the target: INBOX is selected for its
	// changes alone, and not indexed.
	if got := log.count("SELECT"); got != 1 {
		t.Errorf("%d SELECT; want 1, of INBOX", got)
	}
	if got := log.count("UID FETCH"); got != 1 {
		t.Errorf("%d UID FETCH; want 1, the flags of the messages to change", got)
	}
}
