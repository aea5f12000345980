package imap

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/internal/faultproxy"
	"github.com/mailhaul/mailhaul/internal/journal"
)

// TestCancelDuringVerifyCountsEachOnce cancels a run while it checks a
// batch cut off by a dropped connection: the first message is found (and
// counted imported), then the check of the second fails because the run
// stops. Each message must be counted once, and the unchecked ones said
// to be maybe on the target (they were sent), not "not sent".
func TestCancelDuringVerifyCountsEachOnce(t *testing.T) {
	d, bodies := twoOfThreeLanded(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The control connection goes through a proxy that cuts nothing: it
	// cancels the run just before the answer of the third FETCH (the
	// index, the first message's content, then the second's), which the
	// cancelled run then never reads.
	var mu sync.Mutex
	var answers []string
	var closed <-chan struct{} // the control connection's end
	px, err := faultproxy.Start(faultproxy.Options{Upstream: d.Addr, Verbs: []string{"UID", "FETCH"},
		Answer: func(verb string) {
			mu.Lock()
			answers = append(answers, verb)
			n, closed := len(answers), closed
			mu.Unlock()
			if n == 3 {
				cancel()
				// The run closes its connection first (bounded: the
				// counts below tell if it did not).
				select {
				case <-closed:
				case <-time.After(10 * time.Second):
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()

	o, prof, ctl := testControl(t, ctx, px.Addr)
	mu.Lock()
	closed = ctl.c.Closed()
	mu.Unlock()
	j, err := journal.Open(filepath.Join(t.TempDir(), "alice.journal"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	im, lost := droppedBatch(t, ctx, o, prof, ctl, j, bodies)
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
	countedOnce(t, r, len(bodies))
	for _, f := range r.Failures {
		if !strings.Contains(f.Reason, "may be on the target") {
			t.Errorf("%s: reason %q; it was sent and may be on the target", f.Item, f.Reason)
		}
	}
	if r.Failed != 2 {
		t.Errorf("%d failed, want the 2 messages sent but not found before the cancel, as maybe on the target", r.Failed)
	}
}
