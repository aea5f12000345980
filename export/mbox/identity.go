package mbox

import (
	"encoding/hex"
	"strconv"

	"github.com/mailhaul/mailhaul/mailbox/mbox"
)

// A message's sourceId must survive a client rewriting its file: a
// compaction shifts every offset after a deleted message, and writing a
// flag (Status, X-Mozilla-Status) changes the message's bytes. So it is
// the file's path and the Message-ID ("Inbox#<a@b>"), or for a message
// without one a digest of its header less the fields mbox writers rewrite
// (mbox.HeaderDigest: "Inbox#h:0123…"), and "+n" for the n-th message of
// the file with the same identity (an identical copy stays a message of
// its own). A sourceId never ends in '#' and digits, the offsets of
// mailhaul before this scheme (FORMAT.md, "mbox sourceIds").

// identities numbers the identities met in one file.
type identities map[string]int

// next returns the sourceId of the file's next message with header h.
func (ids identities) next(rel string, hdr []byte, messageID string) string {
	ident := "<" + messageID + ">"
	if messageID == "" {
		d := mbox.HeaderDigest(hdr)
		ident = "h:" + hex.EncodeToString(d[:16])
	}
	ids[ident]++
	if n := ids[ident]; n > 1 {
		ident += "+" + strconv.Itoa(n)
	}
	return rel + "#" + ident
}
