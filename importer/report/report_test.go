package report

import (
	"strings"
	"sync"
	"testing"
)

func TestReportCountsAndStatement(t *testing.T) {
	r := New("alice@example.org", "imap", "imap://127.0.0.1:1143", []string{"alice.tgz"})
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); r.AddImported(10) }()
	}
	wg.Wait()
	r.AddPresent()
	r.AddSkipped("expunged")
	r.Finish()
	if r.Imported != 50 || r.Bytes != 500 || r.Present != 1 || r.Skipped != 1 || r.Partial() {
		t.Fatalf("counts = %d imported, %d bytes, %d present, %d skipped; want 50, 500, 1, 1", r.Imported, r.Bytes, r.Present, r.Skipped)
	}
	if !strings.HasPrefix(r.Statement, "all 52 items") {
		t.Errorf("statement %q should say all 52 items are on the target", r.Statement)
	}
	r.AddFailure(Failure{Folder: "INBOX", Item: "x", Reason: "too big"})
	r.Finish()
	if !r.Partial() || !strings.Contains(r.Statement, "1 of 53 items are NOT") {
		t.Errorf("after a failure: partial=%v statement %q", r.Partial(), r.Statement)
	}
}
