package imap

import (
	"bytes"
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

// TestLabelsPlacedInEachFolder: a message stored once with labels (as
// export imap writes Gmail's) is placed in its folder and in each label's,
// byte-identical with its flags and date, also when it is too large to be
// spooled in memory; the import selection keeps or leaves out each copy
// by its folder, and a later run places only the copy still missing.
func TestLabelsPlacedInEachFolder(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret"})
	dir := t.TempDir()
	when := time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)
	small := []byte("Message-ID: <l@example.com>\r\nSubject: labelled\r\n\r\nbody\r\n")
	big := append([]byte("Subject: big labelled\r\n\r\n"), bytes.Repeat([]byte(strings.Repeat("x", 76)+"\r\n"), 5000)...)
	path := filepath.Join(dir, "labels.tgz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := format.NewWriter(f, format.Manifest{User: "alice", Source: format.Source{Kind: "test"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"INBOX", "Work", "Travel"} {
		if err := w.AddFolder(format.Folder{Kind: format.FolderMail, Path: p}); err != nil {
			t.Fatal(err)
		}
	}
	flags := []string{`\Flagged`, `\Seen`}
	for i, body := range [][]byte{small, big} {
		it := format.Item{Kind: format.KindMessage, Folder: "INBOX", Labels: []string{"Work", "Travel"}, Flags: flags,
			Received: when.Add(time.Duration(i) * time.Hour), SourceID: "7:" + string(rune('1'+i))}
		if err := w.AddItem(it, bytes.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	opt := testRun{Options: Options{Account: account(d.Addr, "alice", "alice-secret"), Provider: "dovecot", Settle: 50 * time.Millisecond},
		Request: importer.Request{User: "alice", StateDir: filepath.Join(dir, "state"), Select: importer.Select{Folders: []string{"INBOX", "Work"}}}}
	rep, err := opt.run(context.Background(), []string{path})
	if err != nil || rep.Imported != 4 || rep.Failed != 0 {
		t.Fatalf("import of INBOX and Work: %v, %d imported, %d failed %v; want 4", err, rep.Imported, rep.Failed, rep.Failures)
	}
	check := func(want map[string]int) {
		t.Helper()
		got := readBack(t, d.Addr, "alice", "alice-secret")
		for box, n := range want {
			if len(got[box]) != n {
				t.Errorf("%s: %d messages, want %d", box, len(got[box]), n)
				continue
			}
			// Parallel connections: the order in a mailbox is the server's.
			slices.SortFunc(got[box], func(a, b onTarget) int { return a.date.Compare(b.date) })
			for i, m := range got[box] {
				body := [][]byte{small, big}[i]
				if m.sum != sumOf(body) || !slices.Equal(m.flags, flags) || !m.date.Equal(when.Add(time.Duration(i)*time.Hour)) {
					t.Errorf("%s message %d: %q %v %s, want %q %v", box, i, m.head, m.flags, m.date, firstLine(body), flags)
				}
			}
		}
	}
	check(map[string]int{"INBOX": 2, "Work": 2, "Travel": 0})

	opt.Select = importer.Select{}
	rep, err = opt.run(context.Background(), []string{path})
	if err != nil || rep.Imported != 2 || rep.Present != 4 || rep.Failed != 0 {
		t.Fatalf("import of all: %v, %d imported, %d present, %d failed; want 2 and 4", err, rep.Imported, rep.Present, rep.Failed)
	}
	check(map[string]int{"INBOX": 2, "Work": 2, "Travel": 2})
}
