package mbox

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
)

// benchMbox is a generated ~50 MB mboxrd: messages of 2 to 200 KB with
// 72-byte lines, a few quoted From lines, every tenth one base64-like.
var benchMbox = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	line := strings.Repeat("abcdefghij", 7) + "\n"
	b64 := strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=", 3)[:76] + "\n"
	for i := 0; b.Len() < 50<<20; i++ {
		fmt.Fprintf(&b, "From sender%d@example.com Wed Nov 28 12:%02d:00 2026\n", i, i%60)
		fmt.Fprintf(&b, "Message-ID: <%d@example.com>\nSubject: message %d\nStatus: RO\n\n", i, i)
		n := 30 + (i*7919)%2800
		for j := 0; j < n; j++ {
			switch {
			case j%500 == 7:
				b.WriteString(">From the desk of someone\n")
			case i%10 == 0:
				b.WriteString(b64)
			default:
				b.WriteString(line)
			}
		}
		b.WriteString("\n")
	}
	return b.Bytes()
})

func BenchmarkReader(b *testing.B) {
	data := benchMbox()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	buf := make([]byte, 32<<10)
	for b.Loop() {
		r := NewReader(bytes.NewReader(data), Mboxrd)
		for {
			m, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(io.Discard, onlyReader{m.Body}, buf); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkDetectDialect(b *testing.B) {
	data := benchMbox()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if d, err := DetectDialect(bytes.NewReader(data)); err != nil || d != Mboxo {
			b.Fatalf("got %v, %v; want mboxo (the >From lines are single-level)", d, err)
		}
	}
}
