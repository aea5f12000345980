package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/internal/usergen"
)

// TestExpect checks expect against files put where it must find them:
// folder names as IMAP shows them, flags as IMAP flags, new/ unflagged,
// and every message counted once.
func TestExpect(t *testing.T) {
	dir := t.TempDir()
	o := usergen.Options{Dir: dir, Users: 1}
	put := func(rel string) {
		p := filepath.Join(dir, "user001", "Maildir", rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("Subject: x\r\n\r\nx\r\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put("cur/1.a:2,FS")
	put("cur/2.a:2,SF") // the same set, letters in another order
	put("new/3.a")
	put("cur/4.a:2,")
	put(".Work.Projects/cur/5.a:2,DRS")
	put(".&AMQ-rger/new/6.a")
	put(".Sent/tmp/7.a") // tmp/ is a delivery in progress: not a message
	var b strings.Builder
	if err := expect(&b, o); err != nil {
		t.Fatal(err)
	}
	want := "user001\tINBOX\t-\t2\n" +
		"user001\tINBOX\t\\Flagged \\Seen\t2\n" +
		"user001\tWork/Projects\t\\Answered \\Draft \\Seen\t1\n" +
		"user001\tÄrger\t-\t1\n"
	if b.String() != want {
		t.Errorf("expect printed\n%s\nwant\n%s", b.String(), want)
	}
}

// TestExpectAfterChange: after changeAll the counts still add up to every
// message, and the moves show in Archive.
func TestExpectAfterChange(t *testing.T) {
	dir := t.TempDir()
	o := usergen.Options{Dir: dir, Users: 3, Seed: 2, MaxMessages: 30}
	us, err := usergen.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, u := range us {
		total += u.Messages
	}
	archive := func() int {
		var b strings.Builder
		if err := expect(&b, o); err != nil {
			t.Fatal(err)
		}
		n, all := 0, 0
		for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
			f := strings.Split(l, "\t")
			c, err := strconv.Atoi(f[3])
			if err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			all += c
			if f[1] == "Archive" {
				n += c
			}
		}
		if all != total {
			t.Errorf("expect counts %d messages, the users hold %d", all, total)
		}
		return n
	}
	before := archive()
	if err := changeAll(o, 7, usergen.Delta{Deliver: 4, Flag: 2, Move: 3}); err != nil {
		t.Fatal(err)
	}
	total += 3 * 4
	// The first user is empty: only the other two have INBOX mail to move.
	if got := archive(); got != before+2*3 {
		t.Errorf("Archive holds %d after the change, want %d", got, before+2*3)
	}
}
