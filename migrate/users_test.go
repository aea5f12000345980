package migrate

import (
	"strings"
	"testing"
)

// TestKeysNeverCollide: a user's key is one safe file name, distinct for
// distinct addresses (without case), and the same every time.
func TestKeysNeverCollide(t *testing.T) {
	addrs := []string{"a/b@x", "a_b@x", "a%2Fb@x", "a:b@x", ".hidden@x", "%2Ehidden@x", "..", "_..", "",
		strings.Repeat("é", 120) + "@x", strings.Repeat("é", 120) + "@y", strings.Repeat("/", 70) + "1", strings.Repeat("/", 70) + "2"}
	seen := map[string]string{}
	for _, a := range addrs {
		k := Key(a)
		if k == "" || k == "." || k == ".." || strings.ContainsAny(k, "/\\:\x00") || len(k) > maxKey+1 {
			t.Errorf("Key(%q) = %q: not a safe file name", a, k)
		}
		if prev, dup := seen[strings.ToLower(k)]; dup {
			t.Errorf("Key(%q) = Key(%q) = %q", a, prev, k)
		}
		seen[strings.ToLower(k)] = a
		if Key(a) != k {
			t.Errorf("Key(%q) is not stable", a)
		}
	}
	if Key("Alice@Example.org") != Key("alice@example.org") {
		t.Error("addresses differing in case are one user and one key")
	}
}
