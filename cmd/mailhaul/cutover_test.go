package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailhaul/mailhaul/compare"
	"github.com/mailhaul/mailhaul/internal/journal"
	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/report"
)

// Issue 13's evidence, end to end through the command against a real
// Dovecot and Radicale: a pre-migration (full export, import imap, import
// dav), then at the source new mail, flags set and cleared, keywords,
// moves (into a new folder and, in a second round, out of it), deletions,
// a folder renamed, a contact and a recurring event edited, a contact
// deleted; meanwhile a flag and a contact changed on the target. The
// delta import applies everything but the deletions (listed), then with
// --apply-deletions the target equals the source, except the two items
// changed on the target, kept and reported as conflicts.

// cutSource is a source the test changes as a mail client would.
type cutSource interface {
	mkFolder(folder string)
	add(id int, folder string, old bool, flags ...string)
	setFlags(id int, flags ...string)
	move(id int, folder string)
	remove(id int)
	renameFolder(from, to string)
	want() map[string]map[string]string // what the target must hold
	exportArgs() []string               // export's arguments, less --out
}

// cutMsg is one message of the source, as the test models it.
type cutMsg struct {
	folder string
	flags  []string // IMAP flags and keywords
	name   string   // the Maildir file's unique name
}

// cutMaildir is a Maildir++ source the test changes as a mail client
// would: renames for flags and moves, removals, new files.
type cutMaildir struct {
	t    *testing.T
	root string
	msgs map[int]*cutMsg
}

// The keywords every folder's dovecot-keywords names: letters a and b.
var cutKeywords = []string{"Project", "Later"}

func newCutMaildir(c *cutover) cutSource {
	return &cutMaildir{t: c.t, root: filepath.Join(c.work, "Maildir"), msgs: map[int]*cutMsg{}}
}

func (m *cutMaildir) exportArgs() []string {
	return []string{"export", "maildir", "--user", cutUser, "--src", m.root}
}

func (m *cutMaildir) dir(folder string) string {
	if folder == "INBOX" {
		return m.root
	}
	return filepath.Join(m.root, "."+folder)
}

func (m *cutMaildir) mkFolder(folder string) {
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(m.dir(folder), sub), 0o755); err != nil {
			m.t.Fatal(err)
		}
	}
	var kw strings.Builder
	for i, k := range cutKeywords {
		fmt.Fprintf(&kw, "%d %s\n", i, k)
	}
	if err := os.WriteFile(filepath.Join(m.dir(folder), "dovecot-keywords"), []byte(kw.String()), 0o644); err != nil {
		m.t.Fatal(err)
	}
}

// info is the Maildir info of an IMAP flag list.
func cutInfo(flags []string) string {
	letters := map[string]string{`\Draft`: "D", `\Flagged`: "F", `\Answered`: "R", `\Seen`: "S"}
	var out []string
	for _, f := range flags {
		if l, ok := letters[f]; ok {
			out = append(out, l)
		} else if i := slices.Index(cutKeywords, f); i >= 0 {
			out = append(out, string(rune('a'+i)))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "")
}

func (m *cutMaildir) path(id int) string {
	msg := m.msgs[id]
	return filepath.Join(m.dir(msg.folder), "cur", msg.name+":2,"+cutInfo(msg.flags))
}

func cutBody(id int) string {
	return fmt.Sprintf("From: sender%d@example.org\r\nTo: alice@example.org\r\nSubject: message %d\r\n"+
		"Message-ID: <m%d@cutover.example>\r\nDate: Mon, 01 Jan 2024 10:%02d:00 +0000\r\n\r\nbody of message %d\r\n", id, id, id, id%60, id)
}

// add delivers message id into folder; old ones are dated before the
// pre-migration.
func (m *cutMaildir) add(id int, folder string, old bool, flags ...string) {
	when := time.Now()
	if old {
		when = time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC).Add(time.Duration(id) * time.Minute)
	}
	m.msgs[id] = &cutMsg{folder: folder, flags: flags, name: fmt.Sprintf("%d.M%dP1.cutover", when.Unix(), id)}
	p := m.path(id)
	if err := os.WriteFile(p, []byte(cutBody(id)), 0o644); err != nil {
		m.t.Fatal(err)
	}
	if err := os.Chtimes(p, when, when); err != nil {
		m.t.Fatal(err)
	}
}

func (m *cutMaildir) setFlags(id int, flags ...string) {
	from := m.path(id)
	m.msgs[id].flags = flags
	if err := os.Rename(from, m.path(id)); err != nil {
		m.t.Fatal(err)
	}
}

func (m *cutMaildir) move(id int, folder string) {
	from := m.path(id)
	m.msgs[id].folder = folder
	if err := os.Rename(from, m.path(id)); err != nil {
		m.t.Fatal(err)
	}
}

func (m *cutMaildir) remove(id int) {
	if err := os.Remove(m.path(id)); err != nil {
		m.t.Fatal(err)
	}
	delete(m.msgs, id)
}

