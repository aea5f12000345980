package dav

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// resourceName is the href segment for an object with uid: the UID itself
// when it is short and made of characters that need no escaping and mean
// the same on every server and file system, otherwise a hash of it. Both
// are stable, so a re-run addresses the same resource.
func resourceName(uid, ext string) string {
	if safeUID(uid) {
		return uid + ext
	}
	sum := sha256.Sum256([]byte(uid))
	return hex.EncodeToString(sum[:16]) + ext
}

func safeUID(uid string) bool {
	if uid == "" || len(uid) > 120 || uid[0] == '.' || strings.HasPrefix(uid, "-") {
		return false
	}
	for i := 0; i < len(uid); i++ {
		c := uid[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == '@' || c == '+':
		default:
			return false
		}
	}
	return true
}

// slug makes a collection path segment from a display name: lower-case
// letters, digits and dashes; a hash when nothing is left.
func slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 60 {
			break
		}
	}
	s := strings.TrimSuffix(b.String(), "-")
	if s == "" {
		sum := sha256.Sum256([]byte(name))
		s = "c-" + hex.EncodeToString(sum[:6])
	}
	return s
}
