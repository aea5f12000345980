package imap

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// fixture builds the end-to-end archive: the real corpus spread over
// folders with roles, odd names, flags, keywords (one invalid), dates, a
// LF-only message and one with a NUL byte.
func fixture(t *testing.T) ([]testFolder, map[string]string) {
	// Corpus messages with NUL bytes are left out: Dovecot stores a
	// BINARY upload re-encoded, so a run without its journal cannot
	// recognise one that lacks a Message-ID (see the package notes). The
	// constructed NUL message below still covers BINARY.
	var msgs [][]byte
	for _, m := range corpus(t) {
		if !slices.Contains(m, 0) {
			msgs = append(msgs, m)
		}
	}
	base := time.Date(2021, 3, 4, 5, 6, 7, 0, time.FixedZone("", 3600))
	mk := func(i int, flags ...string) testMsg {
		return testMsg{body: msgs[i%len(msgs)], flags: flags, received: base.Add(time.Duration(i) * time.Hour)}
	}
	var inbox, sent, work, kw []testMsg
	for i := range msgs {
		switch i % 4 {
		case 0:
			inbox = append(inbox, mk(i, `\Seen`))
		case 1:
			sent = append(sent, mk(i, `\Seen`, `\Answered`))
		case 2:
			work = append(work, mk(i))
		default:
			kw = append(kw, mk(i, `\Flagged`, `$Forwarded`, `Custom_Label`, `bad keyword`, `\Recent`))
		}
	}
	lf := testMsg{body: []byte("From: a@example.org\nSubject: lf only\nMessage-ID: <lf@x>\n\nline one\nline two\n"), received: base}
	nul := testMsg{body: []byte("From: a@example.org\r\nSubject: nul\r\n\r\nhas a \x00 byte\r\n"), received: base}
	folders := []testFolder{
		{folder: format.Folder{Path: "INBOX", Role: format.RoleInbox, Subscribed: true}, msgs: append(inbox, lf, nul)},
		{folder: format.Folder{Path: "Sent Messages", Role: format.RoleSent, Subscribed: true}, msgs: sent},
		{folder: format.Folder{Path: "Work/2024", Subscribed: true}, msgs: work},
		{folder: format.Folder{Path: "Keywords"}, msgs: kw},
		{folder: format.Folder{Path: "v1.2"}, msgs: []testMsg{mk(7)}},
		{folder: format.Folder{Path: " Padded "}, msgs: []testMsg{mk(8)}},
		{folder: format.Folder{Path: "Empty"}},
	}
	// Where each source folder must land on Dovecot ("." delimiter).
	want := map[string]string{"INBOX": "INBOX", "Sent Messages": "Sent", "Work/2024": "Work.2024",
		"Keywords": "Keywords", "v1.2": "v1_2", " Padded ": "Padded", "Empty": "Empty"}
	return folders, want
}

func TestDovecotEndToEnd(t *testing.T) {
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret"})
	dir := t.TempDir()
	archive := filepath.Join(dir, "alice.tgz")
	folders, where := fixture(t)
	writeArchive(t, archive, folders)
	opt := testRun{Options: Options{Account: account(d.Addr, "alice", "alice-secret"), Provider: "dovecot"}, Request: importer.Request{User: "alice", StateDir: filepath.Join(dir, "state")}}
	ctx := context.Background()

	plan, _, err := opt.dryRun(ctx, []string{archive})
	if err != nil {
		t.Fatal(err)
	}
	// A dry run writes nothing: not even the journal's directory.
	if _, err := os.Stat(opt.StateDir); !os.IsNotExist(err) {
		t.Errorf("the dry run created %s (%v): it must write nothing", opt.StateDir, err)
	}
	for _, f := range plan.Folders {
		if f.Target != where[f.Source] {
			t.Errorf("dry run maps %q to %q, want %q", f.Source, f.Target, where[f.Source])
		}
	}

	start := time.Now()
	rep, err := opt.run(ctx, []string{archive})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first run: %s (%s); %s", rep.Line(), time.Since(start).Round(time.Millisecond), rep.Statement)
	total := 0
	for _, f := range folders {
		total += len(f.msgs)
	}
	// Only the NUL message may fail, and only if Dovecot lacked BINARY.
	if rep.Imported+rep.Failed != total || rep.Failed > 1 {
		t.Fatalf("first run: imported %d, failed %d (%v), want %d in all", rep.Imported, rep.Failed, rep.Failures, total)
	}
	got := readBack(t, d.Addr, "alice", "alice-secret")
	for _, f := range folders {
		box := where[f.folder.Path]
		msgs, ok := got[box]
		if !ok {
			t.Errorf("mailbox %q (from %q) missing on the target; have %v", box, f.folder.Path, keys(got))
			continue
		}
		compareFolder(t, box, f.msgs, msgs)
	}

	rep2, err := opt.run(ctx, []string{archive})
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Imported != 0 || rep2.Present != rep.Imported {
		t.Errorf("second run: imported %d, present %d; want 0 and %d", rep2.Imported, rep2.Present, rep.Imported)
	}
	// Without the journal (another machine, a lost state dir), the target
	// check alone must prevent duplicates.
	opt.StateDir = filepath.Join(dir, "other-state")
	rep3, err := opt.run(ctx, []string{archive})
	if err != nil {
		t.Fatal(err)
	}
	if rep3.Imported != 0 || rep3.Present != rep.Imported {
		t.Errorf("run without journal: imported %d, present %d; want 0 and %d", rep3.Imported, rep3.Present, rep.Imported)
	}
	after := readBack(t, d.Addr, "alice", "alice-secret")
	for box, msgs := range after {
		if len(msgs) != len(got[box]) {
			t.Errorf("mailbox %q: %d messages after re-runs, %d before", box, len(msgs), len(got[box]))
		}
	}
	if n, want := countAll(after), countAll(got); n != want {
		t.Errorf("after re-runs the target holds %d messages, want %d", n, want)
	}
}

// compareFolder checks bytes (after CRLF normalisation), flags and
// internal dates of one mailbox, as multisets.
func compareFolder(t *testing.T, box string, src []testMsg, got []onTarget) {
	t.Helper()
	type key struct {
		sum   [32]byte
		flags string
		date  int64
	}
	want := map[key]int{}
	for _, m := range src {
		if slices.Contains(m.body, 0) {
			continue // checked separately: BINARY or a reported failure
		}
		flags, _ := cleanFlags(m.flags, permanentFlags{unknown: true})
		sort.Strings(flags)
		want[key{sumOf(crlf(m.body)), fmt.Sprint(flags), m.received.Unix()}]++
	}
	have := map[key]int{}
	for _, m := range got {
		have[key{m.sum, fmt.Sprint(m.flags), m.date.Unix()}]++
	}
	for k, n := range want {
		if have[k] != n {
			t.Errorf("%s: message %x flags %s date %d: on target %d times, want %d", box, k.sum[:6], k.flags, k.date, have[k], n)
		}
	}
	if len(got) < len(want) {
		t.Errorf("%s: %d messages on target, want at least %d", box, len(got), len(want))
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
