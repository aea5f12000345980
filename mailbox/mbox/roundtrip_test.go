package mbox

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
)

// quoteLine quotes one line the way d's writers do.
func quoteLine(d Dialect, line string) string {
	switch d {
	case Mboxo, Mboxcl:
		if strings.HasPrefix(line, "From ") {
			return ">" + line
		}
	case Mboxrd:
		if quoteDepth([]byte(">"+line)) > 0 {
			return ">" + line
		}
	}
	return line
}

func quote(d Dialect, s string) string {
	var b strings.Builder
	for s != "" {
		line, rest, _ := strings.Cut(s, "\n")
		if rest != "" || strings.HasSuffix(s, "\n") {
			line += "\n"
		}
		b.WriteString(quoteLine(d, line))
		s = rest
	}
	return b.String()
}

// writeMbox writes msgs as d's writers do: a From line, the quoted
// message, a blank line.
func writeMbox(d Dialect, eol string, msgs []string) []byte {
	var b bytes.Buffer
	for i, m := range msgs {
		fmt.Fprintf(&b, "From sender%d@example.com Wed Nov 28 12:%02d:00 2026%s", i, i%60, eol)
		b.WriteString(quote(d, m))
		b.WriteString(eol)
	}
	return b.Bytes()
}

var clField = regexp.MustCompile(`(?m)^Content-Length: N\r?$`)

// withLength fills a message's "Content-Length: N" with the length of its
// body as d stores it (quoted, for mboxcl).
func withLength(d Dialect, eol, m string) string {
	_, body, _ := strings.Cut(m, eol+eol)
	n := len(quote(d, body))
	return clField.ReplaceAllLiteralString(m, fmt.Sprintf("Content-Length: %d", n)+strings.TrimSuffix(eol, "\n"))
}

// roundTripMessages are messages each dialect must give back byte for
// byte: each stresses the quoting or the splitting. Messages the dialect
// cannot represent (a body ">From " line in mboxo) are left out of its set.
func roundTripMessages(d Dialect, eol string) []string {
	l := func(s string) string { return strings.ReplaceAll(s, "\n", eol) }
	msgs := []string{
		l("Subject: plain\n\nhello\n"),
		l("Subject: from lines\n\nFrom here on it is quoted.\nFrom x@example.com Wed Nov 28 12:00:00 2026\nFrom -\nX-Not: a header\n"),
		l("Subject: header only\n"),
		l("Subject: empty body\n\n"),
		l("Subject: trailing blank lines\n\nx\n\n\n"),
		l("\nno header at all\n"),
		l("Subject: short\n\nabc\n"),
	}
	switch d {
	case Mboxrd:
		msgs = append(msgs, l("Subject: deep\n\n>From a\n>>From b\n>>>From c\n>From\n"))
	case Mboxcl, Mboxcl2:
		for i, m := range msgs {
			if strings.Contains(m, eol+eol) {
				msgs[i] = withLength(d, eol, strings.Replace(m, eol+eol, eol+"Content-Length: N"+eol+eol, 1))
			}
		}
		if d == Mboxcl2 {
			msgs = append(msgs, withLength(d, eol, l("Subject: unquoted\nContent-Length: N\n\nFrom y@example.com Wed Nov 28 12:00:00 2026\n>From z\n\n")))
		}
	}
	return msgs
}

// onlyReader hides io.ReaderAt, as a pipe or network stream would.
type onlyReader struct{ io.Reader }

func TestRoundTrip(t *testing.T) {
	for _, d := range []Dialect{Mboxo, Mboxrd, Mboxcl, Mboxcl2} {
		for _, eol := range []string{"\n", "\r\n"} {
			msgs := roundTripMessages(d, eol)
			data := writeMbox(d, eol, msgs)
			name := fmt.Sprintf("%v/%q", d, eol)
			t.Run(name, func(t *testing.T) {
				got, err := DetectDialect(bytes.NewReader(data))
				if err != nil || got != d {
					t.Errorf("DetectDialect: got %v, %v; want %v", got, err, d)
				}
				readers := map[string]*Reader{
					"file-like":        NewReader(bytes.NewReader(data), d),
					"small buffer":     newReaderSize(bytes.NewReader(data), d, 64),
					"no ReaderAt":      NewReader(onlyReader{bytes.NewReader(data)}, d),
					"one byte at once": NewReader(io.LimitReader(onlyReader{&oneByte{data}}, int64(len(data))), d),
				}
				for how, r := range readers {
					split, _, _ := split(t, r)
					if fmt.Sprintf("%q", split) != fmt.Sprintf("%q", msgs) {
						t.Errorf("%s: got\n%q\nwant\n%q", how, split, msgs)
					}
				}
			})
		}
	}
}

// oneByte reads one byte per call, to exercise refills at every position.
type oneByte struct{ b []byte }

func (o *oneByte) Read(p []byte) (int, error) {
	if len(o.b) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0], o.b = o.b[0], o.b[1:]
	return 1, nil
}
