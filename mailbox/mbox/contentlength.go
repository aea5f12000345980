package mbox

import (
	"bytes"
	"io"
	"strconv"
)

// landsOnSeparator reports whether a body of n bytes, starting here, ends
// exactly at the end of the input or before a separator line, with at
// most one line ending between. Only then is a Content-Length trusted.
func (r *Reader) landsOnSeparator(n int64) bool {
	if n < 0 {
		return false
	}
	const window = 2 + sepWindow
	prevNL := true // with n == 0 the byte before is the header's final '\n'
	var after []byte
	switch {
	case n > 1<<52: // no mbox is this large; keeps the offsets below from overflowing
		return false
	case n <= int64(len(r.lr.buf)-window):
		p := r.lr.peek(int(n) + window)
		if int64(len(p)) < n {
			return false // beyond the end of the input
		}
		if n > 0 {
			prevNL = p[n-1] == '\n'
		}
		after = p[n:]
	case r.at != nil:
		if r.win == nil {
			r.win = make([]byte, 1+window)
		}
		k, err := r.at.ReadAt(r.win, r.base+r.lr.off+n-1)
		if k == 0 || err != nil && err != io.EOF {
			return false
		}
		prevNL, after = r.win[0] == '\n', r.win[1:k]
	default:
		return false
	}
	switch {
	case bytes.HasPrefix(after, []byte("\r\n")):
		after = after[2:]
	case bytes.HasPrefix(after, []byte("\n")):
		after = after[1:]
	case len(after) > 0 && !prevNL:
		return false // mid-line
	}
	if len(after) == 0 {
		return true
	}
	if !bytes.HasPrefix(after, fromPrefix) {
		return false
	}
	line, rest := cutLine(after)
	next, _ := cutLine(rest)
	return isSeparator(line, next)
}

// contentLength finds a Content-Length field in hdr.
func contentLength(hdr []byte) (int64, bool) {
	v, ok := field(hdr, "Content-Length")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
	return n, err == nil && n >= 0
}
