package imap

import (
	"crypto/sha256"
	"strconv"
	"strings"

	"github.com/mailhaul/mailhaul/internal/journal"
)

// An item's journal key holds its bytes, but an mbox message's bytes
// change under its sourceId when a client writes its flags (FORMAT.md,
// "mbox sourceIds"), and mbox sourceIds of earlier versions, offsets,
// change whenever the file is rewritten. So an item the journal does not
// know by key is still the message placed before when the journal places
// a message
//   - of its sourceId with its Message-ID (its bytes changed since), or
//   - of its folder, Message-ID and size under an mbox offset (an archive
//     of before the scheme, this one of after it),
// and is not sent again: the placed copy stands for it, and the state
// record brings its flags (and, for an offset, its sourceId) up to date.
// The same holds for an item this run placed or found, which a later
// archive of the run repeats with other bytes.

// placedIDs indexes the journal's placed messages for sameItem, by
// digests, so that it costs little memory per message.
type placedIDs struct {
	bySource map[[16]byte]bool          // sourceId, Message-ID
	byOffset map[[16]byte][]journal.Key // folder, Message-ID, size, of offset sourceIds
	takenBy  map[journal.Key]string     // offset records matched, to the sourceId that took each
}

func idTag(parts ...string) [16]byte {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	var d [16]byte
	copy(d[:], h[:])
	return d
}

// isOffset reports whether a sourceId is an mbox offset of the scheme
// before FORMAT.md's "mbox sourceIds": '#' and digits at its end.
func isOffset(sourceID string) bool {
	i := strings.LastIndexByte(sourceID, '#')
	if i < 0 || i == len(sourceID)-1 {
		return false
	}
	_, err := strconv.ParseUint(sourceID[i+1:], 10, 63)
	return err == nil
}

// readPlacedIDs indexes the latest record of each message placed.
func readPlacedIDs(j *journal.Journal) (*placedIDs, error) {
	type entry struct {
		src, off [16]byte
		offset   bool
	}
	latest := map[journal.Key]*entry{}
	err := j.Scan(func(r journal.Record) {
		if r.State == journal.Pending {
			return // an intent; its outcome follows
		}
		if r.State != journal.Done || r.Ref == "" || r.Source == "" || r.MessageID == "" {
			delete(latest, r.Key)
			return
		}
		id := bareID(r.MessageID)
		latest[r.Key] = &entry{src: idTag(r.Source, id), off: idTag(r.Folder, id, strconv.FormatInt(r.Size, 10)),
			offset: isOffset(r.Source)}
	})
	if err != nil {
		return nil, err
	}
	ix := &placedIDs{bySource: map[[16]byte]bool{}, byOffset: map[[16]byte][]journal.Key{}, takenBy: map[journal.Key]string{}}
	for k, e := range latest {
		ix.bySource[e.src] = true
		if e.offset {
			ix.byOffset[e.off] = append(ix.byOffset[e.off], k)
		}
	}
	return ix, nil
}

// sameItem reports whether the journal places a message that the item
// of sourceId in folder (Message-ID msgID, size bytes) is; see above.
// The journal is read on the first call.
func (p *presence) sameItem(sourceID, folder, msgID string, size int64) (bool, error) {
	if msgID == "" || sourceID == "" {
		return false, nil
	}
	if p.ids == nil {
		ix, err := readPlacedIDs(p.j)
		if err != nil {
			return false, err
		}
		p.ids = ix
	}
	id := bareID(msgID)
	tag := idTag(sourceID, id)
	if p.ids.bySource[tag] {
		return true, nil
	}
	// This run places it, or found it: a later archive repeating it with
	// other bytes is it too.
	p.ids.bySource[tag] = true
	if isOffset(sourceID) {
		return false, nil // both offsets: the same offset may be another message
	}
	// Each offset record stands for one sourceId of the new scheme: a
	// second identical copy is a message of its own.
	for _, k := range p.ids.byOffset[idTag(folder, id, strconv.FormatInt(size, 10))] {
		if by, ok := p.ids.takenBy[k]; !ok || by == sourceID {
			p.ids.takenBy[k] = sourceID
			return true, nil
		}
	}
	return false, nil
}
