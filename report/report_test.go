package report

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/mailhaul/mailhaul/format"
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

func TestReportStoppedRuns(t *testing.T) {
	r := New("alice", "imap", "imap://x", nil)
	r.AddImported(10)
	r.AddNotAttempted(Failure{Folder: "INBOX", Item: "a", Reason: "not sent"})
	r.Stop("import", errors.New("interrupt"), true)
	r.Finish()
	if r.Status != "cancelled" || r.Failed != 0 || r.NotAttempted != 1 || len(r.Unsent) != 1 || !r.Partial() ||
		!strings.Contains(r.Statement, "stopped early") || strings.HasPrefix(r.Statement, "all ") {
		t.Errorf("cancelled run: status %q, %s, statement %q", r.Status, r.Line(), r.Statement)
	}
	f := New("alice", "dav", "", nil)
	f.Stop("connect", errors.New("login refused"), false)
	f.Finish()
	if f.Status != "failed" || f.Stage != "connect" || f.Error != "login refused" || !strings.Contains(f.Statement, "login refused") {
		t.Errorf("failed run: status %q stage %q error %q statement %q", f.Status, f.Stage, f.Error, f.Statement)
	}
	d := New("alice", "dav", "", nil)
	d.DryRun = true
	d.AddImported(5)
	d.Finish()
	if d.Imported != 0 || d.WouldImport != 1 || d.Bytes != 0 || d.Status != "ok" {
		t.Errorf("dry run: imported %d, would import %d, bytes %d, status %q", d.Imported, d.WouldImport, d.Bytes, d.Status)
	}
}

// TestFolderFailureAndAllRead: a folder that failed with no item in it
// makes the run partial and the statement says so; a stopped run that
// read every archive does not say the rest was not read.
func TestFolderFailureAndAllRead(t *testing.T) {
	r := New("alice", "imap", "imap://127.0.0.1:1143", []string{"alice.tgz"})
	r.AddImported(1)
	r.AddFolderFailure(Failure{Folder: "Empty v1.0", Item: "ignored", Reason: "refused"})
	r.Finish()
	if !r.Partial() || r.Status != "partial" || r.Failed != 0 || r.FailedFolders != 1 || r.Failures[0].Item != "" {
		t.Errorf("partial %v, status %q, failed %d, folders %d, failures %+v", r.Partial(), r.Status, r.Failed, r.FailedFolders, r.Failures)
	}
	if strings.HasPrefix(r.Statement, "all ") || !strings.Contains(r.Statement, "1 empty folders of the archives are NOT on the target") {
		t.Errorf("statement %q", r.Statement)
	}
	if !strings.Contains(r.Line(), "1 folders failed") {
		t.Errorf("line %q", r.Line())
	}

	s := New("alice", "imap", "imap://127.0.0.1:1143", []string{"alice.tgz"})
	s.MarkAllRead()
	s.Stop("import", errors.New("context canceled"), true)
	s.Finish()
	if strings.Contains(s.Statement, "not read") || !strings.Contains(s.Statement, "every item of the archives was read") {
		t.Errorf("statement of a stopped run that read everything: %q", s.Statement)
	}
}

