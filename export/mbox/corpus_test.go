package mbox

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"

	"github.com/mailhaul/mailhaul/mailbox/mbox"
)

// corpus is what every real-world fixture holds, counted by hand:
// `grep -c '^From '` less the From lines that are body text, and the
// Content-Length fields checked against where each body really ends.
var corpus = []struct {
	file     string
	folder   string
	messages int
	dialect  mbox.Dialect
	why      string
}{
	{"mimekit/content-length.mbox", "content-length", 29, mbox.Mboxcl,
		"29 'From - ' separators; 25 of 29 Content-Lengths land on the next one (messages 1, 2, 3 and 5 are off); 2 '>From ' quoted, no '>>From '"},
	{"mimekit/gmail-takeout-style.mbox", "gmail-takeout-style", 4, mbox.Mboxo,
		"4 dateless 'From <id>@xxx' separators, each followed by a header field; no X-Gmail-Labels"},
	{"mimekit/simple.mbox", "simple", 3, mbox.Mboxo,
		"3 'From - ' separators with no blank line before them"},
	{"mimekit/unmunged.mbox", "unmunged", 2, mbox.Mboxo,
		"BOM, 2 'From -' separators; the 'From Russia with love' lines are prose"},
	{"mox/imaptest.mbox", "imaptest", 48, mbox.Mboxo,
		"48 'From mox <date>' separators; the 4 Content-Lengths are one byte short, so not trusted"},
	{"mox/importtest.mbox", "importtest", 2, mbox.Mboxo,
		"2 separators; one '>From '; Content-Length 15 of message 1 is wrong, so only 1 of 2 lands"},
	{"thunderbird/mbox_mboxrd.mbox", "mbox_mboxrd", 2, mbox.Mboxo,
		"2 separators; only single-level '>From ', which mboxo and mboxrd unquote alike"},
	{"thunderbird/mbox_modern.mbox", "mbox_modern", 2, mbox.Mboxo,
		"2 separators; body From lines escaped with a space, kept as they are"},
	{"thunderbird/mbox_unquoted.mbox", "mbox_unquoted", 2, mbox.Mboxo,
		"3 'From ' lines; the one in message 1's body is followed by prose, not a header"},
	{"thunderbird/movemailspool.mbox", "movemailspool", 3, mbox.Mboxo,
		"3 'From - <date>' separators"},
}

// fieldStart matches a header field's start: a name of printable ASCII
// without ':', then ':'.
var fieldStart = regexp.MustCompile(`^[!-9;-~]+:`)

func TestCorpus(t *testing.T) {
	for _, c := range corpus {
		t.Run(c.file, func(t *testing.T) {
			var sink exporttest.Sink
			src := &Source{Path: filepath.Join("..", "..", "testdata", "corpus", "mbox", filepath.FromSlash(c.file))}
			if err := src.Export(t.Context(), &sink, export.Options{}); err != nil {
				t.Fatal(err)
			}
			if len(sink.Folders) != 1 || sink.Folders[0].Path != c.folder {
				t.Fatalf("folders %+v, want one named %q", sink.Folders, c.folder)
			}
			wantNote := "mbox dialect: " + c.dialect.String()
			if !slices.Contains(sink.Folders[0].Notes, wantNote) {
				t.Errorf("folder notes %q, want %q (%s)", sink.Folders[0].Notes, wantNote, c.why)
			}
			if got := len(sink.Items); got != c.messages {
				t.Errorf("got %d messages, want %d (%s)", got, c.messages, c.why)
			}
			if len(sink.Errors) > 0 || len(sink.Skipped) > 0 {
				t.Errorf("errors %+v, skipped %v; want none", sink.Errors, sink.Skipped)
			}
			for _, it := range sink.Items {
				// Every message starts with a header field, not a From line
				// or a blank line: the splitter cut it in the right place.
				if !fieldStart.Match(it.Body) {
					t.Errorf("%s starts %q, want a header field", it.SourceID, it.Body[:min(len(it.Body), 40)])
				}
				if !strings.HasPrefix(it.SourceID, filepath.Base(c.file)+"#") {
					t.Errorf("SourceID %q, want %s#<identity>", it.SourceID, filepath.Base(c.file))
				}
			}
		})
	}
}

// TestCorpusContent checks the bytes of messages whose splitting or
// unquoting is the point of their fixture.
func TestCorpusContent(t *testing.T) {
	tests := []struct {
		file  string
		index int
		want  string // a substring of the message
		not   string // must not be in the message
	}{
		{"thunderbird/mbox_mboxrd.mbox", 0, "This is the body.\nFrom (should be escaped).\nThere are 3 lines.\n", "\n\n\n"},
		{"thunderbird/mbox_unquoted.mbox", 0, "like this:\nFrom \nThis could cause problems", "Sample message 2"},
		{"thunderbird/mbox_modern.mbox", 0, "\n From \n From - Fri Aug 24 11:55:47 2018\n", "Sample message 2"},
		{"mimekit/unmunged.mbox", 1, "From Russia with love\nYear: 1963\n", "\xef\xbb\xbf"},
		{"mimekit/content-length.mbox", 16, "\n\nFrom - Fri Dec 13 15:01:21 1996\nReturn-Path: <blaker@craswell.com>", ">From - Fri Dec 13"},
		{"mox/importtest.mbox", 0, "Lines: 3\n\nFrom testing\ntest2\nend\n", ">From"},
	}
	for _, tt := range tests {
		var sink exporttest.Sink
		src := &Source{Path: filepath.Join("..", "..", "testdata", "corpus", "mbox", filepath.FromSlash(tt.file))}
		if err := src.Export(t.Context(), &sink, export.Options{}); err != nil {
			t.Fatal(err)
		}
		if tt.index >= len(sink.Items) {
			t.Errorf("%s: %d messages, want message %d", tt.file, len(sink.Items), tt.index)
			continue
		}
		body := string(sink.Items[tt.index].Body)
		if !strings.Contains(body, tt.want) || tt.not != "" && strings.Contains(body, tt.not) {
			t.Errorf("%s message %d:\n%s\nwant it to hold %q and not %q", tt.file, tt.index, body, tt.want, tt.not)
		}
	}
}
