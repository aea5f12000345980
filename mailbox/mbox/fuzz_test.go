package mbox

import (
	"bytes"
	"io"
	"testing"
)

// FuzzReader feeds arbitrary input to the splitter in every dialect and
// through detection: it must not panic or loop, and the messages it
// returns can only be shorter than the input (separators and quoting are
// removed, nothing is added).
func FuzzReader(f *testing.F) {
	f.Add([]byte(sep + "A: 1\n\nbody\n\n" + sep + "A: 2\n\n>From x\n>>From y\n"))
	f.Add([]byte(sep + "Content-Length: 5\n\nFrom \n\n" + sep + "A: 2\n"))
	f.Add([]byte("\xef\xbb\xbfFrom -\r\nA: 1\r\n\r\nx\r\n\r\nFrom -\r\nB: 2\r\n"))
	f.Add([]byte("From \nContent-Length: 0\n\n\nFrom \nX: y\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := DetectDialect(bytes.NewReader(data))
		if err != nil && err != ErrNotMbox {
			t.Fatalf("DetectDialect: %v", err)
		}
		for _, dialect := range []Dialect{d, Mboxo, Mboxrd, Mboxcl, Mboxcl2} {
			for _, r := range []*Reader{
				newReaderSize(bytes.NewReader(data), dialect, 32),
				NewReader(onlyReader{bytes.NewReader(data)}, dialect),
			} {
				total := 0
				for n := 0; ; n++ {
					m, err := r.Next()
					if err != nil {
						break
					}
					body, err := io.ReadAll(m.Body)
					if err != nil {
						t.Fatalf("%v: read body: %v", dialect, err)
					}
					total += len(m.Header) + len(body)
					if n > len(data) {
						t.Fatalf("%v: more messages than input bytes", dialect)
					}
				}
				if total > len(data) {
					t.Fatalf("%v: %d message bytes from %d input bytes", dialect, total, len(data))
				}
			}
		}
	})
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte("Subject: a\n b\nX-Mozilla-Status: 0009\nX-Keywords: a,b\n\nbody"))
	f.Fuzz(func(t *testing.T, hdr []byte) {
		h := ParseHeader(hdr)
		HeaderFlags(&h)
		SetFlags(hdr, HeaderFlags(&h))
		contentLength(hdr)
	})
}
