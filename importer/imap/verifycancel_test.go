package imap

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/mailhaul/mailhaul/importer/imap/appender"
	"github.com/mailhaul/mailhaul/internal/faultproxy"
	"github.com/mailhaul/mailhaul/internal/journal"
	"github.com/mailhaul/mailhaul/internal/ratelimit"
	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/report"
)

// TestCancelDuringVerifyCountsEachOnce cancels a run while it checks a
// batch cut off by a dropped connection: the first message is found (and
// counted imported), then the check of the second fails because the run
// stops. Each message must be counted once, and the unchecked ones said
// to be maybe on the target (they were sent), not "not sent".
func TestCancelDuringVerifyCountsEachOnce(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret"})
	msgs := uniqueMessages(3)
	bodies := make([][]byte, len(msgs))
	c := testservers.IMAPLogin(t, d.Addr, "alice", "alice-secret")
	for i := range msgs {
		bodies[i] = crlf(msgs[i].body)
		if i == 2 {
			continue // the last one never arrived
		}
		ap := c.Append("INBOX", int64(len(bodies[i])), nil)
		ap.Write(bodies[i])
		ap.Close()
		if _, err := ap.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	c.Logout().Wait()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The control connection goes through a proxy that cuts nothing: it
	// cancels the run just before the answer of the third FETCH (the
	// index, the first message's content, then the second's), which the
	// cancelled run then never reads.
	var mu sync.Mutex
	var answers []string
	px, err := faultproxy.Start(faultproxy.Options{Upstream: d.Addr, Verbs: []string{"UID", "FETCH"},
		Answer: func(verb string) {
			mu.Lock()
			answers = append(answers, verb)
			n := len(answers)
			mu.Unlock()
			if n == 3 {
				cancel()
				time.Sleep(200 * time.Millisecond) // the run closes its connection first
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()

	o, prof, ctl := testControl(t, ctx, px.Addr)
	j, err := journal.Open(filepath.Join(t.TempDir(), "alice.journal"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	pres := newPresence(j, false, t.Logf)
	pres.ctl = ctl
	im := &job{opt: o, prof: prof, ctl: ctl, j: j, pres: pres, rep: report.New("alice", "imap", "imap://"+d.Addr, nil),
		queue: newBatchQueue(), mem: semaphore.NewWeighted(memBudget), lim: ratelimit.NewAIMD(1, 1, 1)}
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

	im.send(ctx, &line{}, lost)
	if len(lost.items) != 0 {
		t.Fatalf("the check of a cancelled run left %d messages unrecorded", len(lost.items))
	}
	im.rep.Finish()
	r := im.rep
	t.Logf("answers %v; %s; failures %v; not attempted %v", answers, r.Line(), r.Failures, r.Unsent)
	if ctx.Err() == nil {
		t.Fatal("the run was not cancelled during the check")
	}
	if r.Imported != 1 {
		t.Errorf("%d imported, want the first message, found before the cancel", r.Imported)
	}
	if got := r.Imported + r.Failed + r.NotAttempted; got != len(msgs) {
		t.Errorf("report counts %d imported, %d failed, %d not attempted: %d, want each of the %d messages once",
			r.Imported, r.Failed, r.NotAttempted, got, len(msgs))
	}
	for _, f := range r.Failures {
		if !strings.Contains(f.Reason, "may be on the target") {
			t.Errorf("%s: reason %q; it was sent and may be on the target", f.Item, f.Reason)
		}
	}
	if r.Failed != 2 {
		t.Errorf("%d failed, want the 2 messages sent but not found before the cancel, as maybe on the target", r.Failed)
	}
}