func (m *cutMaildir) renameFolder(from, to string) {
	if err := os.Rename(m.dir(from), m.dir(to)); err != nil {
		m.t.Fatal(err)
	}
	renameIn(m.msgs, from, to)
}

// want is what the target must hold: folder → Message-ID → flags.
func (m *cutMaildir) want() map[string]map[string]string { return wantOf(m.msgs) }

// renameIn moves the model's messages of folder from to folder to.
func renameIn(msgs map[int]*cutMsg, from, to string) {
	for _, msg := range msgs {
		if msg.folder == from {
			msg.folder = to
		}
	}
}

func wantOf(msgs map[int]*cutMsg) map[string]map[string]string {
	out := map[string]map[string]string{}
	for id, msg := range msgs {
		if out[msg.folder] == nil {
			out[msg.folder] = map[string]string{}
		}
		out[msg.folder][fmt.Sprintf("<m%d@cutover.example>", id)] = normFlags(msg.flags)
	}
	return out
}

func normFlags(fs []string) string {
	var out []string
	for _, f := range fs {
		if f != `\Recent` {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// imapHolds lists the target directly: folder → Message-ID → flags, for
// every selectable mailbox (empty ones too).
func imapHolds(t *testing.T, addr, user, pass string) map[string]map[string]string {
	t.Helper()
	c := testservers.IMAPLogin(t, addr, user, pass)
	defer c.Logout()
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, l := range list {
		if slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) {
			continue
		}
		sel, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			t.Fatalf("select %q: %v", l.Mailbox, err)
		}
		out[l.Mailbox] = map[string]string{}
		if sel.NumMessages == 0 {
			continue
		}
		var all imap.SeqSet
		all.AddRange(1, sel.NumMessages)
		msgs, err := c.Fetch(all, &imap.FetchOptions{Flags: true, Envelope: true}).Collect()
		if err != nil {
			t.Fatalf("fetch %q: %v", l.Mailbox, err)
		}
		for _, msg := range msgs {
			id := "<" + msg.Envelope.MessageID + ">"
			if _, dup := out[l.Mailbox][id]; dup {
				t.Errorf("%s holds %s twice", l.Mailbox, id)
			}
			var fs []string
			for _, f := range msg.Flags {
				fs = append(fs, string(f))
			}
			out[l.Mailbox][id] = normFlags(fs)
		}
	}
	return out
}

// sameMail reports how got (the target) differs from want (the source):
// folders the source does not have must be in allowEmpty, and empty.
func sameMail(t *testing.T, what string, got, want map[string]map[string]string, allowEmpty ...string) {
	t.Helper()
	for _, f := range slices.Sorted(maps.Keys(want)) {
		if !maps.Equal(got[f], want[f]) {
			t.Errorf("%s: folder %s on the target:\n  %v\nwant\n  %v", what, f, got[f], want[f])
		}
	}
	for _, f := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[f]; ok || len(got[f]) == 0 && (slices.Contains(allowEmpty, f) || isSpecial(f)) {
			continue
		}
		t.Errorf("%s: folder %s on the target is not at the source: %v", what, f, got[f])
	}
}

// isSpecial: the folders the test Dovecot creates itself.
func isSpecial(f string) bool { return slices.Contains([]string{"Sent", "Drafts", "Trash", "Junk"}, f) }

// DAV: the source's contacts and events.
func cutCard(uid, fn, rev string) string {
	return "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nREV:" + rev + "\r\nFN:" + fn + "\r\nN:" + fn + ";;;;\r\nEND:VCARD\r\n"
}

// davMeaning parses vCards and iCalendar objects into UID → their
// properties (sorted, unfolded), without the ones a server or client
// rewrites (PRODID, VERSION, REV, DTSTAMP): what a comparison by meaning
// looks at. Several components of one UID (a recurring event and its
// overrides) are one object.
func davMeaning(texts ...string) map[string][]string {
	out := map[string][]string{}
	for _, text := range texts {
		text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\n ", "")
		var props []string
		uid := ""
		for _, l := range strings.Split(text, "\n") {
			name, _, _ := strings.Cut(l, ":")
			name, _, _ = strings.Cut(name, ";")
			switch strings.ToUpper(name) {
			case "", "PRODID", "VERSION", "REV", "DTSTAMP", "CALSCALE":
				continue
			case "BEGIN":
				if l == "BEGIN:VCALENDAR" {
					continue
				}
				props = nil
			case "UID":
				uid = strings.TrimPrefix(l, "UID:")
			case "END":
				if l == "END:VCALENDAR" {
					continue
				}
				out[uid] = append(out[uid], props...)
				continue
			}
			props = append(props, l)
		}
	}
	for uid := range out {
		sort.Strings(out[uid])
	}
	return out
}

// cutover is one run of the scenario.
type cutover struct {
	t           *testing.T
	d           *testservers.Dovecot
	r           *testservers.Radicale
	src         cutSource
	vcf, ics    string
	work, state string
	pw, davPw   string
	full        string
	exportArgs  []string
	imapArgs    []string
	davArgs     []string
	davJournal  string
	bin         string // the built command, for the runs a test kills
}

