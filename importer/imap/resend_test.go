package imap

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"golang.org/x/sync/semaphore"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/importer/imap/appender"
	"github.com/mailhaul/mailhaul/importer/imap/faultserver"
	"github.com/mailhaul/mailhaul/internal/faultproxy"
	"github.com/mailhaul/mailhaul/internal/journal"
	"github.com/mailhaul/mailhaul/internal/ratelimit"
	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/report"
)

// TestThrottledBatchIsNeverGivenUp throttles a batch three times as often
// as a dropped connection may cut it off, each answer asking for a pause
// of its own: it must arrive, once, after the server's pauses were
// honoured and the window shrank each time. It would fail if throttling
// used up a fixed number of tries.
func TestThrottledBatchIsNeverGivenUp(t *testing.T) {
	const throttles = 3 * sendTries
	const wait = 30 * time.Millisecond
	var mu sync.Mutex
	refused := 0
	hook := func(conn, n int) error {
		mu.Lock()
		defer mu.Unlock()
		if refused == throttles {
			return nil
		}
		refused++
		return &imap.Error{Type: imap.StatusResponseTypeNo,
			Text: fmt.Sprintf("Request is throttled. Suggested Backoff Time: %d milliseconds", wait.Milliseconds())}
	}
	msgs := uniqueMessages(1)
	srv, opt, archive := hooked(t, hook, format.Folder{Path: "INBOX", Role: format.RoleInbox}, msgs)
	window := ratelimit.NewAIMD(1, 1, 1)
	opt.MaxBackoff, opt.Limits.Window = 10*time.Millisecond, window
	start := time.Now()
	rep, err := opt.run(context.Background(), []string{archive})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s; %s; took %s; window %+v", rep.Line(), rep.Statement, took.Round(time.Millisecond), window.Stats())
	if rep.Failed != 0 || rep.Imported != len(msgs) {
		t.Fatalf("imported %d, failed %d (%v); want all %d after %d throttles", rep.Imported, rep.Failed, rep.Failures, len(msgs), throttles)
	}
	if refused != throttles {
		t.Fatalf("the server throttled %d times, want %d", refused, throttles)
	}
	if st := window.Stats(); st.Cuts < throttles {
		t.Errorf("the window was cut %d times for %d throttles", st.Cuts, throttles)
	}
	// Each throttle's pause is the server's 30 ms, not the 10 ms
	// MaxBackoff.
	if took < throttles*wait {
		t.Errorf("took %s for %d throttles asking for %s each: the server's wait was not honoured", took, throttles, wait)
	}
	have := map[int64]int{}
	for _, m := range readBack(t, srv.Addr, "u", "p")["INBOX"] {
		have[m.date.Unix()]++
	}
	for i, m := range msgs {
		if n := have[m.received.Unix()]; n != 1 {
			t.Errorf("message %d is on the target %d times, want 1", i, n)
		}
	}
}

