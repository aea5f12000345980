package pim

import (
	"crypto/sha256"
	"encoding/hex"
	"io"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/format"
)

// addState gives sink the state record's line of one contact or calendar
// object, when opt asks for it: its UID and the SHA-256 of data, the bytes
// its item record has or would have, so that an edited object is told
// from an unchanged one. A read error is the file's; a sink error comes
// back as a sinkError.
func addState(sink export.Sink, opt export.Options, it format.Item, data io.Reader) error {
	if !opt.State {
		return nil
	}
	h := sha256.New()
	n, err := io.Copy(h, data)
	if err != nil {
		return err
	}
	err = export.AddState(sink, format.StateItem{Kind: it.Kind, Folder: it.Folder, SourceID: it.SourceID,
		UID: it.UID, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))})
	if err != nil {
		return sinkError{err}
	}
	return nil
}
