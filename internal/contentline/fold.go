package contentline

import (
	"bytes"
	"strings"
)

// maxOctets is the longest physical line a writer should produce, without
// its terminator (RFC 5545 §3.1, RFC 6350 §3.2).
const maxOctets = 75

// Fold splits a logical line into physical lines of at most 75 octets,
// each ended by eol, never inside a UTF-8 sequence. A continuation line
// starts with one space, which counts towards its 75 octets.
func Fold(line, eol string) string {
	var b strings.Builder
	b.Grow(len(line) + len(line)/(maxOctets-1)*(len(eol)+1) + len(eol))
	limit := maxOctets
	for len(line) > limit {
		cut := limit
		for cut > 1 && line[cut]&0xC0 == 0x80 {
			cut--
		}
		b.WriteString(line[:cut])
		b.WriteString(eol)
		b.WriteByte(' ')
		line = line[cut:]
		limit = maxOctets - 1
	}
	b.WriteString(line)
	b.WriteString(eol)
	return b.String()
}

// Unfold returns the logical lines of an object held in memory, without
// their terminators; blank lines are dropped. For large inputs use an
// Unfolder, which streams.
func Unfold(b []byte) []string {
	var out []string
	u := NewUnfolder(bytes.NewReader(b), len(b)+1)
	for {
		l, err := u.Next()
		if err != nil {
			return out
		}
		if len(l.Text) > 0 {
			out = append(out, string(l.Text))
		}
	}
}

// Folded is one logical line as the physical lines it was written on,
// each with its terminator.
type Folded [][]byte

// Unfold joins the physical lines: each line's terminator and the one
// space or tab that starts each continuation are dropped. A line of one
// physical line is a slice of the input itself.
func (f Folded) Unfold() []byte {
	if len(f) == 1 {
		return dropEOL(f[0])
	}
	var out []byte
	for k, l := range f {
		l = dropEOL(l)
		if k > 0 && len(l) > 0 {
			l = l[1:]
		}
		out = append(out, l...)
	}
	return out
}

// dropEOL cuts a line's terminator, CRLF or LF, and nothing else.
func dropEOL(l []byte) []byte {
	if l, ok := bytes.CutSuffix(l, []byte("\n")); ok {
		return bytes.TrimSuffix(l, []byte("\r"))
	}
	return l
}

// Refold folds line, a replacement for f, the way f was written: with
// its first line's terminator (LF when it has none), and without one at
// the end when f, the input's last line, had none.
func (f Folded) Refold(line string) []byte {
	eol := "\n"
	if bytes.HasSuffix(f[0], []byte("\r\n")) {
		eol = "\r\n"
	}
	out := Fold(line, eol)
	if !bytes.HasSuffix(f[len(f)-1], []byte("\n")) {
		out = out[:len(out)-len(eol)]
	}
	return []byte(out)
}

// Rewrite passes each logical line of b to rewrite, which returns its
// replacement (folded, with terminators), or false to keep it as it is;
// the Folded it is given is valid during the call only. Every byte rewrite
// does not replace stays as it was. It returns b itself, and false, when
// nothing changed, having allocated nothing but the lines' list.
func Rewrite(b []byte, rewrite func(Folded) ([]byte, bool)) ([]byte, bool) {
	var out []byte
	changed := false
	var line Folded
	start, end := 0, 0 // the current logical line is b[start:end]
	flush := func() {
		if rewritten, ok := rewrite(line); ok {
			if !changed {
				out = make([]byte, 0, len(b)+256)
				out = append(out, b[:start]...)
				changed = true
			}
			out = append(out, rewritten...)
		} else if changed {
			out = append(out, b[start:end]...)
		}
		line, start = line[:0], end
	}
	for end < len(b) {
		next := b[end:]
		if i := bytes.IndexByte(next, '\n'); i >= 0 {
			next = next[:i+1]
		}
		if len(line) > 0 && !IsContinuation(next) {
			flush()
		}
		line = append(line, next)
		end += len(next)
	}
	if len(line) > 0 {
		flush()
	}
	if !changed {
		return b, false
	}
	return out, true
}
