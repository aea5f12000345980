package imap

import (
	"bytes"
	"testing"
)

// byteLoopCRLF is the byte-by-byte loop appendCRLF replaced, kept as the
// reference it must match exactly, chunk by chunk.
func byteLoopCRLF(dst, src []byte, prevCR bool) ([]byte, bool, bool) {
	nul := false
	for _, c := range src {
		switch {
		case c == '\n' && !prevCR:
			dst = append(dst, '\r', '\n')
		case c != '\n' && prevCR:
			dst = append(dst, '\n', c)
		default:
			dst = append(dst, c)
		}
		if c == 0 {
			nul = true
		}
		prevCR = c == '\r'
	}
	return dst, prevCR, nul
}

// sameAsByteLoop feeds chunks through both and fails at the first chunk
// whose output, carried CR or NUL flag differ.
func sameAsByteLoop(t *testing.T, chunks [][]byte) {
	t.Helper()
	oldCR, newCR := false, false
	for i, c := range chunks {
		want, wantCR, wantNUL := byteLoopCRLF(nil, c, oldCR)
		got, gotCR := appendCRLF(nil, c, newCR)
		if !bytes.Equal(got, want) || gotCR != wantCR || hasNUL(c) != wantNUL {
			t.Fatalf("chunk %d %q of %q (CR carried in: %v): got %q, CR %v, NUL %v; want %q, CR %v, NUL %v",
				i, c, chunks, newCR, got, gotCR, hasNUL(c), want, wantCR, wantNUL)
		}
		oldCR, newCR = wantCR, gotCR
	}
}

func TestAppendCRLF(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string
	}{
		{"empty", []string{""}},
		{"plain", []string{"no line end"}},
		{"LF", []string{"a\nb\n"}},
		{"CRLF", []string{"a\r\nb\r\n"}},
		{"bare CR", []string{"a\rb\r"}},
		{"CR CR LF", []string{"a\r\r\nb"}},
		{"LF CR", []string{"\n\r"}},
		{"only CRs", []string{"\r\r\r"}},
		{"only LFs", []string{"\n\n\n"}},
		{"CR at boundary, LF next", []string{"a\r", "\nb"}},
		{"CR at boundary, text next", []string{"a\r", "b"}},
		{"CR at boundary, CR next", []string{"a\r", "\r", "\n"}},
		{"CR at boundary, empty read, LF", []string{"a\r", "", "\n"}},
		{"CR at boundary, empty read, text", []string{"a\r", "", "x"}},
		{"CR at boundary, then LF alone", []string{"\r", "\n", "\n"}},
		{"CR then end", []string{"x\r"}},
		{"NUL", []string{"a\x00b\n"}},
		{"NUL after CR", []string{"a\r", "\x00\n"}},
		{"NUL and CR LF", []string{"\x00\r\n\x00"}},
		{"long lines", []string{string(bytes.Repeat([]byte("0123456789abcdef"), 300)) + "\n" + "tail\r"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chunks := make([][]byte, len(tt.chunks))
			for i, c := range tt.chunks {
				chunks[i] = []byte(c)
			}
			sameAsByteLoop(t, chunks)
		})
	}
}

// FuzzAppendCRLF cuts random input into chunks at random places (cuts
// gives the lengths, 0 for an empty read) and compares with the byte loop.
func FuzzAppendCRLF(f *testing.F) {
	f.Add([]byte("a\r\nb\nc\rd\r\r\n\x00"), []byte{2, 0, 1, 3})
	f.Add([]byte("\r\r\n\n\r"), []byte{1, 1, 0, 1})
	f.Add([]byte("line\r"), []byte{5})
	f.Fuzz(func(t *testing.T, in, cuts []byte) {
		var chunks [][]byte
		for _, c := range cuts {
			n := min(int(c)%8, len(in))
			chunks = append(chunks, in[:n])
			in = in[n:]
		}
		sameAsByteLoop(t, append(chunks, in))
	})
}