// A run that stopped early says "run the import again to finish" only
// where a re-run can finish (cancellation, a dropped connection); for a
// permanent cause it says what to do instead.
func TestStatementSaysWhatToDo(t *testing.T) {
	again := "run the import again to finish"
	refused := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	// Real client errors from throwaway loopback servers: https:// to a
	// plain-HTTP server, and a certificate not trusted here. Both come
	// wrapped in *url.Error, which is a net.Error; neither is overcome by
	// running again.
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	_, schemeErr := plain.Client().Get("https://" + plain.Listener.Addr().String() + "/")
	untrusted := httptest.NewTLSServer(http.NotFoundHandler())
	defer untrusted.Close()
	_, certErr := (&http.Client{}).Get(untrusted.URL)
	if schemeErr == nil || certErr == nil {
		t.Fatalf("want client errors, got %v and %v", schemeErr, certErr)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	_, refusedErr := (&http.Client{}).Get(closedURL)
	for _, tc := range []struct {
		name      string
		stage     string
		err       error
		cancelled bool
		want      string
	}{
		{"cancelled", "import", context.Canceled, true, again},
		{"connection reset", "import", fmt.Errorf("imap: %w", refused), false, again},
		{"cut connection", "import", fmt.Errorf("imap: %w", io.ErrUnexpectedEOF), false, again},
		{"refused HTTP connection", "import", fmt.Errorf("dav: %w", refusedErr), false, again},
		{"timeout", "import", &url.Error{Op: "Get", URL: "https://127.0.0.1/", Err: context.DeadlineExceeded}, false, again},
		{"https to a plain-HTTP server", "import", fmt.Errorf("dav: %w", schemeErr), false, "scheme and port"},
		{"TLS record from a non-TLS server", "import", fmt.Errorf("imap: %w", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), false, "scheme and port"},
		{"untrusted certificate", "import", fmt.Errorf("dav: %w", certErr), false, "--tls-ca"},
		{"wrong host in certificate", "import", fmt.Errorf("imap: %w", x509.CertificateInvalidError{Reason: x509.NotAuthorizedToSign}), false, "--tls-ca"},
		{"damaged archive", "import", fmt.Errorf("imap: %w", &format.Error{Archive: "a.tgz", Err: format.ErrTruncated}), false, "export it again"},
		{"damaged archive before the run", "archives", &format.Error{Archive: "a.tgz", Err: fmt.Errorf("%w: x", format.ErrStructure)}, false, "export it again"},
		{"newer format", "archives", &format.Error{Archive: "a.tgz", Err: format.ErrVersion}, false, "newer mailhaul"},
		{"another user's archive", "archives", WithAdvice(errors.New("a.tgz holds the mailbox of bob"), "confirm with --archive-user bob"), false, "--archive-user bob"},
		{"bad arguments", "arguments", errors.New("--url is missing"), false, "correct the command line"},
		{"missing archive", "archives", fmt.Errorf("format: %w", fs.ErrNotExist), false, "path"},
	} {
		r := New("alice", "imap", "", nil)
		r.Stop(tc.stage, tc.err, tc.cancelled)
		r.Finish()
		if !strings.Contains(r.Statement, tc.want) || (tc.want != again && strings.Contains(r.Statement, again)) {
			t.Errorf("%s: statement %q; want it to say %q", tc.name, r.Statement, tc.want)
		}
	}
}

// Items left unsent by a run that was not marked stopped are still not on
// the target: the statement must never say "all".
func TestUnsentWithoutStopIsPartial(t *testing.T) {
	r := New("alice", "imap", "imap://x", nil)
	for range 4 {
		r.AddImported(100)
	}
	r.AddNotAttempted(Failure{Folder: "INBOX", Item: "a", Reason: "not sent"})
	r.AddNotAttempted(Failure{Folder: "INBOX", Item: "b", Reason: "not sent"})
	r.Finish()
	if r.Status != "partial" || strings.HasPrefix(r.Statement, "all ") || !strings.Contains(r.Statement, "2 of 6 items are NOT") {
		t.Errorf("unsent items: status %q, statement %q", r.Status, r.Statement)
	}
}

// TestReportCountsChanges: a state record applied shows in the statement
// and the line (added, updated, moved, deleted, conflicts, would-delete),
// conflicts and would-be deletions are listed with their codes, and a run
// that applied none keeps its statement as it was.
func TestReportCountsChanges(t *testing.T) {
	plain := New("alice", "imap", "imap://127.0.0.1:1143", nil)
	plain.AddImported(1)
	plain.Finish()
	if plain.Changes != nil || strings.Contains(plain.Statement, "state") || strings.Contains(plain.Line(), "moved") {
		t.Errorf("a run without a state record speaks of one: %q / %q", plain.Statement, plain.Line())
	}

	r := New("alice", "imap", "imap://127.0.0.1:1143", nil)
	r.StateApplied()
	r.AddImported(10)
	r.AddUpdated()
	r.AddUpdated()
	r.AddMoved()
	r.AddDeleted()
	r.AddConflict(Failure{Folder: "INBOX", Item: "m1", Reason: "flags changed on the target since mailhaul set them"})
	r.AddWouldDelete(Failure{Folder: "Trash", Item: "m2", Reason: "deleted at the source"})
	r.Finish()
	if r.Status != "ok" {
		t.Errorf("status %q: conflicts and would-be deletions are left on purpose, not failures", r.Status)
	}
	for _, want := range []string{"1 added, 2 updated, 1 moved, 1 deleted, 1 left alone as conflicts", "listed under conflicts",
		"1 deleted at the source are still on the target", "--apply-deletions"} {
		if !strings.Contains(r.Statement, want) {
			t.Errorf("statement %q lacks %q", r.Statement, want)
		}
	}
	if l := r.Line(); !strings.Contains(l, "2 updated, 1 moved, 1 deleted, 1 conflicts, 1 would be deleted") {
		t.Errorf("line %q", l)
	}
	c := r.Changes
	if len(c.Conflicts) != 1 || c.Conflicts[0].Code != CodeConflict || c.Conflicts[0].Item != "m1" ||
		len(c.WouldDelete) != 1 || c.WouldDelete[0].Code != CodeWouldDelete || c.WouldDelete[0].Folder != "Trash" {
		t.Errorf("changes listed: %+v", c)
	}
}

// TestReportStatementWithConflicts: the last line of a delta says "all"
// only when every item of the archives is on the target in the source's
// version. Items a delta carries that were updated, or left alone as
// conflicts, count among the items of the archives; a conflict keeps the
// status ok (it is deliberate) but the line says the target's version
// stayed.
func TestReportStatementWithConflicts(t *testing.T) {
	// A DAV-style delta of 3 items: one added, one updated, one conflict.
	r := New("alice", "dav", "http://127.0.0.1:5232/", nil)
	r.StateApplied()
	r.AddImported(10)
	r.AddUpdatedItem()
	r.AddConflictItem(Failure{Item: "c2", Reason: "changed on the target"})
	r.AddDeleted()
	r.Finish()
	want := "not all 3 items of the archives are on the target in the source's version: 1 left alone as conflicts keep the target's version, " +
		"each listed under conflicts with its reason (1 imported now, 0 already there, 1 updated, 1 left as conflicts, 0 skipped on purpose); " +
		"converging on the source's state: 1 added, 1 updated, 0 moved, 1 deleted, 1 left alone as conflicts"
	if r.Statement != want || r.Status != "ok" || r.Partial() {
		t.Errorf("statement %q (status %q)\nwant      %q", r.Statement, r.Status, want)
	}

	// The same without the conflict: all of them, in the source's version.
	r = New("alice", "dav", "http://127.0.0.1:5232/", nil)
	r.StateApplied()
	r.AddImported(10)
	r.AddUpdatedItem()
	r.Finish()
	want = "all 2 items of the archives are on the target in the source's version (1 imported now, 0 already there, 1 updated, 0 skipped on purpose); " +
		"converging on the source's state: 1 added, 1 updated, 0 moved, 0 deleted, 0 left alone as conflicts"
	if r.Statement != want || r.Status != "ok" {
		t.Errorf("statement %q\nwant      %q", r.Statement, want)
	}

	// An IMAP-style conflict on an item already there (a state record
	// entry) is not counted twice, and a failure still makes it partial.
	r = New("alice", "imap", "imap://127.0.0.1:1143", nil)
	r.StateApplied()
	r.AddPresent()
	r.AddPresent()
	r.AddConflict(Failure{Folder: "INBOX", Item: "m1", Reason: "flags changed on the target"})
	r.AddFailure(Failure{Folder: "INBOX", Item: "m2", Reason: "too big"})
	r.Finish()
	want = "1 of 3 items are NOT on the target; each is listed under failures with its reason; " +
		"converging on the source's state: 0 added, 0 updated, 0 moved, 0 deleted, 1 left alone as conflicts (listed under conflicts: the target differs from the source there)"
	if r.Statement != want || r.Status != "partial" {
		t.Errorf("statement %q\nwant      %q", r.Statement, want)
	}
}