const cutUser, cutPass = "alice", "alice-secret"

// newCutover builds the source and pre-migrates it: full export, import
// imap and import dav, checking the target equals the source.
func newCutover(t *testing.T, newSrc func(*cutover) cutSource) *cutover {
	d := testservers.StartDovecot(t, map[string]string{cutUser: cutPass})
	r := testservers.StartRadicale(t, map[string]string{cutUser: cutPass})
	work := t.TempDir()
	c := &cutover{t: t, d: d, r: r, work: work, state: filepath.Join(work, "state"), pw: writePassword(t, cutPass)}
	c.davPw = c.pw
	c.src = newSrc(c)
	for _, f := range []string{"INBOX", "Archive", "Projects", "Trash"} {
		c.src.mkFolder(f)
	}
	for id := 1; id <= 24; id++ {
		folder := []string{"INBOX", "INBOX", "Archive", "Projects", "Trash"}[id%5]
		var flags []string
		if id%2 == 0 {
			flags = append(flags, `\Seen`)
		}
		if id%7 == 0 {
			flags = append(flags, `\Flagged`, "Project")
		}
		c.src.add(id, folder, true, flags...)
	}
	c.vcf, c.ics = filepath.Join(work, "Contacts.vcf"), filepath.Join(work, "Calendar.ics")
	old := "20240101T000000Z"
	c.write(c.vcf, cutCard("c1", "Bob", old)+cutCard("c2", "Carol", old)+cutCard("c3", "Dan", old)+cutCard("c4", "Eve", old))
	c.write(c.ics, deltaCalendar(cutWeekly("r1", old, "Team meeting", 5, ""), deltaEvent("e1", old, "Lunch")))

	c.exportArgs = append(c.src.exportArgs(), "-q", "--contacts", c.vcf, "--calendar", c.ics)
	mustRun(t, append(clone(c.exportArgs), "--out", filepath.Join(work, "full"))...)
	c.full = filepath.Join(work, "full", cutUser+".tgz")
	c.imapArgs = []string{"import", "imap", "--url", "imap://" + d.Addr, "--user", cutUser, "--password-file", c.pw,
		"--provider", "dovecot", "--state", c.state, "--settle", "1ms"}
	c.davArgs = []string{"import", "dav", "--url", r.URL, "--user", cutUser, "--password-file", c.davPw, "--state", c.state}
	u, _ := url.Parse(r.URL)
	c.davJournal = journal.Path(c.state, cutUser, "dav", u.Host)

	if rep := c.importIMAP(exitOK, c.full); rep.Imported != 24 {
		t.Fatalf("pre-migration imported %d messages, want 24: %s", rep.Imported, rep.Statement)
	}
	if rep := c.importDAV(exitOK, c.full); rep.Imported != 6 {
		t.Fatalf("pre-migration imported %d contacts and events, want 6: %s", rep.Imported, rep.Statement)
	}
	sameMail(t, "after the pre-migration", imapHolds(t, d.Addr, cutUser, cutPass), c.src.want())
	c.sameDAV("after the pre-migration", nil)
	return c
}

// cutWeekly is a weekly event of count occurrences, with an override of
// its second one when override is a summary.
func cutWeekly(uid, stamp, summary string, count int, override string) string {
	s := "BEGIN:VEVENT\r\nUID:" + uid + "\r\nDTSTAMP:" + stamp + "\r\nDTSTART:20300107T090000Z\r\nDTEND:20300107T100000Z\r\n" +
		fmt.Sprintf("RRULE:FREQ=WEEKLY;COUNT=%d\r\n", count) + "SUMMARY:" + summary + "\r\nEND:VEVENT\r\n"
	if override != "" {
		s += "BEGIN:VEVENT\r\nUID:" + uid + "\r\nDTSTAMP:" + stamp + "\r\nRECURRENCE-ID:20300114T090000Z\r\n" +
			"DTSTART:20300114T140000Z\r\nDTEND:20300114T150000Z\r\nSUMMARY:" + override + "\r\nEND:VEVENT\r\n"
	}
	return s
}

