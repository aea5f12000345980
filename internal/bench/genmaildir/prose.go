package main

import (
	"bufio"
	"math"
	"math/rand/v2"
)

// lineWidth is where prose wraps, as mail clients do (RFC 5322 suggests 78).
const lineWidth = 72

// prose writes English-like paragraphs from vocabulary. Two proses built
// from the same seed write the same words, which is how the HTML part of a
// multipart/alternative message repeats its text/plain part.
type prose struct {
	rng  *rand.Rand
	para []byte // the paragraph being built, reused
}

func newProse(seed1, seed2 uint64) *prose {
	return &prose{rng: rand.New(rand.NewPCG(seed1, seed2)), para: make([]byte, 0, 1024)}
}

// word picks a word with a u^2.5 skew towards the start of the list:
// "the" comes up about 7% of the time, as in English.
func (p *prose) word() string {
	u := p.rng.Float64()
	return vocabulary[int(u*u*math.Sqrt(u)*float64(len(vocabulary)))]
}

// sentence appends one capitalised sentence to dst.
func (p *prose) sentence(dst []byte) []byte {
	n := 4 + p.rng.IntN(16)
	for i := range n {
		w := p.word()
		if i == 0 {
			dst = append(dst, w[0]-'a'+'A')
			w = w[1:]
		}
		dst = append(dst, w...)
		if i < n-1 {
			if p.rng.IntN(10) == 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, ' ')
		}
	}
	switch r := p.rng.IntN(40); {
	case r < 4:
		return append(dst, '?')
	case r < 5:
		return append(dst, '!')
	}
	return append(dst, '.')
}

// paragraphStyle says how each wrapped line of a paragraph is decorated.
type paragraphStyle struct {
	prefix     string // every line, e.g. "> " for quoted text
	open, shut string // around the paragraph, e.g. "<p>" and "</p>"
}

var (
	plainStyle  = paragraphStyle{}
	quotedStyle = paragraphStyle{prefix: "> "}
	htmlStyle   = paragraphStyle{open: "<p>", shut: "</p>"}
)

// writeParagraphs writes paragraphs until at least budget bytes are out,
// separated by blank lines, and returns the number of bytes written.
func (p *prose) writeParagraphs(w *bufio.Writer, budget int, st paragraphStyle) int {
	written := 0
	for written < budget {
		if written > 0 {
			written += writeString(w, st.prefix+"\r\n")
		}
		written += p.writeParagraph(w, st)
	}
	return written
}

func (p *prose) writeParagraph(w *bufio.Writer, st paragraphStyle) int {
	para := append(p.para[:0], st.open...)
	for range 1 + p.rng.IntN(6) {
		if len(para) > len(st.open) {
			para = append(para, ' ')
		}
		para = p.sentence(para)
	}
	para = append(para, st.shut...)
	p.para = para
	return writeWrapped(w, para, st.prefix)
}

// writeWrapped writes text broken at spaces into lines of at most lineWidth
// bytes (a longer word gets a line of its own), each line CRLF-terminated.
func writeWrapped(w *bufio.Writer, text []byte, prefix string) int {
	written := 0
	for len(text) > 0 {
		cut := len(text)
		if cut > lineWidth {
			cut = lineWidth
			for cut > 0 && text[cut] != ' ' {
				cut--
			}
			if cut == 0 { // one very long word
				cut = lineWidth
			}
		}
		written += writeString(w, prefix)
		w.Write(text[:cut])
		written += cut + writeString(w, "\r\n")
		text = text[cut:]
		for len(text) > 0 && text[0] == ' ' {
			text = text[1:]
		}
	}
	return written
}

// writeString writes s and returns its length. Write errors stick in the
// bufio.Writer and surface at Flush, so callers check once per message.
func writeString(w *bufio.Writer, s string) int {
	w.WriteString(s)
	return len(s)
}
