package mbox

import (
	"crypto/sha256"
	"strings"
)

// rewritten are the header fields mbox writers change in place or add
// while a message sits in the file: flags (Status, X-Status, X-Keywords,
// Thunderbird's X-Mozilla-*), lengths (Content-Length, Lines) and UW-IMAP's
// and mutt's bookkeeping (X-UID, X-IMAP, X-IMAPbase).
var rewritten = map[string]bool{
	"status": true, "x-status": true, "x-keywords": true, "x-uid": true,
	"x-mozilla-status": true, "x-mozilla-status2": true, "x-mozilla-keys": true,
	"content-length": true, "lines": true, "x-imap": true, "x-imapbase": true,
}

// HeaderDigest is a SHA-256 of a header's fields (names lower-cased,
// values unfolded) less those an mbox writer rewrites: the same for a
// message before and after a client wrote its flags or compacted its
// file. It identifies a message that has no Message-ID.
func HeaderDigest(hdr []byte) [sha256.Size]byte {
	h := sha256.New()
	eachField(hdr, func(name, value []byte) bool {
		n := strings.ToLower(string(name))
		if !rewritten[n] {
			h.Write([]byte(n))
			h.Write([]byte{0})
			h.Write(value)
			h.Write([]byte{'\n'})
		}
		return true
	})
	var sum [sha256.Size]byte
	copy(sum[:], h.Sum(nil))
	return sum
}