func (c *cutover) write(p, s string) {
	c.t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// runReport runs a command in-process with --report and reads the report.
func (c *cutover) runReport(wantCode int, args ...string) (*report.Report, string) {
	c.t.Helper()
	rp := filepath.Join(c.t.TempDir(), "report.json")
	code, stdout, stderr := mailhaul(c.t, append(clone(args), "--report", rp)...)
	if code != wantCode {
		c.t.Fatalf("mailhaul %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, wantCode, stdout, stderr)
	}
	return readReport(c.t, rp), stdout
}

// compare runs mailhaul compare KIND on archives with the import's
// login and returns its result, which must say it differs (exit 3).
func (c *cutover) compare(kind string, archives ...string) compare.Result {
	c.t.Helper()
	args := c.davArgs[2:]
	if kind == "imap" {
		args = slices.DeleteFunc(clone(c.imapArgs[2:]), func(a string) bool { return a == "--settle" || a == "1ms" || a == "--state" || a == c.state })
	}
	code, stdout, stderr := mailhaul(c.t, append(append([]string{"--json", "compare", kind}, args...), archives...)...)
	var res compare.Result
	if err := json.Unmarshal([]byte(lastLine(stdout)), &res); err != nil || code != exitPartial {
		c.t.Fatalf("compare %s: exit %d, %v\n%s%s", kind, code, err, stdout, stderr)
	}
	return res
}

func (c *cutover) importIMAP(code int, extra ...string) *report.Report {
	c.t.Helper()
	rep, _ := c.runReport(code, append(clone(c.imapArgs), extra...)...)
	return rep
}

func (c *cutover) importDAV(code int, extra ...string) *report.Report {
	c.t.Helper()
	rep, _ := c.runReport(code, append(clone(c.davArgs), extra...)...)
	return rep
}

// sameDAV compares the target's contacts and events with the source's
// files by meaning; keep maps a UID to the text the target must hold
// instead (an edit made there, left alone as a conflict).
func (c *cutover) sameDAV(what string, keep map[string]string) {
	c.t.Helper()
	vcf, _ := os.ReadFile(c.vcf)
	ics, _ := os.ReadFile(c.ics)
	want := davMeaning(string(vcf), string(ics))
	for uid, text := range keep {
		want[uid] = davMeaning(text)[uid]
	}
	var bodies []string
	for _, b := range davObjects(c.t, c.davJournal, cutUser, cutPass) {
		bodies = append(bodies, b)
	}
	got := davMeaning(bodies...)
	if len(bodies) != len(got) {
		c.t.Errorf("%s: %d objects on the target for %d UIDs (a duplicate?)", what, len(bodies), len(got))
	}
	for _, uid := range slices.Sorted(maps.Keys(want)) {
		if !slices.Equal(got[uid], want[uid]) {
			c.t.Errorf("%s: %s on the target:\n  %q\nwant\n  %q", what, uid, got[uid], want[uid])
		}
	}
	for uid := range got {
		if _, ok := want[uid]; !ok {
			c.t.Errorf("%s: %s on the target is not at the source: %q", what, uid, got[uid])
		}
	}
}

// deltaSince exports a delta of the source since the archive given.
func (c *cutover) deltaSince(since, name string) string {
	c.t.Helper()
	out := filepath.Join(c.work, name)
	mustRun(c.t, append(clone(c.exportArgs), "--out", out, "--since", since)...)
	deltas, _ := filepath.Glob(filepath.Join(out, cutUser+".after-*.tgz"))
	if len(deltas) != 1 {
		c.t.Fatalf("delta archives in %s: %v", out, deltas)
	}
	return deltas[0]
}

// setTargetFlags replaces the flags of the message with Message-ID id in
// mailbox, as the user would on the new server.
func (c *cutover) setTargetFlags(mailbox string, id int, flags ...imap.Flag) {
	c.t.Helper()
	cl := testservers.IMAPLogin(c.t, c.d.Addr, cutUser, cutPass)
	defer cl.Logout()
	if _, err := cl.Select(mailbox, nil).Wait(); err != nil {
		c.t.Fatal(err)
	}
	crit := &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: fmt.Sprintf("<m%d@cutover.example>", id)}}}
	res, err := cl.UIDSearch(crit, nil).Wait()
	if err != nil || len(res.AllUIDs()) != 1 {
		c.t.Fatalf("search for message %d in %s: %v %v", id, mailbox, res, err)
	}
	if err := cl.Store(imap.UIDSetNum(res.AllUIDs()...), &imap.StoreFlags{Op: imap.StoreFlagsSet, Silent: true, Flags: flags}, nil).Close(); err != nil {
		c.t.Fatal(err)
	}
}

// change makes the first round of changes at the source, and the two on
// the target; it returns the target's version of the conflicting contact.
func (c *cutover) change() string {
	m := c.src
	m.add(101, "INBOX", false)                     // new mail
	m.add(102, "Archive", false, `\Seen`, "Later") // new mail with a keyword
	m.setFlags(1, `\Seen`, `\Answered`)            // set
	m.setFlags(2)                                  // \Seen cleared
	m.setFlags(7, `\Seen`)                         // \Flagged and keyword Project cleared
	m.setFlags(6, "Later", `\Seen`)                // keyword set
	m.move(5, "Archive")                           // INBOX → Archive
	m.move(4, "INBOX")                             // out of Trash
	m.move(11, "Archive")                          // INBOX → Archive
	m.mkFolder("Receipts")
	m.move(12, "Receipts") // into a new folder
	m.move(16, "Receipts")
	m.setFlags(16, `\Seen`, `\Flagged`) // moved and flagged
	m.remove(9)                         // deleted from Trash
	m.remove(10)                        // deleted from INBOX
	m.renameFolder("Projects", "Clients")
	m.setFlags(13, `\Seen`) // and one in the renamed folder changed

	// A contact edited, one deleted, one edited at the source and on the
	// target; the recurring event gets an override and one more week.
	now := time.Now().UTC().Format("20060102T150405Z")
	old := "20240101T000000Z"
	c.write(c.vcf, cutCard("c1", "Bob Smith", now)+cutCard("c2", "Carol Source", now)+cutCard("c3", "Dan", old))
	c.write(c.ics, deltaCalendar(cutWeekly("r1", now, "Team meeting", 6, "Team meeting (moved)"), deltaEvent("e1", old, "Lunch")))

	// On the target: the user flags message 15 (which the source marks
	// read), and edits c2.
	c.setTargetFlags("INBOX", 15, imap.FlagFlagged)
	m.setFlags(15, `\Seen`)
	objs := davObjects(c.t, c.davJournal, cutUser, cutPass)
	target := cutCard("c2", "Carol Target", "20991231T000000Z")
	putDAV(c.t, hrefOf(c.t, objs, "UID:c2"), cutUser, cutPass, target)
	return target
}

