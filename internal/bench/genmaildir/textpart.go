package main

import (
	"bufio"
	"fmt"
)

// textPart writes a message's text as text/plain or, for
// multipart/alternative, also as text/html with the same words.
type textPart struct {
	body        *prose
	seed, index uint64
	greeting    string
	closing     string
	signer      string
	quoteHeader string // "On ..., X wrote:" for replies, else empty
}

// writePlain writes a text/plain part's headers and about budget bytes of text.
func (t *textPart) writePlain(w *bufio.Writer, budget int) {
	w.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
	own, quoted := budget, 0
	if t.quoteHeader != "" {
		own, quoted = budget*6/10, budget*4/10
	}
	fmt.Fprintf(w, "%s\r\n\r\n", t.greeting)
	t.body.writeParagraphs(w, own, plainStyle)
	fmt.Fprintf(w, "\r\n%s\r\n%s\r\n", t.closing, t.signer)
	if quoted > 0 {
		fmt.Fprintf(w, "\r\n%s\r\n", t.quoteHeader)
		newProse(t.seed, t.index<<4|streamQuote).writeParagraphs(w, quoted, quotedStyle)
	}
}

// writeAlternative writes a multipart/alternative part: text/plain, then
// text/html replaying the same prose, splitting budget between them.
func (t *textPart) writeAlternative(w *bufio.Writer, boundary string, budget int) {
	fmt.Fprintf(w, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n--%s\r\n", boundary, boundary)
	t.writePlain(w, budget*45/100)
	fmt.Fprintf(w, "\r\n--%s\r\n", boundary)
	w.WriteString("Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
	w.WriteString("<html>\r\n<head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></head>\r\n<body>\r\n")
	htmlBudget := budget * 55 / 100
	own, quoted := htmlBudget, 0
	if t.quoteHeader != "" {
		own, quoted = htmlBudget*6/10, htmlBudget*4/10
	}
	fmt.Fprintf(w, "<p>%s</p>\r\n", t.greeting)
	newProse(t.seed, t.index<<4|streamBody).writeParagraphs(w, own, htmlStyle)
	fmt.Fprintf(w, "<p>%s<br>\r\n%s</p>\r\n", t.closing, t.signer)
	if quoted > 0 {
		fmt.Fprintf(w, "<div>%s</div>\r\n<blockquote type=\"cite\">\r\n", t.quoteHeader)
		newProse(t.seed, t.index<<4|streamQuote).writeParagraphs(w, quoted, htmlStyle)
		w.WriteString("</blockquote>\r\n")
	}
	fmt.Fprintf(w, "</body>\r\n</html>\r\n\r\n--%s--\r\n", boundary)
}
