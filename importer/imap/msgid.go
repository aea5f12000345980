package imap

import (
	"bytes"
	"strings"
)

// headerMessageID returns the Message-ID field of a header (unfolded and
// trimmed), or "". The importer reads it from its own CRLF bytes and from
// what the server returns, so both sides compare alike.
func headerMessageID(b []byte) string {
	for len(b) > 0 {
		line := b
		rest := []byte(nil)
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, rest = b[:i], b[i+1:]
		}
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			return ""
		}
		b = rest
		const name = "message-id:"
		if len(line) < len(name) || !bytes.EqualFold(line[:len(name)], []byte(name)) {
			continue
		}
		v := string(line[len(name):])
		for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
			cont := b
			if i := bytes.IndexByte(b, '\n'); i >= 0 {
				cont, b = b[:i], b[i+1:]
			} else {
				b = nil
			}
			v += string(bytes.TrimRight(cont, "\r"))
		}
		return strings.Join(strings.Fields(v), "")
	}
	return ""
}