// wantAfterConflict is the source's mail with message 15 as the user left
// it on the target.
func (c *cutover) wantAfterConflict() map[string]map[string]string {
	w := c.src.want()
	w["INBOX"]["<m15@cutover.example>"] = `\Flagged`
	return w
}

func TestCutoverMaildir(t *testing.T) { testCutover(t, newCutMaildir, true) }

// testCutover runs the scenario; secondRound adds a second delta (out of
// the new folder, one more deletion), which carries the first delta's
// new mail again (the --since overlap).
func testCutover(t *testing.T, newSrc func(*cutover) cutSource, secondRound bool) {
	c := newCutover(t, newSrc)
	targetC2 := c.change()
	delta := c.deltaSince(c.full, "delta1")

	// (a) Without --apply-deletions: everything but the two deletions,
	// which are listed.
	rep := c.importIMAP(exitOK, c.full, delta)
	ch := rep.Changes
	if ch == nil || rep.Imported != 2 || ch.Moved != 10 || len(ch.WouldDelete) != 2 || ch.Deleted != 0 || len(ch.Conflicts) != 1 {
		t.Fatalf("delta without --apply-deletions: %s\n%+v", rep.Statement, ch)
	}
	if cf := ch.Conflicts[0]; cf.Folder != "INBOX" || !strings.Contains(cf.Reason, `changed on the target since mailhaul set them (now \Flagged, mailhaul set none)`) {
		t.Errorf("conflict %+v, want message 15's flags changed on the target", cf)
	}
	t.Logf("delta (a): %s", rep.Statement)
	// The renamed folder's messages moved; its old mailbox stays, said so.
	if want := `folder "Projects" is no longer at the source (renamed or deleted there): its messages were moved where the source has them; ` +
		`the mailbox "Projects" stays on the target, without them (mailhaul deletes no mailbox)`; !slices.Contains(rep.Notes, want) {
		t.Errorf("notes %q lack %q", rep.Notes, want)
	}
	got := imapHolds(t, c.d.Addr, cutUser, cutPass)
	want := c.wantAfterConflict()
	want["Trash"]["<m9@cutover.example>"] = ""
	want["INBOX"]["<m10@cutover.example>"] = `\Seen`
	sameMail(t, "delta without --apply-deletions", got, want, "Projects")

	drep := c.importDAV(exitOK, delta)
	if dc := drep.Changes; dc == nil || dc.Updated != 2 || len(dc.Conflicts) != 1 || len(dc.WouldDelete) != 1 {
		t.Fatalf("dav delta without --apply-deletions: %s\n%+v", drep.Statement, dc)
	}
	vcf, _ := os.ReadFile(c.vcf)
	c.write(c.vcf, string(vcf)+cutCard("c4", "Eve", "20240101T000000Z")) // still on the target
	c.sameDAV("dav delta without --apply-deletions", map[string]string{"c2": targetC2})
	c.write(c.vcf, string(vcf))

	// (b) With --apply-deletions: the target equals the source, but for
	// the two conflicts, which are kept and reported again.
	rep = c.importIMAP(exitOK, "--apply-deletions", c.full, delta)
	if ch := rep.Changes; ch == nil || rep.Imported != 0 || ch.Deleted != 2 || ch.Moved != 0 || len(ch.Conflicts) != 1 || len(ch.WouldDelete) != 0 {
		t.Fatalf("delta with --apply-deletions: %s\n%+v", rep.Statement, rep.Changes)
	}
	t.Logf("delta (b): %s %+v", rep.Statement, rep.Skips)
	sameMail(t, "delta with --apply-deletions", imapHolds(t, c.d.Addr, cutUser, cutPass), c.wantAfterConflict(), "Projects")
	drep = c.importDAV(exitOK, "--apply-deletions", delta)
	if dc := drep.Changes; dc == nil || dc.Deleted != 1 || len(dc.Conflicts) != 1 {
		t.Fatalf("dav delta with --apply-deletions: %s\n%+v", drep.Statement, dc)
	}
	c.sameDAV("dav delta with --apply-deletions", map[string]string{"c2": targetC2})
	// compare agrees: nothing missing or duplicated, and the only
	// differences are the two conflicts the user made on the target.
	if res := c.compare("imap", c.full, delta); res.Missing+res.Duplicates+res.Content != 0 || res.FlagDiffs != 1 {
		t.Fatalf("compare imap after the cutover: %+v", res)
	}
	if res := c.compare("dav", c.full, delta); res.Missing+res.Duplicates+res.FlagDiffs != 0 || res.Content != 1 {
		t.Fatalf("compare dav after the cutover: %+v", res)
	}

	if !secondRound {
		return
	}
	// A second round: out of the new folder, one more deletion, and the
	// first delta's new mail changed, which the second delta carries
	// again (the --since overlap): 102 flagged at the source, 101 on the
	// target by the user (the source left 101 alone: no conflict). An mbox client rewrites the files for it: 102's
	// bytes change, and removing 17 (Archive) and clearing 1's \Answered
	// (INBOX) shift the offsets of 102 and 101.
	c.src.move(12, "INBOX")
	c.src.remove(17)
	c.src.setFlags(1, `\Seen`)
	c.src.setFlags(102, `\Seen`, `\Flagged`, "Later")
	c.setTargetFlags("INBOX", 101, imap.FlagFlagged)
	delta2 := c.deltaSince(delta, "delta2")
	rep = c.importIMAP(exitOK, "--apply-deletions", c.full, delta, delta2)
	if ch := rep.Changes; ch == nil || rep.Imported != 0 || ch.Moved != 1 || ch.Deleted != 1 || ch.Updated != 2 || len(ch.Conflicts) != 1 {
		t.Fatalf("second delta: %s\n%+v", rep.Statement, rep.Changes)
	}
	want = c.wantAfterConflict()
	want["INBOX"]["<m101@cutover.example>"] = `\Flagged` // the user's, kept
	sameMail(t, "second delta", imapHolds(t, c.d.Addr, cutUser, cutPass), want, "Projects")
}