// TestFailedCheckKeepsFoundOnesDone checks a batch cut off by a dropped
// connection when the control connection dies during the check: the
// first message is found and counted imported, the check of the second
// (which arrived too) fails, and so does every later check. The found
// message must not be checked (and counted) again: each of the three
// ends once, the two not found failed as maybe on the target. It failed
// before: the batch was tried again whole after the failed check, so the
// found message was counted imported and then failed as well.
func TestFailedCheckKeepsFoundOnesDone(t *testing.T) {
	d, bodies := twoOfThreeLanded(t)
	ctx := context.Background()
	// The control connection goes through a proxy that cuts nothing; the
	// test closes the connection just before the answer of the third
	// FETCH (the index, the first message's content, then the second's).
	var ctlp atomic.Pointer[control]
	var mu sync.Mutex
	fetches := 0
	px, err := faultproxy.Start(faultproxy.Options{Upstream: d.Addr, Verbs: []string{"UID", "FETCH"},
		Answer: func(verb string) {
			mu.Lock()
			fetches++
			n := fetches
			mu.Unlock()
			if n == 3 {
				ctlp.Load().c.Close()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	o, prof, ctl := testControl(t, ctx, px.Addr)
	ctlp.Store(ctl)
	o.MaxBackoff = 10 * time.Millisecond
	j, err := journal.Open(filepath.Join(t.TempDir(), "alice.journal"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	im, lost := droppedBatch(t, ctx, o, prof, ctl, j, bodies)
	ln := &line{}
	im.send(ctx, ln, lost)
	if ln.cur != nil {
		im.hangUp(ln.cur)
		t.Errorf("the batch was sent again; its messages were never checked")
	}
	im.rep.Finish()
	r := im.rep
	mu.Lock()
	n := fetches
	mu.Unlock()
	t.Logf("%d fetches; %s; failures %v", n, r.Line(), r.Failures)
	if n < 3 {
		t.Fatalf("the control connection was not closed during the check (%d fetches)", n)
	}
	if r.Imported != 1 {
		t.Errorf("%d imported, want the first message, found before the check failed", r.Imported)
	}
	countedOnce(t, r, len(bodies))
	for _, f := range r.Failures {
		if f.Item == "INBOX#0" || !strings.Contains(f.Reason, "may be on the target") {
			t.Errorf("failure %+v: want only the unchecked messages, said to be maybe on the target", f)
		}
	}
}

// twoOfThreeLanded starts a Dovecot for alice holding the first two of
// three messages, as if a batch of all three had been cut off by a
// dropped connection, and returns it with the three bodies as sent.
func twoOfThreeLanded(t *testing.T) (*testservers.Dovecot, [][]byte) {
	t.Helper()
	msgs := uniqueMessages(3)
	bodies := make([][]byte, len(msgs))
	for i := range msgs {
		bodies[i] = crlf(msgs[i].body)
	}
	return aliceWith(t, bodies[:2]...), bodies // the last one never arrived
}

// droppedBatch builds a job on ctl, as the verify tests drive it by hand,
// and a batch of bodies for INBOX cut off by a dropped connection a minute
// ago, taken from the job's queue as a sender takes it.
func droppedBatch(t *testing.T, ctx context.Context, o *Options, prof Profile, ctl *control, j *journal.Journal, bodies [][]byte) (*job, *batch) {
	t.Helper()
	pres := newPresence(j, false, t.Logf)
	pres.ctl = ctl
	im := &job{opt: o, prof: prof, ctl: ctl, j: j, pres: pres, rep: report.New("alice", "imap", "imap://"+o.Account.Addr, nil),
		queue: newBatchQueue(), mem: semaphore.NewWeighted(memBudget), lim: ratelimit.NewAIMD(1, 1, 1), connCtx: ctx}
	b := &box{name: "INBOX"}
	lost := &batch{box: b, uncertain: true, lostAt: time.Now().Add(-time.Minute)}
	for i, body := range bodies {
		sp, err := readSpool(bytes.NewReader(body), "")
		if err != nil {
			t.Fatal(err)
		}
		if err := im.mem.Acquire(ctx, sp.charge()); err != nil {
			t.Fatal(err)
		}
		lost.items = append(lost.items, &item{folder: "INBOX", sourceID: fmt.Sprintf("INBOX#%d", i), box: b, sp: sp,
			key: journal.Key{byte(i + 1)}, msg: appender.Message{Size: sp.size}})
		lost.bytes += sp.size
	}
	im.queue.push(lost)
	im.queue.pop(ctx)
	return im, lost
}

// countedOnce fails t unless r counts each of n messages once: imported,
// failed or not attempted.
func countedOnce(t *testing.T, r *report.Report, n int) {
	t.Helper()
	if got := r.Imported + r.Failed + r.NotAttempted; got != n {
		t.Errorf("report counts %d imported, %d failed, %d not attempted: %d, want each of the %d messages once",
			r.Imported, r.Failed, r.NotAttempted, got, n)
	}
}

// TestTryCreateRecreatesMailbox deletes a mailbox the run created, just
// before the first APPEND into it arrives, as a user tidying up during a
// migration might: the server answers NO [TRYCREATE], and the batch must
// create the mailbox again and be resent, not fail.
func TestTryCreateRecreatesMailbox(t *testing.T) {
	var srvp atomic.Pointer[faultserver.Server]
	var once sync.Once
	deleted := false
	hook := func(conn, n int) error {
		once.Do(func() { deleted = srvp.Load().User("u").Delete("Projects") == nil })
		return nil
	}
	msgs := uniqueMessages(3)
	srv, opt, archive := hooked(t, hook, format.Folder{Path: "Projects"}, msgs)
	srvp.Store(srv)
	rep, err := opt.run(context.Background(), []string{archive})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s; %s; failures %v", rep.Line(), rep.Statement, rep.Failures)
	if !deleted {
		t.Fatal("the test did not delete the mailbox")
	}
	if rep.Failed != 0 || rep.Imported != len(msgs) {
		t.Errorf("imported %d, failed %d (%v); want all %d, the mailbox created again", rep.Imported, rep.Failed, rep.Failures, len(msgs))
	}
	if got := readBack(t, srv.Addr, "u", "p")["Projects"]; len(got) != len(msgs) {
		t.Errorf("Projects holds %d messages, want %d", len(got), len(msgs))
	}
}

// TestTryCreateOnce: a server that answers NO [TRYCREATE] however often
// the mailbox is created gets each message twice (the mailbox created
// once in between), then the message fails with the server's answer.
func TestTryCreateOnce(t *testing.T) {
	var appends atomic.Int32
	hook := func(conn, n int) error {
		appends.Add(1)
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: "no such mailbox, whatever you do"}
	}
	msgs := uniqueMessages(3)
	_, opt, archive := hooked(t, hook, format.Folder{Path: "Projects"}, msgs)
	opt.ErrorBudget = 100
	rep, err := opt.run(context.Background(), []string{archive})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s; %d APPENDs", rep.Line(), appends.Load())
	if n := int(appends.Load()); n != 2*len(msgs) {
		t.Errorf("%d APPENDs for %d messages, want each sent twice", n, len(msgs))
	}
	if rep.Failed != len(msgs) {
		t.Errorf("failed %d, want all %d", rep.Failed, len(msgs))
	}
	for _, f := range rep.Failures {
		if !strings.Contains(f.Reason, "refused") || !strings.Contains(f.Reason, "TRYCREATE") {
			t.Errorf("failure %+v: want the server's answer", f)
		}
	}
}

// TestRefusedBatchIsSplit sends Dovecot one MULTIAPPEND in which one
// message carries a keyword longer than Dovecot accepts (50 characters),
// so the server refuses the whole command: the batch must be split, the
// neighbours arrive with their keywords, and the bad message goes
// without its keywords, which the report says.
func TestRefusedBatchIsSplit(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret"})
	msgs := uniqueMessages(5)
	long := strings.Repeat("K", 60)
	for i := range msgs {
		msgs[i].flags = []string{`\Seen`, "Work"}
	}
	msgs[2].flags = []string{`\Seen`, "Work", long}
	archive := filepath.Join(t.TempDir(), "alice.tgz")
	writeArchive(t, archive, []testFolder{{folder: format.Folder{Path: "INBOX", Role: format.RoleInbox}, msgs: msgs}})
	opt := testRun{Options: Options{Account: account(d.Addr, "alice", "alice-secret"), Provider: "dovecot", Connections: 1,
		Timeout: 20 * time.Second}, Request: importer.Request{User: "alice", StateDir: t.TempDir()}}
	rep, err := opt.run(context.Background(), []string{archive})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s; notes %q; failures %v", rep.Line(), rep.Notes, rep.Failures)
	if rep.Imported != len(msgs) || rep.Failed != 0 {
		t.Errorf("imported %d, failed %d; want all %d", rep.Imported, rep.Failed, len(msgs))
	}
	if !strings.Contains(strings.Join(rep.Notes, "\n"), "INBOX#2 in INBOX: sent without its keywords") {
		t.Errorf("notes %q: want INBOX#2 said to be sent without its keywords", rep.Notes)
	}
	got := readBack(t, d.Addr, "alice", "alice-secret")["INBOX"]
	if len(got) != len(msgs) {
		t.Fatalf("INBOX holds %d messages, want %d", len(got), len(msgs))
	}
	for _, m := range got {
		i := slices.IndexFunc(msgs, func(x testMsg) bool { return x.received.Equal(m.date) })
		work := slices.Contains(m.flags, "Work")
		if i != 2 && !work || i == 2 && (work || slices.Contains(m.flags, long)) {
			t.Errorf("message %d has flags %v", i, m.flags)
		}
	}
}

// hooked starts a fault server for u calling hook on every APPEND, and
// writes an archive of msgs in folder; it returns the server, a run on
// one connection to it, and the archive.
func hooked(t *testing.T, hook func(conn, n int) error, folder format.Folder, msgs []testMsg) (*faultserver.Server, testRun, string) {
	t.Helper()
	srv, err := faultserver.Start(faultserver.Options{Users: map[string]string{"u": "p"}, Hook: hook})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	archive := filepath.Join(t.TempDir(), "u.tgz")
	writeArchive(t, archive, []testFolder{{folder: folder, msgs: msgs}})
	opt := testRun{Options: Options{Account: account(srv.Addr, "u", "p"), Timeout: 10 * time.Second, Connections: 1,
		Settle: time.Millisecond}, Request: importer.Request{User: "u"}}
	return srv, opt, archive
}
