package pim

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/format"
)

// writeFile writes content to a file named name in a fresh directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func addContacts(t *testing.T, name, path string, opt export.Options) *exporttest.Sink {
	t.Helper()
	return add(t, "AddContacts", AddContacts, name, path, opt)
}

func TestNestedAgentCard(t *testing.T) {
	// The outer card has no UID of its own; the agent's UID must not be
	// taken for it, and the nested END:VCARD must not end the outer card.
	in := "BEGIN:VCARD\r\nVERSION:2.1\r\nN:Boss\r\nAGENT:BEGIN:VCARD\r\nVERSION:2.1\r\nN:Assistant\r\nUID:agent-1\r\nEND:VCARD\r\nTEL:1\r\nEND:VCARD\r\n" +
		"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:second\r\nN:Two\r\nEND:VCARD\r\n"
	s := addContacts(t, "book", writeFile(t, "a.vcf", in), export.Options{})
	if len(s.Items) != 2 {
		t.Fatalf("got %d contacts, want 2", len(s.Items))
	}
	first := s.Items[0]
	if first.UID == "agent-1" || first.UID == "" {
		t.Errorf("outer card UID = %q, want a generated one", first.UID)
	}
	wantBody := strings.Replace(in[:strings.Index(in, "BEGIN:VCARD\r\nVERSION:3.0")], "TEL:1\r\nEND:VCARD", "TEL:1\r\nUID:"+first.UID+"\r\nEND:VCARD", 1)
	if string(first.Body) != wantBody {
		t.Errorf("outer card body:\n%q\nwant\n%q", first.Body, wantBody)
	}
	if s.Items[1].UID != "second" || s.Items[1].SourceID != "a.vcf#second" {
		t.Errorf("second card UID %q SourceID %q, want second and a.vcf#second", s.Items[1].UID, s.Items[1].SourceID)
	}

	// The AOSP fixture nests two bare cards in one.
	nest, err := os.ReadFile(filepath.Join(corpus, "vcard/aosp/v21_nest.vcf"))
	if err != nil {
		t.Fatal(err)
	}
	s = exportFile(t, filepath.Join(corpus, "vcard/aosp/v21_nest.vcf"), export.Options{})
	got := s.Items[0].Body
	if uidLine := "UID:" + s.Items[0].UID + "\n"; string(got) != strings.Replace(string(nest), "TEL:1\nEND:VCARD", "TEL:1\n"+uidLine+"END:VCARD", 1) {
		t.Errorf("v21_nest body %q: want the file with %q before the last line", got, uidLine)
	}
}

func TestGeneratedContactUID(t *testing.T) {
	card := "BEGIN:VCARD\nVERSION:3.0\nFN:No Uid\nEND:VCARD\n"
	crlf := strings.ReplaceAll(card, "\n", "\r\n")
	uid := func(name, content string) (string, exporttest.Item) {
		s := addContacts(t, name, writeFile(t, "x.vcf", content), export.Options{})
		if len(s.Items) != 1 {
			t.Fatalf("got %d items, want 1", len(s.Items))
		}
		return s.Items[0].UID, s.Items[0]
	}
	a, item := uid("book", card)
	b, _ := uid("book", card)
	c, itemCRLF := uid("book", crlf)
	d, _ := uid("other", card)
	if a != b {
		t.Errorf("two runs gave UIDs %q and %q, want the same", a, b)
	}
	if a != c {
		t.Errorf("LF and CRLF copies gave UIDs %q and %q, want the same", a, c)
	}
	if a == d {
		t.Errorf("address books book and other both gave UID %q, want different", a)
	}
	if want := strings.Replace(card, "END:VCARD", "UID:"+a+"\nEND:VCARD", 1); string(item.Body) != want {
		t.Errorf("LF body %q, want %q", item.Body, want)
	}
	if want := strings.Replace(crlf, "END:VCARD", "UID:"+a+"\r\nEND:VCARD", 1); string(itemCRLF.Body) != want {
		t.Errorf("CRLF body %q, want %q", itemCRLF.Body, want)
	}
	if !contains(item.Notes, "uid generated") {
		t.Errorf("notes %q lack \"uid generated\"", item.Notes)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestContactsKeepBytesAndWarn(t *testing.T) {
	in := "junk before\r\n\r\n" +
		"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u1\r\nREV:2024-03-01T10:00:00Z\r\nNOTE:folded\r\n  line\r\nEND:VCARD\r\n" +
		"junk between\r\n" +
		"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:u1\r\nREV:20200101T000000Z\r\nEND:VCARD\r\n" +
		"BEGIN:VCARD\r\nUID:u3\r\n" // cut off: no END:VCARD
	s := addContacts(t, "", writeFile(t, "people.vcf", in), export.Options{})
	if f := s.Folders[0]; f.Path != "people" || f.Kind != format.FolderContacts || f.DisplayName != "people" {
		t.Errorf("folder %+v, want contacts folder people", f)
	}
	if len(s.Items) != 3 {
		t.Fatalf("got %d items, want 3", len(s.Items))
	}
	if want := in[strings.Index(in, "BEGIN"):strings.Index(in, "junk between")]; string(s.Items[0].Body) != want {
		t.Errorf("first card %q, want the input bytes %q", s.Items[0].Body, want)
	}
	if got, want := s.Items[0].Received, time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Received from REV = %v, want %v", got, want)
	}
	if s.Items[0].SourceID == s.Items[1].SourceID {
		t.Errorf("cards sharing UID u1 share SourceID %q", s.Items[0].SourceID)
	}
	if s.Items[1].UID == "u1" { // two contacts, one UID: the later one gets another (issue 9, 1)
		t.Errorf("second card keeps UID u1 of a different first card")
	}
	last := s.Items[2]
	if last.UID != "u3" || !bytes.HasPrefix(last.Body, []byte("BEGIN:VCARD\r\nUID:u3\r\n")) {
		t.Errorf("unterminated card: UID %q body %q", last.UID, last.Body)
	}
	// One warning for the stray text (once per file, not per line), one
	// for the card go-vcard rejects for lack of END:VCARD, one for card 2's
	// new UID.
	var stray, parse, uid int
	for _, w := range s.Warnings {
		switch {
		case strings.Contains(w.Item, "outside"):
			stray++
			if !strings.Contains(w.Reason, "2 non-blank") {
				t.Errorf("stray warning %q should count 2 lines", w.Reason)
			}
		case strings.Contains(w.Item, "people.vcf card 3"):
			parse++
		case strings.Contains(w.Item, "people.vcf card 2") && strings.Contains(w.Reason, "uid replaced"):
			uid++
		}
	}
	if stray != 1 || parse != 1 || uid != 1 || len(s.Warnings) != 3 {
		t.Errorf("warnings %v: want one for stray text, one for card 3 and one for card 2's UID", s.Warnings)
	}
}

func TestContactsCutoff(t *testing.T) {
	in := "BEGIN:VCARD\nUID:old\nREV:20100101T000000Z\nEND:VCARD\nBEGIN:VCARD\nUID:new\nREV:20250101T000000Z\nEND:VCARD\n"
	s := addContacts(t, "b", writeFile(t, "c.vcf", in), export.Options{After: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)})
	if len(s.Items) != 1 || s.Items[0].UID != "new" {
		t.Errorf("items %v, want only the card with UID new", s.Items)
	}
	if got := s.Skipped[export.SkipBeforeCutoff]; got != 1 {
		t.Errorf("skipped before cutoff = %d, want 1", got)
	}
}