// TestCutoverSIGKILL kills the delta's imports (imap and dav, with
// --apply-deletions) at random points, then runs them to the end: the
// target converges on the source, nothing is duplicated or lost, and the
// last run's report is right. MAILHAUL_CUTOVER_SEED=n replays a run.
func TestCutoverSIGKILL(t *testing.T) {
	c := newCutover(t, newCutMaildir)
	targetC2 := c.change()
	delta := c.deltaSince(c.full, "delta1")
	bin := buildMailhaul(t)
	// A killed run's last APPEND may still be landing when the next run
	// starts: it looks for it only after --settle (1 ms would duplicate it).
	c.imapArgs[slices.Index(c.imapArgs, "--settle")+1] = "1s"

	seed := time.Now().UnixNano()
	if s := os.Getenv("MAILHAUL_CUTOVER_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (MAILHAUL_CUTOVER_SEED=%d replays it)", seed, seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	// A dry run takes about as long as the run, less its writes and the
	// wait for a killed run's commands to settle: the kills fall within
	// twice that (and the settling), so most land inside the run.
	span := map[string]time.Duration{}
	for _, args := range [][]string{c.imapArgs, c.davArgs} {
		start := time.Now()
		if out, err := exec.Command(bin, append(clone(args), "-q", "--dry-run", "--apply-deletions", c.full, delta)...).CombinedOutput(); err != nil {
			t.Fatalf("dry run: %v\n%s", err, out)
		}
		span[args[1]] = time.Since(start) * 2
		if args[1] == "imap" {
			span[args[1]] += time.Second
		}
	}
	const kills = 8
	for i := range kills {
		args := c.imapArgs
		if i%2 == 1 {
			args = c.davArgs
		}
		delay := time.Duration(rng.Int64N(int64(span[args[1]])))
		cmd := exec.Command(bin, append(clone(args), "-q", "--apply-deletions", c.full, delta)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			t.Logf("kill %d (%s): the run ended before %v: %v", i, args[1], delay, err)
		case <-time.After(delay):
			cmd.Process.Kill() // SIGKILL
			<-done
			t.Logf("kill %d (%s): killed after %v (of %v)", i, args[1], delay.Round(time.Millisecond), span[args[1]].Round(time.Millisecond))
		}
	}

	rep := c.importIMAP(exitOK, "--apply-deletions", c.full, delta)
	// The archives' 26 messages are each imported, found there, or (the
	// two deleted at the source, when a killed run deleted them already)
	// skipped as deleted by an earlier cutover.
	deletedBefore := rep.Skips["expunged at the source: deleted on the target by an earlier cutover, not brought back"]
	if ch := rep.Changes; ch == nil || rep.Failed != 0 || rep.Imported+rep.Present+deletedBefore != 26 || ch.Deleted+deletedBefore != 2 ||
		len(ch.Conflicts) != 1 || len(ch.WouldDelete) != 0 {
		t.Errorf("the imap run after the kills: %s\n%+v\nskips %v", rep.Statement, rep.Changes, rep.Skips)
	}
	t.Logf("imap after the kills: %s", rep.Statement)
	drep := c.importDAV(exitOK, "--apply-deletions", delta)
	if dc := drep.Changes; dc == nil || drep.Failed != 0 || len(dc.Conflicts) != 1 || len(dc.WouldDelete) != 0 {
		t.Errorf("the dav run after the kills: %s\n%+v", drep.Statement, dc)
	}
	t.Logf("dav after the kills: %s", drep.Statement)

	// One more run of each finds nothing left to do.
	rep = c.importIMAP(exitOK, "--apply-deletions", c.full, delta)
	if ch := rep.Changes; rep.Imported != 0 || ch.Updated != 0 || ch.Moved != 0 || ch.Deleted != 0 || len(ch.Conflicts) != 1 {
		t.Errorf("a second imap run changed something: %s\n%+v", rep.Statement, ch)
	}
	drep = c.importDAV(exitOK, "--apply-deletions", delta)
	if dc := drep.Changes; drep.Imported != 0 || dc.Updated != 0 || dc.Deleted != 0 || len(dc.Conflicts) != 1 {
		t.Errorf("a second dav run changed something: %s\n%+v", drep.Statement, dc)
	}
	sameMail(t, "after the kills", imapHolds(t, c.d.Addr, cutUser, cutPass), c.wantAfterConflict(), "Projects")
	c.sameDAV("after the kills", map[string]string{"c2": targetC2})
}

// cutMbox is a tree of mbox files (one per folder, "Inbox" for INBOX)
// that a client rewrites on every change, as Thunderbird or mutt do:
// every offset after a changed message shifts.
type cutMbox struct {
	t     *testing.T
	root  string
	msgs  map[int]*cutMsg
	order map[string][]int // folder → its messages, in file order
	dates map[int]time.Time
}

func newCutMbox(c *cutover) cutSource {
	root := filepath.Join(c.work, "mbox")
	if err := os.MkdirAll(root, 0o755); err != nil {
		c.t.Fatal(err)
	}
	return &cutMbox{t: c.t, root: root, msgs: map[int]*cutMsg{}, order: map[string][]int{}, dates: map[int]time.Time{}}
}

func (m *cutMbox) exportArgs() []string {
	return []string{"export", "mbox", "--user", cutUser, "--src", m.root}
}

func (m *cutMbox) file(folder string) string {
	if folder == "INBOX" {
		folder = "Inbox"
	}
	return filepath.Join(m.root, folder)
}

// write rewrites folder's file from the model.
func (m *cutMbox) write(folder string) {
	var b strings.Builder
	for _, id := range m.order[folder] {
		msg := m.msgs[id]
		status, xstatus, kw := "O", "", []string{}
		for _, f := range msg.flags {
			switch f {
			case `\Seen`:
				status = "RO"
			case `\Answered`:
				xstatus += "A"
			case `\Flagged`:
				xstatus += "F"
			default:
				kw = append(kw, f)
			}
		}
		fmt.Fprintf(&b, "From sender%d@example.org %s\n", id, m.dates[id].UTC().Format(time.ANSIC))
		body := strings.ReplaceAll(cutBody(id), "\r\n", "\n")
		head, rest, _ := strings.Cut(body, "\n\n")
		head = strings.Replace(head, "Date: Mon, 01 Jan 2024 10:", "Date: "+m.dates[id].UTC().Format("Mon, 02 Jan 2006 15:04:05 -0700")+"\nX-Old-Date: 10:", 1)
		b.WriteString(head + "\nStatus: " + status + "\n")
		if xstatus != "" {
			b.WriteString("X-Status: " + xstatus + "\n")
		}
		if len(kw) > 0 {
			b.WriteString("X-Keywords: " + strings.Join(kw, " ") + "\n")
		}
		b.WriteString("\n" + rest + "\n")
	}
	if err := os.WriteFile(m.file(folder), []byte(b.String()), 0o644); err != nil {
		m.t.Fatal(err)
	}
}

func (m *cutMbox) mkFolder(folder string) { m.write(folder) }

func (m *cutMbox) add(id int, folder string, old bool, flags ...string) {
	m.dates[id] = time.Now()
	if old {
		m.dates[id] = time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC).Add(time.Duration(id) * time.Minute)
	}
	m.msgs[id] = &cutMsg{folder: folder, flags: flags}
	m.order[folder] = append(m.order[folder], id)
	m.write(folder)
}

