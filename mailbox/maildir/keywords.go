package maildir

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// KeywordsFile is Dovecot's per-folder map from the flag letters a-z to
// keyword names, one "N name" line each, N = 0 for "a".
const KeywordsFile = "dovecot-keywords"

// MaxKeywordsFile bounds what is read of a keywords file: 26 names of any
// sane length fit many times over.
const MaxKeywordsFile = 64 << 10

// Keywords maps letter index (0 = 'a') to keyword name; "" is unset.
type Keywords [26]string

// Name is the keyword of letter index i, "" if none (or k is nil).
func (k *Keywords) Name(i int) string {
	if k == nil || i < 0 || i >= len(k) {
		return ""
	}
	return k[i]
}

// Add returns the letter index of name (compared case-insensitively, as
// IMAP keywords are), giving it the first free letter if it has none. ok
// is false when all 26 are taken, or name cannot stand on a keywords
// line (empty, or holding a space or a control character).
func (k *Keywords) Add(name string) (i int, ok bool) {
	if name == "" || strings.IndexFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return 0, false
	}
	free := -1
	for i, n := range k {
		switch {
		case strings.EqualFold(n, name):
			return i, true
		case n == "" && free < 0:
			free = i
		}
	}
	if free < 0 {
		return 0, false
	}
	k[free] = name
	return free, true
}

// ParseKeywords parses the "N name" lines of a keywords file. Lines that
// do not fit (a bad index, no name) are skipped: one bad line must not
// cost the folder its other keywords. Names are returned as written.
func ParseKeywords(data []byte) *Keywords {
	var k Keywords
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, MaxKeywordsFile)
	for sc.Scan() {
		line := bytes.TrimRight(sc.Bytes(), "\r")
		num, name, ok := bytes.Cut(line, []byte{' '})
		if !ok || len(name) == 0 {
			continue
		}
		i, err := strconv.Atoi(string(num))
		if err != nil || i < 0 || i >= len(k) {
			continue
		}
		k[i] = string(name)
	}
	return &k
}

// Marshal is the keywords file for k, as Dovecot writes it.
func (k *Keywords) Marshal() []byte {
	var b bytes.Buffer
	for i, n := range k {
		if n != "" {
			b.WriteString(strconv.Itoa(i) + " " + n + "\n")
		}
	}
	return b.Bytes()
}
