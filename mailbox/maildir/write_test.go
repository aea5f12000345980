package maildir

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// Every direction written here is read back by the reader of the same
// file, which is what restore and export rely on.

func TestFlagsForRoundTrip(t *testing.T) {
	var kw Keywords
	flags := []string{`\Seen`, `\Answered`, `\Flagged`, `\Draft`, `\Deleted`, `$Forwarded`, `\Recent`, "$Junk", "Custom", "custom"}
	f, dropped := FlagsFor(flags, &kw)
	if len(dropped) != 0 {
		t.Fatalf("dropped %q", dropped)
	}
	if got := f.Letters(); got != "DFPRSTab" {
		t.Errorf("letters = %q; want DFPRSTab", got)
	}
	back, unknown := ParseFlags(f.Letters()).IMAPFlags(ParseKeywords(kw.Marshal()))
	want := []string{`\Draft`, `\Flagged`, `$Forwarded`, `\Answered`, `\Seen`, `\Deleted`, "$Junk", "Custom"}
	if !slices.Equal(back, want) || !unknown.Empty() {
		t.Errorf("read back %q (unknown %q); want %q", back, unknown.Letters(), want)
	}
	if name := FileName("1700000000.a.host", f); name != "1700000000.a.host:2,DFPRSTab" {
		t.Errorf("FileName = %q", name)
	}
}

func TestKeywordsFull(t *testing.T) {
	var kw Keywords
	for i := range 26 {
		if j, ok := kw.Add("k" + string(rune('a'+i))); !ok || j != i {
			t.Fatalf("Add #%d = %d, %v", i, j, ok)
		}
	}
	_, dropped := FlagsFor([]string{`\Seen`, "ka", "overflow", "has space"}, &kw)
	if !slices.Equal(dropped, []string{"overflow", "has space"}) {
		t.Errorf("dropped = %q", dropped)
	}
	if got := ParseKeywords(kw.Marshal()); *got != kw {
		t.Errorf("keywords file does not read back: %q", kw.Marshal())
	}
}

func TestWriteSubscriptionsReadBack(t *testing.T) {
	paths := []string{"INBOX", "Work/2024", "Entwürfe", "a\tb", "x&y"}
	var b bytes.Buffer
	if err := WriteSubscriptions(&b, paths); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "V\t2\n\nINBOX\nWork\t2024\nEntw&APw-rfe\n") {
		t.Errorf("file:\n%q", b.String())
	}
	var got []string
	if err := ReadSubscriptions(&b, func(n string) { got = append(got, n) }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, paths) {
		t.Errorf("read back %q; want %q", got, paths)
	}
}

func TestMaildirPPDirRoundTrip(t *testing.T) {
	tests := []struct {
		path, dir string
		escaped   bool
	}{
		{"INBOX", ".", false},
		{"Sent", ".Sent", false},
		{"Work/2024", ".Work.2024", false},
		{"INBOX/Sub", ".INBOX.Sub", false},
		{"Entwürfe/Privat", ".Entw&APw-rfe.Privat", false},
		{"a.b", `.a\2eb`, true},
		{`back\slash`, `.back\5cslash`, true},
	}
	for _, tt := range tests {
		dir, esc := MaildirPPDir(tt.path)
		if dir != tt.dir || esc != tt.escaped {
			t.Errorf("MaildirPPDir(%q) = %q, %v; want %q, %v", tt.path, dir, esc, tt.dir, tt.escaped)
			continue
		}
		if dir == "." || esc {
			continue
		}
		if back, warn := MaildirPPPath(dir[1:]); back != tt.path || warn {
			t.Errorf("MaildirPPPath(%q) = %q, %v; want %q", dir[1:], back, warn, tt.path)
		}
	}
	if got := FSDir("Entwürfe/Privat"); got != "Entw&APw-rfe/Privat" {
		t.Errorf("FSDir = %q", got)
	}
}