func (m *cutMbox) setFlags(id int, flags ...string) {
	m.msgs[id].flags = flags
	m.write(m.msgs[id].folder)
}

func (m *cutMbox) unlist(id int) {
	f := m.msgs[id].folder
	m.order[f] = slices.DeleteFunc(m.order[f], func(x int) bool { return x == id })
	m.write(f)
}

func (m *cutMbox) move(id int, folder string) {
	m.unlist(id)
	m.msgs[id].folder = folder
	m.order[folder] = append(m.order[folder], id)
	m.write(folder)
}

func (m *cutMbox) remove(id int) {
	m.unlist(id)
	delete(m.msgs, id)
}

func (m *cutMbox) renameFolder(from, to string) {
	if err := os.Rename(m.file(from), m.file(to)); err != nil {
		m.t.Fatal(err)
	}
	m.order[to] = m.order[from]
	delete(m.order, from)
	renameIn(m.msgs, from, to)
}

func (m *cutMbox) want() map[string]map[string]string { return wantOf(m.msgs) }

// TestCutoverMbox is the scenario from an mbox tree, which the client
// rewrites on every change: a message's sourceId survives it (FORMAT.md,
// "mbox sourceIds"), so the second delta, repeating the first one's new
// mail after its files were rewritten, duplicates nothing.
func TestCutoverMbox(t *testing.T) { testCutover(t, newCutMbox, true) }

