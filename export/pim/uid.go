package pim

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/fnv"
	"io"
	"strconv"
	"strings"
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

// uidOwners remembers which item of one collection holds each UID, with a
// digest of that item's content as the source wrote it, so that a later
// item with the same UID is told apart: an identical copy is exported
// once, a different item gets a new UID (a collection holds one object per
// UID, RFC 6352 §5.1 and RFC 4791 §4.1; a second PUT would fail or replace
// the first). Keys and digests are 16 bytes of SHA-256, about 80 bytes an
// item with the map's overhead.
type uidOwners struct {
	m map[[16]byte]uidOwner
	// copies counts earlier items with a generated UID per content digest:
	// identical items without UID are distinct copies in the source (no
	// UID made them one), so each copy gets a UID of its own.
	copies map[[16]byte]int
}

type uidOwner struct {
	sum  [16]byte
	what string // the item, for notes: "book.vcf card 3 (line 20)"
}

func uidKey(uid string) [16]byte {
	s := sha256.Sum256([]byte(uid))
	return [16]byte(s[:16])
}

// digest16 is the first 16 bytes of the SHA-256 of r's content.
func digest16(r io.Reader) ([16]byte, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return [16]byte{}, err
	}
	return [16]byte(h.Sum(nil)[:16]), nil
}

func (u *uidOwners) get(uid string) (uidOwner, bool) {
	o, ok := u.m[uidKey(uid)]
	return o, ok
}

func (u *uidOwners) put(uid string, sum [16]byte, what string) {
	if u.m == nil {
		u.m = map[[16]byte]uidOwner{}
	}
	u.m[uidKey(uid)] = uidOwner{sum: sum, what: what}
}

// uidVerdict is what claim decided for an item.
type uidVerdict struct {
	duplicate bool   // an identical item holds the UID: skip this one
	newUID    string // a different item holds it: use this UID instead
	note      string // says why, for the item's notes (and a warning if warn)
	warn      bool   // the change is worth a warning, not just a note
}

// claim takes uid for the item what, whose content digest is sum. content
// re-reads the item's bytes, to derive a new UID from them (stable across
// runs); salt makes the rare second try differ. generated says the UID was
// made by mailhaul from the content.
func (u *uidOwners) claim(collection, uid string, sum [16]byte, what string, generated bool, content func() io.Reader) (uidVerdict, error) {
	prev, taken := u.get(uid)
	if generated {
		if u.copies == nil {
			u.copies = map[[16]byte]int{}
		}
		n := u.copies[sum]
		u.copies[sum] = n + 1
		if n > 0 {
			fresh, err := generateUID(collection, io.MultiReader(content(), strings.NewReader("\x00copy "+strconv.Itoa(n))))
			if err != nil {
				return uidVerdict{}, err
			}
			if _, clash := u.get(fresh); !clash {
				u.put(fresh, sum, what)
				return uidVerdict{newUID: fresh, note: fmt.Sprintf("identical copy %d of %s, which has no UID either; given a UID of its own", n+1, prev.what)}, nil
			}
		}
	}
	if !taken {
		u.put(uid, sum, what)
		return uidVerdict{}, nil
	}
	if prev.sum == sum {
		return uidVerdict{duplicate: true, note: fmt.Sprintf("identical to %s (same UID %q and content); exported once", prev.what, uid)}, nil
	}
	for salt := 0; salt < 8; salt++ {
		r := content()
		if salt > 0 {
			r = io.MultiReader(r, strings.NewReader("\x00"+strconv.Itoa(salt)))
		}
		fresh, err := generateUID(collection, r)
		if err != nil {
			return uidVerdict{}, err
		}
		if owner, ok := u.get(fresh); ok {
			if owner.sum == sum { // the same item came twice, and got this UID before
				return uidVerdict{duplicate: true, note: fmt.Sprintf("identical to %s (same content, UID %q); exported once", owner.what, uid)}, nil
			}
			continue
		}
		u.put(fresh, sum, what)
		return uidVerdict{newUID: fresh, warn: true, note: fmt.Sprintf("uid replaced: UID %q is already used by %s with different content; this item now has UID %s", uid, prev.what, fresh)}, nil
	}
	return uidVerdict{}, fmt.Errorf("pim: no free UID for %s", what)
}
