package imap

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/mailhaul/mailhaul/importer/imap/appender"
	"github.com/mailhaul/mailhaul/internal/journal"
	"github.com/mailhaul/mailhaul/internal/ratelimit"
	"github.com/mailhaul/mailhaul/report"
)

// TestVerifyReportsJournalFailure checks a batch cut off by a dropped
// connection whose message did land, while the journal can no longer be
// written: the message is on the target, but the report must say that
// the journal does not know it, never pass over the error.
func TestVerifyReportsJournalFailure(t *testing.T) {
	ctx := context.Background()
	body := crlf(uniqueMessages(1)[0].body)
	d := aliceWith(t, body)

	o, prof, ctl := testControl(t, ctx, d.Addr)
	j, err := journal.Open(filepath.Join(t.TempDir(), "alice.journal"))
	if err != nil {
		t.Fatal(err)
	}
	j.Close() // every write from now on fails, as on a full or lost disk
	pres := newPresence(j, false, t.Logf)
	pres.ctl = ctl
	im := &job{opt: o, prof: prof, ctl: ctl, j: j, pres: pres, rep: report.New("alice", "imap", "imap://"+d.Addr, nil),
		queue: newBatchQueue(), mem: semaphore.NewWeighted(memBudget), lim: ratelimit.NewAIMD(1, 1, 1)}
	sp, err := readSpool(bytes.NewReader(body), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := im.mem.Acquire(ctx, sp.charge()); err != nil {
		t.Fatal(err)
	}
	b := &box{name: "INBOX"}
	it := &item{folder: "INBOX", sourceID: "INBOX#0", box: b, sp: sp, key: journal.Key{1},
		msg: appender.Message{Size: sp.size}}
	lost := &batch{box: b, items: []*item{it}, bytes: sp.size, uncertain: true, lostAt: time.Now().Add(-time.Minute)}
	im.queue.push(lost)
	im.queue.pop(ctx)

	if err := im.verify(ctx, lost); err != nil || len(lost.items) != 0 {
		t.Fatalf("verify: %v; it kept %d messages to send again; the one it checks is on the target", err, len(lost.items))
	}
	im.finishNotes()
	im.rep.Finish()
	t.Logf("%s; notes %q; failures %v", im.rep.Line(), im.rep.Notes, im.rep.Failures)
	if im.rep.Imported+im.rep.Failed != 1 {
		t.Errorf("report counts %d imported, %d failed; want the one message", im.rep.Imported, im.rep.Failed)
	}
	said := strings.Join(im.rep.Notes, "\n")
	for _, f := range im.rep.Failures {
		said += "\n" + f.Reason
	}
	if !strings.Contains(said, "journal") || !strings.Contains(said, "file already closed") {
		t.Errorf("the report does not say the journal could not record the message: %q", said)
	}
}