// cutIMAP is a mailbox on a second Dovecot, changed over IMAP as a
// client would: APPEND, STORE, MOVE, EXPUNGE, CREATE, RENAME.
type cutIMAP struct {
	t    *testing.T
	d    *testservers.Dovecot
	pw   string
	msgs map[int]*cutMsg
}

func newCutIMAP(c *cutover) cutSource {
	d := testservers.StartDovecot(c.t, map[string]string{cutUser: "source-secret"})
	return &cutIMAP{t: c.t, d: d, pw: writePassword(c.t, "source-secret"), msgs: map[int]*cutMsg{}}
}

func (m *cutIMAP) exportArgs() []string {
	return []string{"export", "imap", "--url", "imap://" + m.d.Addr, "--user", cutUser, "--password-file", m.pw, "--provider", "dovecot"}
}

// do runs fn on a session of the source, with the message of id
// selected (its UID), when id is not 0.
func (m *cutIMAP) do(id int, fn func(cl *imapclient.Client, uid imap.UID)) {
	m.t.Helper()
	cl := testservers.IMAPLogin(m.t, m.d.Addr, cutUser, "source-secret")
	defer cl.Logout()
	var uid imap.UID
	if id != 0 {
		if _, err := cl.Select(m.msgs[id].folder, nil).Wait(); err != nil {
			m.t.Fatal(err)
		}
		crit := &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: fmt.Sprintf("<m%d@cutover.example>", id)}}}
		res, err := cl.UIDSearch(crit, nil).Wait()
		if err != nil || len(res.AllUIDs()) != 1 {
			m.t.Fatalf("search for message %d: %v %v", id, res, err)
		}
		uid = res.AllUIDs()[0]
	}
	fn(cl, uid)
}

func imapFlags(fs []string) []imap.Flag {
	out := []imap.Flag{}
	for _, f := range fs {
		out = append(out, imap.Flag(f))
	}
	return out
}

func (m *cutIMAP) mkFolder(folder string) {
	m.do(0, func(cl *imapclient.Client, _ imap.UID) {
		if folder != "INBOX" && !isSpecial(folder) {
			if err := cl.Create(folder, nil).Wait(); err != nil {
				m.t.Fatal(err)
			}
		}
	})
}

func (m *cutIMAP) add(id int, folder string, old bool, flags ...string) {
	when := time.Now()
	if old {
		when = time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC).Add(time.Duration(id) * time.Minute)
	}
	m.msgs[id] = &cutMsg{folder: folder, flags: flags}
	m.do(0, func(cl *imapclient.Client, _ imap.UID) {
		body := cutBody(id)
		cmd := cl.Append(folder, int64(len(body)), &imap.AppendOptions{Flags: imapFlags(flags), Time: when})
		cmd.Write([]byte(body))
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			m.t.Fatal(err)
		}
	})
}

func (m *cutIMAP) setFlags(id int, flags ...string) {
	m.do(id, func(cl *imapclient.Client, uid imap.UID) {
		if err := cl.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: imap.StoreFlagsSet, Silent: true, Flags: imapFlags(flags)}, nil).Close(); err != nil {
			m.t.Fatal(err)
		}
	})
	m.msgs[id].flags = flags
}

func (m *cutIMAP) move(id int, folder string) {
	m.do(id, func(cl *imapclient.Client, uid imap.UID) {
		if _, err := cl.Move(imap.UIDSetNum(uid), folder).Wait(); err != nil {
			m.t.Fatal(err)
		}
	})
	m.msgs[id].folder = folder
}

func (m *cutIMAP) remove(id int) {
	m.do(id, func(cl *imapclient.Client, uid imap.UID) {
		if err := cl.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			m.t.Fatal(err)
		}
		if err := cl.UIDExpunge(imap.UIDSetNum(uid)).Close(); err != nil {
			m.t.Fatal(err)
		}
	})
	delete(m.msgs, id)
}

func (m *cutIMAP) renameFolder(from, to string) {
	m.do(0, func(cl *imapclient.Client, _ imap.UID) {
		if err := cl.Rename(from, to, nil).Wait(); err != nil {
			m.t.Fatal(err)
		}
	})
	renameIn(m.msgs, from, to)
}

func (m *cutIMAP) want() map[string]map[string]string { return wantOf(m.msgs) }

// TestCutoverIMAP is the scenario from a mailbox on another IMAP server
// (export imap), whose state record lists UIDs, flags, sizes and
// Message-IDs: a RENAME keeps the UIDs, a MOVE does not.
func TestCutoverIMAP(t *testing.T) {
	testCutover(t, newCutIMAP, true)
}
