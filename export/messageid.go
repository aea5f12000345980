package export

import "bytes"

// maxMessageID bounds a Message-ID: RFC 5322 lines stop at 998 octets, and
// anything longer is junk not worth carrying as an identity.
const maxMessageID = 998

// MessageID finds the first Message-ID field in the header at the start of
// msg and returns its msg-id without the angle brackets, as go-message's
// mail.Header.MessageID does. msg may be only a prefix of the message; a
// field beyond it is not found. Folded values are unfolded. A value with no
// angle brackets is taken as is when it is one word (some mailers omit
// them); anything else yields "".
//
// This is a scan rather than a full header parse because it runs once per
// message on the export's hot path and needs one field.
func MessageID(msg []byte) string {
	for len(msg) > 0 {
		line, rest := cutLine(msg)
		if len(bytes.TrimRight(line, "\r")) == 0 {
			return "" // end of header
		}
		msg = rest
		if len(line) < len("message-id:") || !bytes.EqualFold(line[:len("message-id:")], []byte("message-id:")) {
			continue
		}
		value := line[len("message-id:"):]
		// Continuation lines start with white space. Folded Message-IDs
		// are rare: copy only then, into one buffer.
		if len(msg) > 0 && (msg[0] == ' ' || msg[0] == '\t') {
			value = append([]byte(nil), bytes.TrimRight(value, "\r")...)
			for len(msg) > 0 && (msg[0] == ' ' || msg[0] == '\t') {
				var cont []byte
				cont, msg = cutLine(msg)
				value = append(append(value, ' '), bytes.TrimRight(cont, "\r")...)
			}
		}
		return parseMsgID(value)
	}
	return ""
}

// cutLine splits off the first line of b, without its "\n".
func cutLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

// parseMsgID extracts the id from a field value such as
// " <abc@example.com> (comment)".
func parseMsgID(v []byte) string {
	v = bytes.TrimSpace(v)
	if open := bytes.IndexByte(v, '<'); open >= 0 {
		end := bytes.IndexByte(v[open:], '>')
		if end < 0 {
			return ""
		}
		v = bytes.TrimSpace(v[open+1 : open+end])
	} else if bytes.ContainsAny(v, " \t") {
		return ""
	}
	// A msg-id has no white space (RFC 5322 §3.6.4), so one with some is
	// junk; that also keeps folding out of the result.
	if len(v) == 0 || len(v) > maxMessageID || bytes.ContainsAny(v, " \t\r\n\x00<>") {
		return ""
	}
	return string(v)
}
