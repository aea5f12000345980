package mbox

import "bytes"

var fromPrefix = []byte("From ")

// isSeparator reports whether line, which starts with "From ", is an mbox
// message separator rather than a body line that happens to start so.
// next is the line after it (nil when unknown).
//
// Writers agree on little beyond "From " at the start of a line, so this
// weighs what real files hold: a line with an asctime date after the
// envelope sender ("From a@b Wed Nov 28 12:00:00 2026") is a separator;
// a line with no date but at most one word after "From " ("From -",
// "From ", Takeout's "From 1844347792267117879@xxx") is one only if a
// header field follows. Prose such as "From Russia with love" never is.
func isSeparator(line, next []byte) bool {
	rest := trimEOL(line)[len(fromPrefix):]
	if _, ok := fromLineTime(rest); ok {
		return true
	}
	if bytes.ContainsAny(bytes.TrimSpace(rest), " \t") {
		return false
	}
	return looksLikeField(next)
}

// looksLikeField reports whether line starts like a header field: a name
// of printable ASCII without ':' followed by ':'.
func looksLikeField(line []byte) bool {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return false
	}
	for _, c := range line[:i] {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// quoteDepth returns how many '>' precede "From " at the start of line,
// or 0 when the line is not a quoted From line.
func quoteDepth(line []byte) int {
	n := 0
	for n < len(line) && line[n] == '>' {
		n++
	}
	if n == 0 || !bytes.HasPrefix(line[n:], fromPrefix) {
		return 0
	}
	return n
}

// isBlank reports whether line is an empty line with its line ending.
func isBlank(line []byte) bool {
	return len(line) == 1 && line[0] == '\n' || len(line) == 2 && line[0] == '\r' && line[1] == '\n'
}

// trimEOL removes one trailing "\n" or "\r\n".
func trimEOL(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	return bytes.TrimSuffix(line, []byte{'\r'})
}

// cutLine splits off the first line of b, "\n" included.
func cutLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i+1], b[i+1:]
	}
	return b, nil
}
