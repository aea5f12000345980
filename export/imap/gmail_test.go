package imap_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	imapsrc "github.com/mailhaul/mailhaul/export/imap"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/faultproxy"
	"github.com/mailhaul/mailhaul/internal/gmailfake"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

var gday = time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)

// gmailMessages: one message with three labels (INBOX, Work, Travel),
// one sent, one archived without labels, one in Spam, one in Trash.
func gmailMessages() []gmailfake.Message {
	msg := func(subject string) []byte {
		return []byte("Message-ID: <" + subject + "@example.com>\r\nFrom: a@example.com\r\nSubject: " + subject + "\r\n\r\nBody of " + subject + ".\r\n")
	}
	return []gmailfake.Message{
		{Body: msg("three"), Date: gday, Flags: []string{`\Seen`, `\Flagged`, "$Forwarded"}, Labels: []string{"Work", `\Inbox`, "Travel", `\Important`}},
		{Body: msg("sent"), Date: gday.Add(time.Hour), Flags: []string{`\Seen`}, Labels: []string{`\Sent`}},
		{Body: msg("archived"), Date: gday.Add(2 * time.Hour), Flags: []string{`\Answered`}},
		{Body: msg("spam"), Date: gday.Add(3 * time.Hour), Spam: true},
		{Body: msg("trash"), Date: gday.Add(4 * time.Hour), Labels: []string{"Work"}, Trash: true},
	}
}

func gmailSource(t *testing.T, s *gmailfake.Server) *imapsrc.Source {
	lim, err := imapconn.ProviderLimits("gmail")
	if err != nil {
		t.Fatal(err)
	}
	return &imapsrc.Source{Account: imapconn.Account{Addr: s.Addr, User: "alice", Secret: imapconn.Password("pw")}, Limits: lim}
}