func TestContactsFileProblems(t *testing.T) {
	var s exporttest.Sink
	if err := AddContacts(context.Background(), &s, "", filepath.Join(t.TempDir(), "missing.vcf"), export.Options{}); err == nil {
		t.Error("missing file: got nil error")
	}
	empty := addContacts(t, "", writeFile(t, "empty.vcf", ""), export.Options{})
	if len(empty.Folders) != 1 || len(empty.Items) != 0 || len(empty.Warnings) != 0 {
		t.Errorf("empty file: folders %v items %d warnings %v, want one folder only", empty.Folders, len(empty.Items), empty.Warnings)
	}
}

func TestUIDHasherChunking(t *testing.T) {
	// A CRLF split across two writes must hash like one written whole.
	in := []byte("A\r\nB\rC\r\n\r\nD\r")
	whole := newUIDHasher("x")
	whole.Write(in)
	bytewise := newUIDHasher("x")
	for i := range in {
		bytewise.Write(in[i : i+1])
	}
	lf := newUIDHasher("x")
	lf.Write([]byte("A\nB\nC\n\nD\n"))
	if a, b, c := whole.UID(), bytewise.UID(), lf.UID(); a != b || a != c {
		t.Errorf("UIDs whole %s, byte by byte %s, LF %s: want all equal", a, b, c)
	}
}

func TestEmptyContactUIDReplaced(t *testing.T) {
	tests := []struct {
		name, in, want string // want holds %s for the generated UID
	}{
		{"crlf", "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:\r\nFN:A\r\nEND:VCARD\r\n",
			"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:%s\r\nFN:A\r\nEND:VCARD\r\n"},
		{"blank value and group", "BEGIN:VCARD\nVERSION:4.0\nitem1.UID:  \nFN:B\nEND:VCARD\n",
			"BEGIN:VCARD\nVERSION:4.0\nUID:%s\nFN:B\nEND:VCARD\n"},
		{"nested agent keeps its own", "BEGIN:VCARD\nVERSION:2.1\nAGENT:BEGIN:VCARD\nUID:\nEND:VCARD\nUID:\nEND:VCARD\n",
			"BEGIN:VCARD\nVERSION:2.1\nAGENT:BEGIN:VCARD\nUID:\nEND:VCARD\nUID:%s\nEND:VCARD\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := addContacts(t, "book", writeFile(t, "a.vcf", tt.in), export.Options{})
			if len(s.Items) != 1 {
				t.Fatalf("got %d contacts, want 1", len(s.Items))
			}
			it := s.Items[0]
			if it.UID == "" {
				t.Fatal("no UID generated for a card with an empty UID")
			}
			if want := fmt.Sprintf(tt.want, it.UID); string(it.Body) != want {
				t.Errorf("body:\n%q\nwant\n%q", it.Body, want)
			}
			if !contains(it.Notes, "uid generated") {
				t.Errorf("notes %q lack %q", it.Notes, "uid generated")
			}
		})
	}
}
