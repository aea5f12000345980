package mbox

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestWriterRoundTrip writes every dialect's round-trip messages, and
// messages made to trip a quoting writer, with the Writer: whatever
// dialect detection then says, the Reader gives each message back byte
// for byte, with its From line's date.
func TestWriterRoundTrip(t *testing.T) {
	var msgs []string
	for _, d := range []Dialect{Mboxo, Mboxrd, Mboxcl, Mboxcl2} {
		for _, eol := range []string{"\n", "\r\n"} {
			msgs = append(msgs, roundTripMessages(d, eol)...)
		}
	}
	msgs = append(msgs,
		"Subject: quotes\n\n>From a\n>>From b\nFrom c\n"+strings.Repeat(">", 70000)+"From deep\n"+strings.Repeat(">", 70000)+"not from\n",
		"Subject: long line\n\n"+strings.Repeat("y", 200000)+"\nFrom z\n",
		"Subject: crlf from\r\n\r\nFrom x@example.com Wed Nov 28 12:00:00 2026\r\n",
	)
	when := time.Date(2026, 11, 8, 9, 5, 3, 0, time.UTC)
	var buf bytes.Buffer
	w := NewWriter(&buf)
	var total int64
	for i, m := range msgs {
		n, added, err := w.WriteMessage(FromLine(when.Add(time.Duration(i)*time.Hour)), strings.NewReader(m))
		if err != nil || added {
			t.Fatalf("message %d: added %v, %v", i, added, err)
		}
		total += n
	}
	if total != int64(buf.Len()) {
		t.Errorf("WriteMessage counted %d bytes, wrote %d", total, buf.Len())
	}
	data := buf.Bytes()
	d, err := DetectDialect(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for how, r := range map[string]*Reader{
		"file-like":   NewReader(bytes.NewReader(data), d),
		"no ReaderAt": NewReader(onlyReader{bytes.NewReader(data)}, d),
	} {
		got, _, froms := split(t, r)
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", msgs) {
			t.Fatalf("%s (%v): got %d messages, not the %d written byte for byte", how, d, len(got), len(msgs))
		}
		for i, f := range froms {
			h := ParseHeader(nil)
			if got := ReceivedTime(f, &h); !got.Equal(when.Add(time.Duration(i) * time.Hour)) {
				t.Errorf("%s: message %d From line %q gives %v", how, i, f, got)
			}
		}
	}
}

// TestWriterAddsMissingEOL: mbox cannot end a message without a line
// ending; the Writer adds one and says so.
func TestWriterAddsMissingEOL(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	_, added, err := w.WriteMessage(FromLine(time.Time{}), strings.NewReader("Subject: x\n\nno newline"))
	if err != nil || !added {
		t.Fatalf("added %v, %v; want true", added, err)
	}
	if got := buf.String(); got != "From MAILER-DAEMON\nSubject: x\n\nno newline\n\n" {
		t.Errorf("wrote %q", got)
	}
	r := NewReader(bytes.NewReader(buf.Bytes()), Mboxrd)
	m, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(m.Body)
	if h := ParseHeader(m.Header); !ReceivedTime(m.FromLine, &h).IsZero() || string(m.Header)+string(body) != "Subject: x\n\nno newline\n" {
		t.Errorf("read back %q %q", m.FromLine, string(m.Header)+string(body))
	}
}

