package pim

import (
	"crypto/sha1"
	"encoding/hex"
	"hash"
	"hash/fnv"
	"io"
	"strconv"
)

// uidNamespace is the UUIDv5 namespace (RFC 9562 §5.5) of the UIDs
// mailhaul generates. It must never change: reruns of an export must give
// a UID-less card or event the same UID so imports stay idempotent.
var uidNamespace = [16]byte{0x6d, 0x0c, 0x5a, 0x3e, 0x8f, 0x1b, 0x4c, 0x52, 0x9a, 0x77, 0x1e, 0x04, 0xd3, 0x2b, 0x66, 0x90}

// uidHasher computes a UUIDv5 over a collection name and content whose
// line endings are normalised to LF, so a file converted between CRLF and
// LF keeps its generated UIDs.
type uidHasher struct {
	h      hash.Hash
	pendCR bool // a CR at the end of the last write, not yet known to be part of CRLF
}

func newUIDHasher(collection string) *uidHasher {
	u := &uidHasher{h: sha1.New()}
	u.h.Write(uidNamespace[:])
	u.h.Write([]byte(collection))
	u.h.Write([]byte{0})
	return u
}

func (u *uidHasher) Write(p []byte) (int, error) {
	n := len(p)
	start := 0
	if u.pendCR {
		u.pendCR = false
		if len(p) > 0 && p[0] == '\n' {
			start = 0 // the LF completes a CRLF: write just the LF
		} else {
			u.h.Write([]byte{'\n'})
		}
	}
	for i := start; i < len(p); i++ {
		if p[i] != '\r' {
			continue
		}
		u.h.Write(p[start:i])
		start = i + 1
		switch {
		case i+1 == len(p):
			u.pendCR = true
		case p[i+1] != '\n':
			u.h.Write([]byte{'\n'}) // a lone CR ends a line too
		}
	}
	u.h.Write(p[start:])
	return n, nil
}

// UID returns the UUID in its usual lower-case text form.
func (u *uidHasher) UID() string {
	if u.pendCR {
		u.h.Write([]byte{'\n'})
		u.pendCR = false
	}
	var b [16]byte
	copy(b[:], u.h.Sum(nil))
	b[6] = b[6]&0x0f | 0x50 // version 5
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	x := hex.EncodeToString(b[:])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

// generateUID is the stable UID of content in collection.
func generateUID(collection string, content io.Reader) (string, error) {
	u := newUIDHasher(collection)
	if _, err := io.Copy(u, content); err != nil {
		return "", err
	}
	return u.UID(), nil
}

// sourceIDs hands out SourceIDs unique within one file. The preferred id
// is file#UID; a repeated one gets the item's index appended, which is as
// stable as the file's order. It remembers 8-byte hashes, not strings, so
// 100k items cost about 2 MB; a hash collision only adds a suffix.
type sourceIDs struct {
	seen map[uint64]struct{}
}

func (s *sourceIDs) next(file, uid string, index int) string {
	if s.seen == nil {
		s.seen = map[uint64]struct{}{}
	}
	id := file + "#" + uid
	h := fnv.New64a()
	h.Write([]byte(id))
	k := h.Sum64()
	if _, dup := s.seen[k]; dup || uid == "" {
		return file + "#" + uid + "#" + strconv.Itoa(index)
	}
	s.seen[k] = struct{}{}
	return id
}
