package mbox

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// split reads every message of in and returns each one's bytes.
func split(t testing.TB, r *Reader) (msgs []string, offsets []int64, froms []string) {
	t.Helper()
	for {
		m, err := r.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		body, err := io.ReadAll(m.Body)
		if err != nil {
			t.Fatalf("read body of message at %d: %v", m.Offset, err)
		}
		msgs = append(msgs, string(m.Header)+string(body))
		offsets = append(offsets, m.Offset)
		froms = append(froms, m.FromLine)
	}
}

const sep = "From a@example.com Wed Nov 28 12:00:00 2026\n"

func TestReaderSplits(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		dialect Dialect
		want    []string
	}{
		{"blank line before separator is the mbox's",
			sep + "A: 1\n\nbody\n\n" + sep + "A: 2\n\nx\n", Mboxo,
			[]string{"A: 1\n\nbody\n", "A: 2\n\nx\n"}},
		{"only one of several blank lines is dropped",
			sep + "A: 1\n\nbody\n\n\n\n" + sep + "A: 2\n\nx\n\n", Mboxo,
			[]string{"A: 1\n\nbody\n\n\n", "A: 2\n\nx\n"}},
		{"no blank line before separator keeps the last line",
			"From - \nA: 1\n\nbody\nFrom - \nA: 2\n\nx", Mboxo,
			[]string{"A: 1\n\nbody\n", "A: 2\n\nx"}},
		{"CRLF",
			"From a Wed Nov 28 12:00:00 2026\r\nA: 1\r\n\r\nbody\r\n\r\nFrom b Wed Nov 28 12:00:00 2026\r\nA: 2\r\n\r\nx\r\n", Mboxo,
			[]string{"A: 1\r\n\r\nbody\r\n", "A: 2\r\n\r\nx\r\n"}},
		{"header only",
			sep + "A: 1\n\n" + sep + "A: 2\n", Mboxo,
			[]string{"A: 1\n", "A: 2\n"}},
		{"empty message",
			sep + sep + "A: 2\n\nx\n", Mboxo,
			[]string{"", "A: 2\n\nx\n"}},
		{"prose From line is body",
			sep + "A: 1\n\nmovie:\n\nFrom Russia with love\nYear: 1963\n", Mboxo,
			[]string{"A: 1\n\nmovie:\n\nFrom Russia with love\nYear: 1963\n"}},
		{"dateless From line followed by prose is body",
			"From \nA: 1\n\nold Thunderbird:\nFrom \nThis could cause problems\n\nFrom \nA: 2\n\nx\n", Mboxo,
			[]string{"A: 1\n\nold Thunderbird:\nFrom \nThis could cause problems\n", "A: 2\n\nx\n"}},
		{"mboxo unquotes one level of >From only",
			sep + "A: 1\n\n>From x\n>>From y\n>Fromage\n", Mboxo,
			[]string{"A: 1\n\nFrom x\n>>From y\n>Fromage\n"}},
		{"mboxrd unquotes every depth",
			sep + "A: 1\n\n>From x\n>>From y\n>>>From z\n> From w\n", Mboxrd,
			[]string{"A: 1\n\nFrom x\n>From y\n>>From z\n> From w\n"}},
		{"mboxcl2 keeps quotes",
			sep + "A: 1\n\n>From x\n", Mboxcl2,
			[]string{"A: 1\n\n>From x\n"}},
		{"Content-Length body holding a separator (mboxcl2)",
			sep + "Content-Length: 40\n\nFrom b@example.com Wed Nov 28 1:00 2026\n\n" + sep + "A: 2\n\nx\n", Mboxcl2,
			[]string{"Content-Length: 40\n\nFrom b@example.com Wed Nov 28 1:00 2026\n", "A: 2\n\nx\n"}},
		{"Content-Length ignored by mboxo",
			sep + "Content-Length: 40\n\nFrom b@example.com Wed Nov 28 1:00 2026\n\n" + sep + "A: 2\n\nx\n", Mboxo,
			[]string{"Content-Length: 40\n", "", "A: 2\n\nx\n"}},
		{"Content-Length too short is not trusted",
			sep + "Content-Length: 3\n\nabcdef\n\n" + sep + "A: 2\n\nx\n", Mboxcl2,
			[]string{"Content-Length: 3\n\nabcdef\n", "A: 2\n\nx\n"}},
		{"Content-Length beyond a truncated end is not trusted",
			sep + "Content-Length: 300\n\nabcdef", Mboxcl,
			[]string{"Content-Length: 300\n\nabcdef"}},
		{"Content-Length landing at the end",
			sep + "Content-Length: 7\n\nabc\r\nd", Mboxcl2,
			[]string{"Content-Length: 7\n\nabc\r\nd"}},
		{"Content-Length body keeps its own blank line",
			sep + "Content-Length: 5\n\nabc\n\n\n" + sep + "A: 2\n", Mboxcl,
			[]string{"Content-Length: 5\n\nabc\n\n", "A: 2\n"}},
		{"mboxcl unquotes inside a Content-Length body",
			sep + "Content-Length: 8\n\n>From x\n\n" + sep + "A: 2\n", Mboxcl,
			[]string{"Content-Length: 8\n\nFrom x\n", "A: 2\n"}},
		{"absurd Content-Length",
			sep + "Content-Length: 9223372036854775800\n\nx\n", Mboxcl2,
			[]string{"Content-Length: 9223372036854775800\n\nx\n"}},
		{"no final newline",
			sep + "A: 1\n\nbody", Mboxrd,
			[]string{"A: 1\n\nbody"}},
		{"byte order mark",
			"\xef\xbb\xbfFrom -\nA: 1\n\nx\n", Mboxo,
			[]string{"A: 1\n\nx\n"}},
		{"empty input", "", Mboxo, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, _ := split(t, NewReader(strings.NewReader(tt.in), tt.dialect))
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestReaderOffsetsAndFromLines(t *testing.T) {
	in := "\xef\xbb\xbf" + sep + "A: 1\n\n" + "From - \r\nA: 2\n"
	_, offsets, froms := split(t, NewReader(strings.NewReader(in), Mboxo))
	wantOff := []int64{3, int64(3 + len(sep) + len("A: 1\n\n"))}
	wantFrom := []string{strings.TrimSuffix(sep, "\n"), "From - "}
	if fmt.Sprint(offsets) != fmt.Sprint(wantOff) || fmt.Sprintf("%q", froms) != fmt.Sprintf("%q", wantFrom) {
		t.Errorf("got offsets %v from lines %q, want %v %q", offsets, froms, wantOff, wantFrom)
	}
}

func TestReaderNotMbox(t *testing.T) {
	r := NewReader(strings.NewReader("Subject: hi\n\nbody\n"), Mboxo)
	if _, err := r.Next(); !errors.Is(err, ErrNotMbox) {
		t.Errorf("Next on a non-mbox: got %v, want ErrNotMbox", err)
	}
}

// TestReaderSkipsUnreadBody checks Next skips what a caller left unread.
func TestReaderSkipsUnreadBody(t *testing.T) {
	in := sep + "A: 1\n\n" + strings.Repeat("line\n", 1000) + "\n" + sep + "A: 2\n"
	r := NewReader(strings.NewReader(in), Mboxo)
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	m, err := r.Next()
	if err != nil || string(m.Header) != "A: 2\n" {
		t.Fatalf("second message: got %v %q, want header %q", err, m.Header, "A: 2\n")
	}
}

func TestReaderStaleBody(t *testing.T) {
	r := NewReader(strings.NewReader(sep+"A: 1\n\nfirst\n\n"+sep+"A: 2\n\nsecond\n"), Mboxo)
	first, _ := r.Next()
	second, _ := r.Next()
	stale, _ := io.ReadAll(first.Body)
	body, _ := io.ReadAll(second.Body)
	if len(stale) != 0 || string(body) != "second\n" {
		t.Errorf("stale body read %q, current %q; want nothing and %q", stale, body, "second\n")
	}
}

// TestReaderLongHeader checks a header beyond MaxHeader is cut and its
// rest streams with the body, losing nothing.
func TestReaderLongHeader(t *testing.T) {
	msg := "X: " + strings.Repeat("a", MaxHeader) + "\nY: b\n\nbody\n"
	r := NewReader(strings.NewReader(sep+msg), Mboxo)
	m, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(m.Body)
	if len(m.Header) != MaxHeader || string(m.Header)+string(body) != msg {
		t.Errorf("header %d bytes (want %d), message intact: %v", len(m.Header), MaxHeader, string(m.Header)+string(body) == msg)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestReaderReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	r := NewReader(io.MultiReader(strings.NewReader(sep+"A: 1\n\nbody"), errReader{boom}), Mboxo)
	m, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(m.Body); !errors.Is(err, boom) {
		t.Errorf("body read: got %v, want %v", err, boom)
	}
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Errorf("Next after a read error: got %v, want %v", err, boom)
	}
}