// TestGmailLabelsExportedOnce: a message with three labels is exported
// once, from [Gmail]/All Mail, stored under INBOX with its two other
// labels recorded; the label folders are recorded, their messages
// counted and not read again; Spam and Trash are exported as folders.
func TestGmailLabelsExportedOnce(t *testing.T) {
	s, err := gmailfake.Start("alice", "pw", gmailMessages())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep, err := exportFrom(t, gmailSource(t, s), "alice", t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	// INBOX 1, Work 1, Travel 1, Sent Mail 1, Important 1.
	if rep.Status != "ok" || rep.Counts.Messages != 5 || rep.Skipped[imapsrc.SkipGmailLabel] != 5 {
		t.Fatalf("export: %s, %d messages, skipped %v, errors %v warnings %v; want ok, 5, 5 label copies",
			rep.Status, rep.Counts.Messages, rep.Skipped, rep.Errors, rep.Warnings)
	}
	type placed struct {
		folder string
		labels []string
		flags  []string
	}
	want := map[string]placed{
		"three":    {"INBOX", []string{"Travel", "Work", "[Gmail]/Important"}, []string{`\Seen`, `\Flagged`, "$Forwarded"}},
		"sent":     {"[Gmail]/Sent Mail", nil, []string{`\Seen`}},
		"archived": {"[Gmail]/All Mail", nil, []string{`\Answered`}},
		"spam":     {"[Gmail]/Spam", nil, nil},
		"trash":    {"[Gmail]/Trash", nil, nil},
	}
	roles := map[string]format.Role{}
	err = importer.Walk(context.Background(), []string{rep.Archive}, importer.Visitor{
		Folder: func(_ string, f format.Folder, _ []string) error {
			roles[f.Path] = f.Role
			return nil
		},
		Item: func(_ string, e *format.Entry) error {
			id, _, _ := strings.Cut(strings.TrimPrefix(e.Item.MessageID, "<"), "@")
			w, ok := want[id]
			delete(want, id)
			got := placed{e.Item.Folder, e.Item.Labels, e.Item.Flags}
			if !ok || got.folder != w.folder || !slices.Equal(got.labels, w.labels) || !slices.Equal(got.flags, w.flags) {
				t.Errorf("item %q (exported once? %v): %+v, want %+v", id, ok, got, w)
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 0 {
		t.Errorf("not exported: %v", want)
	}
	for p, r := range map[string]format.Role{"INBOX": format.RoleInbox, "Work": "", "Travel": "", "[Gmail]/All Mail": format.RoleArchive,
		"[Gmail]/Sent Mail": format.RoleSent, "[Gmail]/Drafts": format.RoleDrafts, "[Gmail]/Spam": format.RoleJunk,
		"[Gmail]/Trash": format.RoleTrash, "[Gmail]/Starred": "", "[Gmail]/Important": ""} {
		if got, ok := roles[p]; !ok || got != r {
			t.Errorf("folder %q: recorded %v, role %q; want role %q", p, ok, got, r)
		}
	}
}

// TestGmailExcludedLabelWarned: a label whose folder is left out is not
// recorded, and a warning counts the messages that carry it; without the
// \All folder each label is exported as its folder, with a warning.
func TestGmailExcludedLabelWarned(t *testing.T) {
	s, err := gmailfake.Start("alice", "pw", gmailMessages())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	src := gmailSource(t, s)
	src.Exclude = []string{"Travel"}
	rep, err := exportFrom(t, src, "alice", t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts.Messages != 5 || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0].Reason, "1 messages carry this Gmail label") ||
		!strings.Contains(rep.Warnings[0].Item, "Travel") {
		t.Errorf("excluding Travel: %d messages, warnings %v; want 5 and one warning on Travel", rep.Counts.Messages, rep.Warnings)
	}

	src = gmailSource(t, s)
	src.Exclude = []string{"[[]Gmail]/All Mail"}
	rep, err = exportFrom(t, src, "alice", t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	// INBOX, Work, Travel, Important, Sent Mail, Spam, Trash (Work) each.
	if rep.Counts.Messages != 7 || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0].Reason, "once per label") {
		t.Errorf("without All Mail: %d messages, warnings %v; want 7 and one warning", rep.Counts.Messages, rep.Warnings)
	}
}

// TestGmailIntoDovecot: the Gmail export imported into Dovecot places the
// message with three labels in its three folders, byte-identical, with
// its flags and date (and in [Gmail]/Important's, a label too); a second
// import sends nothing (each copy is journaled); flags and dates come
// through for every message.
func TestGmailIntoDovecot(t *testing.T) {
	s, err := gmailfake.Start("alice", "pw", gmailMessages())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dir := t.TempDir()
	rep, err := exportFrom(t, gmailSource(t, s), "alice", filepath.Join(dir, "out"), "")
	if err != nil || rep.Status != "ok" {
		t.Fatalf("export: %v %+v", err, rep)
	}
	d := testservers.StartDovecot(t, map[string]string{"bob": "b-secret"})
	state := filepath.Join(dir, "state")
	first := importInto(t, d.Addr, "bob", "b-secret", rep.Archive, state)
	if first.Imported != 8 {
		t.Errorf("first import: %d imported, want 8 (four for the labelled message)", first.Imported)
	}
	again := importInto(t, d.Addr, "bob", "b-secret", rep.Archive, state)
	if again.Imported != 0 || again.Present != 8 {
		t.Errorf("second import: %d imported, %d present; want 0 and 8", again.Imported, again.Present)
	}
	src := gmailMessages()
	sum := func(i int) [32]byte { return sha256.Sum256(src[i].Body) }
	type where struct {
		msg   int
		flags []string
	}
	three := []string{"$Forwarded", `\Flagged`, `\Seen`}
	// The target's separator is "."; the folders with a role go to the
	// target's own (All Mail, with the archive role, to Archive).
	want := map[string][]where{
		"INBOX": {{0, three}}, "Work": {{0, three}}, "Travel": {{0, three}}, "[Gmail].Important": {{0, three}},
		"Sent": {{1, []string{`\Seen`}}}, "Archive": {{2, []string{`\Answered`}}},
		"Junk": {{3, nil}}, "Trash": {{4, nil}}, "[Gmail].Starred": nil, "Drafts": nil,
	}
	boxes := map[string]testservers.Mailbox{}
	for _, mb := range testservers.ReadMailboxes(t, d.Addr, "bob", "b-secret") {
		boxes[mb.Name] = mb
	}
	for name, ws := range want {
		mb, ok := boxes[name]
		if !ok {
			t.Errorf("no mailbox %q on the target (have %v)", name, keys(boxes))
			continue
		}
		if len(mb.Messages) != len(ws) {
			t.Errorf("%s: %d messages, want %d", name, len(mb.Messages), len(ws))
			continue
		}
		for i, w := range ws {
			m := mb.Messages[i]
			if m.SHA256 != sum(w.msg) || !slices.Equal(m.Flags, w.flags) || !m.Date.Equal(src[w.msg].Date) {
				t.Errorf("%s: %q flags %v date %s; want message %d, flags %v, date %s", name, m.Head, m.Flags, m.Date, w.msg, w.flags, src[w.msg].Date)
			}
		}
	}
}

func keys(m map[string]testservers.Mailbox) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestGmailLabelNames: labels Gmail sends in modified UTF-7 and as a
// literal (one holding quotes) are matched to their folders.
func TestGmailLabelNames(t *testing.T) {
	msgs := []gmailfake.Message{{Body: []byte("Subject: names\r\n\r\nx\r\n"), Date: gday, Labels: []string{"Ünïcødé/Ärger", `Reise "2024"`}}}
	s, err := gmailfake.Start("alice", "pw", msgs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep, err := exportFrom(t, gmailSource(t, s), "alice", t.TempDir(), "")
	if err != nil || rep.Status != "ok" || rep.Counts.Messages != 1 || len(rep.Warnings) != 0 {
		t.Fatalf("export: %v %+v", err, rep)
	}
	var got []string
	err = importer.Walk(context.Background(), []string{rep.Archive}, importer.Visitor{Item: func(_ string, e *format.Entry) error {
		got = append([]string{e.Item.Folder}, e.Item.Labels...)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{`Reise "2024"`, "Ünïcødé/Ärger"}; !slices.Equal(got, want) {
		t.Errorf("placed in %q, want %q", got, want)
	}
}

// TestGmailThroughCuts: with a proxy cutting connections at random
// points of the UID commands (the label FETCH on its own connection
// too), every message of All Mail is still exported exactly once, with
// its labels.
func TestGmailThroughCuts(t *testing.T) {
	var msgs []gmailfake.Message
	sets := [][]string{{`\Inbox`}, {"Work", "Travel"}, nil, {`\Inbox`, "Work", `\Starred`}, {`\Sent`, "Travel"}}
	for i := range 60 {
		msgs = append(msgs, gmailfake.Message{Body: []byte(fmt.Sprintf("Message-ID: <m%d@example.com>\r\nSubject: %d\r\n\r\nbody %d\r\n", i, i, i)),
			Date: gday.Add(time.Duration(i) * time.Minute), Labels: sets[i%len(sets)]})
	}
	s, err := gmailfake.Start("alice", "pw", msgs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := faultproxy.Start(faultproxy.Options{Upstream: s.Addr, Verbs: []string{"UID"}, Rate: 0.3, Seed: 11,
		Points: []faultproxy.Point{faultproxy.InsideAnswer, faultproxy.Before, faultproxy.AfterCommand}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	src := gmailSource(t, s)
	src.Account.Addr, src.Chunk, src.Retry = p.Addr, 5, quickRetry
	rep, err := exportFrom(t, src, "alice", t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.AnswerCuts == 0 {
		t.Fatalf("the proxy cut %+v: no cut inside an answer", st)
	}
	if rep.Status != "ok" || rep.Counts.Messages != len(msgs) {
		t.Fatalf("export through cuts: %s, %d messages, want ok and %d; errors %v", rep.Status, rep.Counts.Messages, len(msgs), rep.Errors)
	}
	want := []string{"INBOX", "Travel Work", "[Gmail]/All Mail", "INBOX Work [Gmail]/Starred", "[Gmail]/Sent Mail Travel"}
	seen := map[string]bool{}
	err = importer.Walk(context.Background(), []string{rep.Archive}, importer.Visitor{Item: func(_ string, e *format.Entry) error {
		var i int
		fmt.Sscanf(strings.TrimPrefix(e.Item.MessageID, "<"), "m%d@", &i)
		if seen[e.Item.MessageID] {
			t.Errorf("%s exported twice", e.Item.MessageID)
		}
		seen[e.Item.MessageID] = true
		if got := strings.Join(append([]string{e.Item.Folder}, e.Item.Labels...), " "); got != want[i%len(want)] {
			t.Errorf("%s placed in %q, want %q", e.Item.MessageID, got, want[i%len(want)])
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
}

// A Gmail delta whose messages are placed by label carries no state
// record: its lines would name All Mail, and an importer would move every
// message there.
func TestGmailDeltaCarriesNoState(t *testing.T) {
	s, err := gmailfake.Start("alice", "pw", gmailMessages())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep, err := exportFrom(t, gmailSource(t, s), "alice", t.TempDir(), "2000-01-01T00:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts.Messages != 5 {
		t.Fatalf("delta: %d messages, want 5 (errors %v)", rep.Counts.Messages, rep.Errors)
	}
	n := 0
	for it, err := range format.ReadState(rep.Archive, nil) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		t.Errorf("state line: %+v", it)
	}
	warned := false
	for _, p := range rep.Warnings {
		warned = warned || strings.Contains(p.Reason, "no state record")
	}
	if n != 0 || !warned {
		t.Fatalf("%d state lines, warned %v; want none, and a warning saying so", n, warned)
	}
}