// TestSetFlagsRoundTrip: flags written into a header are the flags read
// from it, whatever flag fields it held before; other fields keep their
// bytes.
func TestSetFlagsRoundTrip(t *testing.T) {
	hdrs := []string{
		"Subject: a\nStatus: O\nX-Mozilla-Status: 0005\nX-Mozilla-Keys: $label1\n  $label2\nTo: b\n\n",
		"Subject: a\r\nX-Keywords: old\r\nTo: b\r\n\r\n",
		"Subject: all header\n",
		"Subject: no eol",
	}
	sets := [][]string{
		nil,
		{`\Seen`},
		{`\Seen`, `\Answered`, `\Flagged`, `\Draft`, `\Deleted`, "$Forwarded", "Work", `\e`},
		{"$Label1", `\Flagged`},
	}
	for _, hdr := range hdrs {
		for _, flags := range sets {
			out, lost := SetFlags([]byte(hdr), flags)
			if len(lost) > 0 {
				t.Errorf("%q: lost %q", flags, lost)
			}
			if got := MessageFlags(out); !SameFlags(flags, got) {
				t.Errorf("%q with %q: read back %q from %q", hdr, flags, got, out)
			}
			first, _, _ := strings.Cut(hdr, "\n")
			if !bytes.HasPrefix(out, []byte(strings.TrimSuffix(first, "\r"))) || strings.Contains(hdr, "To: b") && !bytes.Contains(out, []byte("To: b")) {
				t.Errorf("%q: other fields lost: %q", hdr, out)
			}
			if strings.HasSuffix(hdr, "\n\n") && !bytes.HasSuffix(out, []byte("\n\n")) {
				t.Errorf("%q: header no longer ends with a blank line: %q", hdr, out)
			}
		}
	}
	if _, lost := SetFlags(nil, []string{`\Recent`, "two words", `\Seen`}); !slices.Equal(lost, []string{`\Recent`, "two words"}) {
		t.Errorf("lost %q, want \\Recent and the keyword with a space", lost)
	}
}

// TestTreePath: every folder maps into the tree, one safe file name per
// level, and reads back as the same folder levels.
func TestTreePath(t *testing.T) {
	for folder, want := range map[string]string{
		"INBOX":          "Inbox",
		"INBOX/Lists":    "Inbox.sbd/Lists",
		"Work/2024/Q1":   "Work.sbd/2024.sbd/Q1",
		"a.sbd/b.mbox":   "a%2Esbd.sbd/b%2Embox",
		"x.msf":          "x%2Emsf",
		"../../etc":      "%2E..sbd/%2E..sbd/etc",
		`C:\evil/..`:     `C%3A%5Cevil.sbd/%2E.`,
		"Re: mail/\x00x": "Re%3A mail.sbd/%00x",
		"Inbox/a:b":      "%49nbox.sbd/a%3Ab",
		"a_b":            "a_b",
	} {
		if got := TreePath(folder); got != want {
			t.Errorf("TreePath(%q) = %q, want %q", folder, got, want)
		}
	}
}

// FuzzWriter: two messages that end with a line ending, written with the
// Writer, come back byte for byte from the Reader, whatever the dialect
// detection makes of the file.
func FuzzWriter(f *testing.F) {
	f.Add("Subject: a\n\nFrom x\n>From y\n", "\n")
	f.Add("From a@b Wed Nov 28 12:00:00 2026\nX: y\n", "Content-Length: 0\n\n")
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, m := range []*string{&a, &b} {
			if !strings.HasSuffix(*m, "\n") {
				*m += "\n"
			}
		}
		var buf bytes.Buffer
		w := NewWriter(&buf)
		for _, m := range []string{a, b} {
			if _, _, err := w.WriteMessage(FromLine(time.Unix(1e9, 0)), strings.NewReader(m)); err != nil {
				t.Fatal(err)
			}
		}
		d, err := DetectDialect(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		got, _, _ := split(t, NewReader(bytes.NewReader(buf.Bytes()), d))
		if len(got) != 2 || got[0] != a || got[1] != b {
			t.Fatalf("%v: wrote %q and %q, read back %q", d, a, b, got)
		}
	})
}

// FuzzTreePathIsInjective: two different folder paths never share a
// file, and no file is another's .sbd directory.
func FuzzTreePathIsInjective(f *testing.F) {
	f.Add("a:b", "a_b")
	f.Add("INBOX", "Inbox")
	f.Add("x.sbd/y", "x/y")
	f.Add("a/b", "a.sbd/b")
	f.Fuzz(func(t *testing.T, a, b string) {
		pa, pb := TreePath(a), TreePath(b)
		if a != b && (pa == pb || pa == pb+SbdSuffix || pb == pa+SbdSuffix) {
			t.Fatalf("TreePath(%q) = %q, TreePath(%q) = %q", a, pa, b, pb)
		}
	})
}
