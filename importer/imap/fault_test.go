package imap

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/importer/imap/faultserver"
)

// uniqueMessages makes n distinct plain messages of varied sizes; every
// tenth shares its Message-ID with the one before, as real mailboxes do.
func uniqueMessages(n int) []testMsg {
	out := make([]testMsg, n)
	for i := range out {
		id := i - i%10/9
		body := fmt.Sprintf("From: a@example.org\r\nMessage-ID: <%d@example.org>\r\nSubject: %d\r\n\r\n%s\r\n",
			id, i, bytes.Repeat([]byte("lorem ipsum "), 50+(i*37)%2000))
		out[i] = testMsg{body: []byte(body), flags: []string{`\Seen`}, received: time.Unix(1600000000+int64(i)*60, 0)}
	}
	return out
}

// TestThrottledServer imports through Office 365's budget (an hour lasting
// two seconds), the 10-error disconnect and random drops: nothing may be
// lost or duplicated, and the time is compared with the budget's best.
func TestThrottledServer(t *testing.T) {
	// 300 APPENDs at 8000 need 2.4M of budget, 1.56M more than the burst
	// and overdraft. Each earns at most 5 ms of recharge (1,800), so the
	// server throttles from about the 136th on however slowly the client
	// goes: a loaded machine sees the faults too (by the wall clock alone
	// a client under 70 a second never was).
	budget := faultserver.Office365(time.Second, 8000)
	budget.Pace = 5 * time.Millisecond
	srv, err := faultserver.Start(faultserver.Options{Users: map[string]string{"u": "p"}, Budget: &budget,
		ErrorLimit: 10, DropRate: 0.02, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	msgs := uniqueMessages(300)
	dir := t.TempDir()
	archive := filepath.Join(dir, "u.tgz")
	writeArchive(t, archive, []testFolder{
		{folder: format.Folder{Path: "INBOX", Role: format.RoleInbox}, msgs: msgs[:200]},
		{folder: format.Folder{Path: "Projects"}, msgs: msgs[200:]},
	})
	opt := testRun{Options: Options{Account: account(srv.Addr, "u", "p"), Provider: "office365", Timeout: 10 * time.Second, MaxBackoff: 2 * time.Second, Settle: 50 * time.Millisecond}, Request: importer.Request{User: "u"}}
	// The fault server stores or refuses before it drops: nothing lands
	// late, so no need to wait long before checking (Settle).
	var logs []string
	opt.Logf = func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }
	start := time.Now()
	rep, err := opt.run(context.Background(), []string{archive})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	st := srv.Stats()
	best := budget.BestTime(len(msgs))
	t.Logf("%s; %s", rep.Line(), rep.Statement)
	t.Logf("took %s, budget's best %s (%.2fx); server: %+v", took.Round(time.Millisecond), best, took.Seconds()/best.Seconds(), st)
	if rep.Failed != 0 || rep.Imported+rep.Present != len(msgs) {
		t.Fatalf("imported %d, present %d, failed %d (%v); want all %d", rep.Imported, rep.Present, rep.Failed, rep.Failures, len(msgs))
	}
	if st.Throttled == 0 || st.Drops == 0 {
		t.Errorf("the test did not exercise the faults: %+v", st)
	}
	// Each message is identified by its unique internal date.
	got := readBack(t, srv.Addr, "u", "p")
	have := map[int64]int{}
	for _, box := range []string{"INBOX", "Projects"} {
		for _, m := range got[box] {
			have[m.date.Unix()]++
		}
	}
	for i, m := range msgs {
		if n := have[m.received.Unix()]; n != 1 {
			t.Errorf("message %d is on the target %d times, want 1", i, n)
		}
	}
	if countAll(got) != len(msgs) {
		t.Errorf("target holds %d messages, want %d", countAll(got), len(msgs))
	}
}
