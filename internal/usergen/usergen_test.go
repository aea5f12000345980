package usergen

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/migrate/plan"
)

const corpus = "../../testdata/corpus"

func opts(dir string) Options {
	return Options{Dir: dir, Users: 40, Seed: 7, MaxMessages: 60, Skew: 3, MessageBytes: 1500,
		Contacts: 10, Events: 10, HostileEvery: 10, Hostile: 5, Corpus: corpus}
}

// tree hashes every file's name and contents below dir, and each
// message's mtime.
func tree(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %v\n", rel, d.IsDir())
		if !d.IsDir() {
			if sub := filepath.Base(filepath.Dir(p)); sub == "cur" || sub == "new" {
				fmt.Fprintf(h, "%d\n", fi.ModTime().Unix()) // a message's received time
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if _, err := Generate(opts(a)); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(opts(b)); err != nil {
		t.Fatal(err)
	}
	if ta, tb := tree(t, a), tree(t, b); ta != tb {
		t.Error("two runs with the same options wrote different trees")
	}
	c := t.TempDir()
	o := opts(c)
	o.Seed++
	if _, err := Generate(o); err != nil {
		t.Fatal(err)
	}
	if tree(t, a) == tree(t, c) {
		t.Error("another seed wrote the same tree")
	}
	if _, err := Generate(opts(a)); err == nil {
		t.Error("Generate wrote into a directory that is not empty")
	}
}

// heads is the first line of every message file of a Maildir, counted.
func heads(t *testing.T, maildir string) map[string]int {
	t.Helper()
	out := map[string]int{}
	filepath.WalkDir(maildir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(filepath.Base(filepath.Dir(p)) == "cur" || filepath.Base(filepath.Dir(p)) == "new") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		line, _, _ := strings.Cut(string(b), "\r\n")
		out[line]++
		return nil
	})
	return out
}

func TestGenerateSizesHostileAndPIM(t *testing.T) {
	dir := t.TempDir()
	users, err := Generate(opts(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 40 || users[0].Messages != 0 || users[39].Messages != 60+len(users[39].Hostile) {
		t.Fatalf("want 40 users, the first empty and the last with 60 (+hostile): %d users, %d and %d", len(users), users[0].Messages, users[39].Messages)
	}
	small, hostile := 0, 0
	all := map[string]int{}
	for i, u := range users {
		if u.Messages-len(u.Hostile) < 15 {
			small++
		}
		if len(u.Hostile) > 0 {
			hostile++
			if (i+1)%10 != 0 {
				t.Errorf("%s has corpus mail, only every 10th user should", u.Name)
			}
		}
		hs := heads(t, u.Maildir)
		n := 0
		for h, c := range hs {
			all[h] += c
			n += c
		}
		if n != u.Messages {
			t.Errorf("%s: %d message files, User says %d", u.Name, n, u.Messages)
		}
		if u.Messages > 0 && (len(u.ContactUIDs) == 0 || len(u.EventUIDs) == 0) {
			t.Errorf("%s has mail but no contacts or events", u.Name)
		}
		if u.Messages == 0 && u.Contacts != "" {
			t.Errorf("%s is empty but has an address book", u.Name)
		}
		if u.Contacts != "" {
			b, _ := os.ReadFile(u.Contacts)
			if got := strings.Count(string(b), "BEGIN:VCARD"); got != len(u.ContactUIDs) {
				t.Errorf("%s: %d vCards, User says %d", u.Name, got, len(u.ContactUIDs))
			}
		}
	}
	if small < 20 {
		t.Errorf("skew 3: only %d of 40 users have fewer than a quarter of the largest's messages", small)
	}
	if hostile != 4 {
		t.Errorf("%d users with corpus mail, want 4", hostile)
	}
	for h, c := range all {
		if c != 1 {
			t.Errorf("first line %q is on %d messages, want each unique", h, c)
		}
	}
}

func TestWritePlanLoads(t *testing.T) {
	root := t.TempDir()
	users, err := Generate(Options{Dir: filepath.Join(root, "src"), Users: 5, Seed: 1, MaxMessages: 3})
	if err != nil {
		t.Fatal(err)
	}
	path, err := WritePlan(root, users, PlanOptions{Root: filepath.Join(root, "src"), Archives: filepath.Join(root, "arch"),
		IMAPURL: "imap://127.0.0.1:1143", DAVURL: "http://127.0.0.1:5232/", Password: func(l string) string { return "pw-" + l }, UsersAtOnce: 3})
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Load(path)
	if err != nil {
		t.Fatalf("the written plan does not load: %v", err)
	}
	got := p.Users()
	if len(got) != 5 || p.Limits.Users != 3 || p.Source.Contacts != "{localpart}/*.vcf" || p.Source.Calendars != "{localpart}/*.ics" {
		t.Fatalf("plan has %d users, %d at once, contacts %q, calendars %q; want 5, 3 and the user's files", len(got), p.Limits.Users, p.Source.Contacts, p.Source.Calendars)
	}
	for i, u := range got {
		if u.Address != users[i].Name || u.Login != users[i].Login || u.SourcePath != users[i].Maildir {
			t.Errorf("plan user %d: %+v, want %s %s at %s", i, u, users[i].Name, users[i].Login, users[i].Maildir)
		}
	}
}

func TestChange(t *testing.T) {
	dir := t.TempDir()
	users, err := Generate(Options{Dir: dir, Users: 2, Seed: 3, MaxMessages: 40})
	if err != nil {
		t.Fatal(err)
	}
	u := &users[1]
	before := heads(t, u.Maildir)
	c, err := Change(u, 9, 4)
	if err != nil {
		t.Fatal(err)
	}
	if c.Delivered != 4 || c.Moved+c.Flagged != 4 || c.Moved == 0 || c.Flagged == 0 {
		t.Fatalf("Change: %+v, want 4 delivered and 4 moved or flagged", c)
	}
	keptAll(t, before, heads(t, u.Maildir), 4)
	if n, _ := files(filepath.Join(u.Maildir, "new")); len(n) != 4 {
		t.Errorf("%d files in new/, want the 4 delivered", len(n))
	}
}

// keptAll checks that every message of before is once in after, which
// holds delivered more.
func keptAll(t *testing.T, before, after map[string]int, delivered int) {
	t.Helper()
	for h := range before {
		if after[h] != 1 {
			t.Errorf("%q: %d times after the change, want once", h, after[h])
		}
	}
	if len(after) != len(before)+delivered {
		t.Errorf("%d messages after the change, want %d", len(after), len(before)+delivered)
	}
}

func TestChangeBy(t *testing.T) {
	dir := t.TempDir()
	users, err := Generate(Options{Dir: dir, Users: 2, Seed: 5, MaxMessages: 60})
	if err != nil {
		t.Fatal(err)
	}
	u := &users[1]
	set := func(sub string) map[string]bool {
		names, err := files(filepath.Join(u.Maildir, sub, "cur"))
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, n := range names {
			m[n] = true
		}
		return m
	}
	before, inbox, archive := heads(t, u.Maildir), set(""), set(".Archive")
	c, err := ChangeBy(u, 9, Delta{Deliver: 5, Flag: 4, Move: 2})
	if err != nil {
		t.Fatal(err)
	}
	if c != (Changes{Delivered: 5, Flagged: 4, Moved: 2}) {
		t.Fatalf("ChangeBy: %+v, want 5 delivered, 4 flagged, 2 moved", c)
	}
	keptAll(t, before, heads(t, u.Maildir), 5)
	// Of the INBOX names that went, 4 came back with \Flagged flipped and
	// 2 are in Archive under the same name.
	inbox2, archive2 := set(""), set(".Archive")
	flipped, moved := 0, 0
	for n := range inbox {
		switch {
		case inbox2[n]:
		case inbox2[toggleFlagged(n)]:
			flipped++
		case archive2[n] && !archive[n]:
			moved++
		default:
			t.Errorf("%s left INBOX for no known place", n)
		}
	}
	if flipped != 4 || moved != 2 || len(inbox2) != len(inbox)-2 || len(archive2) != len(archive)+2 {
		t.Errorf("INBOX %d→%d, Archive %d→%d, %d flipped, %d moved; want 4 flipped and 2 moved", len(inbox), len(inbox2), len(archive), len(archive2), flipped, moved)
	}
	if n, _ := files(filepath.Join(u.Maildir, "new")); len(n) != 5 {
		t.Errorf("%d files in new/, want the 5 delivered", len(n))
	}

	// A user with fewer INBOX messages than asked gets what there is.
	empty := &users[0] // the first user is always empty
	c, err = ChangeBy(empty, 9, Delta{Deliver: 3, Flag: 10, Move: 2})
	if err != nil {
		t.Fatal(err)
	}
	if c != (Changes{Delivered: 3}) {
		t.Errorf("ChangeBy on an empty user: %+v, want only 3 delivered", c)
	}
}
