package zimbra

import (
	"strconv"
	"strings"
)

// maxDenseID bounds the ids kept as bits (8 MiB of them); a larger one,
// which Zimbra's counters do not reach, goes into a map instead.
const maxDenseID = 1 << 26

// idSet is a set of Zimbra item ids. Ids are small, dense counters of
// one mailbox, so a bit per id keeps a mailbox of a million items in
// 125 KB, where a map costs about 100 bytes per id.
type idSet struct {
	words []uint64
	big   map[int]bool // ids < 0 or >= maxDenseID
}

func (s *idSet) has(id int) bool {
	if id < 0 || id >= maxDenseID {
		return s.big[id]
	}
	w := id / 64
	return w < len(s.words) && s.words[w]&(1<<(id%64)) != 0
}

func (s *idSet) add(id int) {
	if id < 0 || id >= maxDenseID {
		if s.big == nil {
			s.big = map[int]bool{}
		}
		s.big[id] = true
		return
	}
	w := id / 64
	if w >= len(s.words) {
		s.words = append(s.words, make([]uint64, w+1-len(s.words))...)
	}
	s.words[w] |= 1 << (id % 64)
}

func (s *idSet) remove(id int) {
	if id < 0 || id >= maxDenseID {
		delete(s.big, id)
		return
	}
	if w := id / 64; w < len(s.words) {
		s.words[w] &^= 1 << (id % 64)
	}
}

// moveInto adds s to t and empties s.
func (s *idSet) moveInto(t *idSet) {
	if len(t.words) < len(s.words) {
		t.words = append(t.words, make([]uint64, len(s.words)-len(t.words))...)
	}
	for i, w := range s.words {
		t.words[i] |= w
		s.words[i] = 0
	}
	for id := range s.big {
		t.add(id)
	}
	s.big = nil
}

// seenItems are the keys of the items exported or reported, by the file
// that had them: an item of a meta=1 export ("zimbra:<id>", every live
// one) as bits, in the files read before and in the one being read;
// any other key (meta=0: folder and content) with its file's number.
type seenItems struct {
	file             int
	earlier, current idSet
	other            map[string]int
}

// metaID is the id of a "zimbra:<id>" key.
func metaID(key string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(key, "zimbra:"))
	return n, err == nil && strings.HasPrefix(key, "zimbra:")
}

// nextFile starts the next file.
func (s *seenItems) nextFile() {
	s.file++
	s.current.moveInto(&s.earlier)
}

// mark records key in the file being read.
func (s *seenItems) mark(key string) {
	if id, ok := metaID(key); ok {
		s.current.add(id)
		return
	}
	if s.other == nil {
		s.other = map[string]int{}
	}
	s.other[key] = s.file
}

// inEarlierFile reports whether a file read before had key.
func (s *seenItems) inEarlierFile(key string) bool {
	if id, ok := metaID(key); ok {
		return s.earlier.has(id)
	}
	n, ok := s.other[key]
	return ok && n != s.file
}

// has reports whether any file had key.
func (s *seenItems) has(key string) bool {
	if id, ok := metaID(key); ok {
		return s.earlier.has(id) || s.current.has(id)
	}
	_, ok := s.other[key]
	return ok
}

// forget drops key (a damaged copy: a later one may be exported).
func (s *seenItems) forget(key string) {
	if id, ok := metaID(key); ok {
		s.earlier.remove(id)
		s.current.remove(id)
		return
	}
	delete(s.other, key)
}
