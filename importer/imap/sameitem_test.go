package imap

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// writeMboxArchive writes an archive of folder INBOX holding messages of
// the given sourceIds and bodies, as export mbox gives them.
func writeMboxArchive(t *testing.T, dir, name string, msgs ...[2]string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := format.NewWriter(f, format.Manifest{User: "alice", Source: format.Source{Kind: "mbox"}}, &format.WriterOptions{SpillDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.AddFolder(format.Folder{Kind: format.FolderMail, Path: "INBOX"}); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		it := format.Item{Kind: format.KindMessage, Folder: "INBOX", SourceID: m[0], MessageID: "m@example.com",
			Received: time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)}
		if err := w.AddItem(it, strings.NewReader(m[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

const sameBody = "Subject: same\r\nMessage-ID: <m@example.com>\r\n\r\nbody\r\n"

// An mbox message whose flags a client wrote between two exports comes
// again under its sourceId with other bytes (a Status field): it is the
// message placed, not sent a second time.
func TestSameSourceIDOtherBytesIsNotSentAgain(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret"})
	dir := t.TempDir()
	full := writeMboxArchive(t, dir, "full.tgz", [2]string{"Inbox#<m@example.com>", sameBody})
	delta := writeMboxArchive(t, dir, "delta.tgz", [2]string{"Inbox#<m@example.com>",
		strings.Replace(sameBody, "\r\n\r\n", "\r\nStatus: RO\r\n\r\n", 1)})
	tr := testRun{Options: Options{Account: account(d.Addr, "alice", "alice-secret"), Provider: "dovecot", Settle: time.Millisecond},
		Request: importer.Request{User: "alice", StateDir: filepath.Join(dir, "state")}}
	if rep, err := tr.run(context.Background(), []string{full}); err != nil || rep.Imported != 1 {
		t.Fatalf("full: %v; %s", err, rep.Statement)
	}
	for _, archives := range [][]string{{delta}, {full, delta}} {
		rep, err := tr.run(context.Background(), archives)
		if err != nil || rep.Imported != 0 || rep.Present != len(archives) {
			t.Errorf("%v: %v; %s", archives, err, rep.Statement)
		}
	}
	if got := targetView(t, d.Addr); !slices.Equal(got, []string{"INBOX: same "}) {
		t.Errorf("the target holds %q, want the message once", got)
	}
}

// A message placed from an archive of mailhaul before the mbox sourceIds
// of FORMAT.md ("Inbox#0", an offset) is the message a later archive
// gives under its new sourceId; an identical second copy there is a
// message of its own, sent.
func TestOffsetSourceIDThenNewScheme(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret"})
	dir := t.TempDir()
	full := writeMboxArchive(t, dir, "full.tgz", [2]string{"Inbox#0", sameBody})
	delta := writeMboxArchive(t, dir, "delta.tgz", [2]string{"Inbox#<m@example.com>", sameBody},
		[2]string{"Inbox#<m@example.com>+2", sameBody})
	tr := testRun{Options: Options{Account: account(d.Addr, "alice", "alice-secret"), Provider: "dovecot", Settle: time.Millisecond},
		Request: importer.Request{User: "alice", StateDir: filepath.Join(dir, "state")}}
	if rep, err := tr.run(context.Background(), []string{full}); err != nil || rep.Imported != 1 {
		t.Fatalf("full: %v; %s", err, rep.Statement)
	}
	for run, want := range []int{1, 0} {
		rep, err := tr.run(context.Background(), []string{full, delta})
		if err != nil || rep.Imported != want {
			t.Errorf("run %d: %v; %s; want %d imported", run, err, rep.Statement, want)
		}
	}
	if got := targetView(t, d.Addr); !slices.Equal(got, []string{"INBOX: same ", "INBOX: same "}) {
		t.Errorf("the target holds %q, want the message twice (two copies at the source)", got)
	}
}
