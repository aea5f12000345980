package maildir

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
)

// keywordsFile is Dovecot's per-folder map from the flag letters a-z to
// keyword names, one "N name" line each, N = 0 for "a".
const keywordsFile = "dovecot-keywords"

// maxKeywordsFile bounds what is read of a keywords file: 26 names of any
// sane length fit many times over.
const maxKeywordsFile = 64 << 10

// keywords maps letter index (0 = 'a') to keyword name; "" is unset.
type keywords [26]string

func (k *keywords) name(i int) string {
	if k == nil || i < 0 || i >= len(k) {
		return ""
	}
	return k[i]
}

// readKeywords reads dir's dovecot-keywords. A missing file is no error
// (most folders have none); nil is returned then.
func readKeywords(dir string) (*keywords, error) {
	f, err := os.Open(dir + "/" + keywordsFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("maildir: read %s: %w", keywordsFile, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeywordsFile))
	if err != nil {
		return nil, fmt.Errorf("maildir: read %s: %w", keywordsFile, err)
	}
	return parseKeywords(data), nil
}

// parseKeywords parses the "N name" lines of a keywords file. Lines that
// do not fit (a bad index, no name, a name that cannot be an IMAP keyword)
// are skipped: one bad line must not cost the folder its other keywords.
func parseKeywords(data []byte) *keywords {
	var k keywords
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxKeywordsFile)
	for sc.Scan() {
		line := bytes.TrimRight(sc.Bytes(), "\r")
		num, name, ok := bytes.Cut(line, []byte{' '})
		if !ok {
			continue
		}
		i, err := strconv.Atoi(string(num))
		if err != nil || i < 0 || i >= len(k) || !validKeyword(name) {
			continue
		}
		k[i] = string(name)
	}
	return &k
}

// validKeyword reports whether name can be sent as an IMAP keyword: an
// atom (RFC 3501 §9) that does not pose as a system flag.
func validKeyword(name []byte) bool {
	if len(name) == 0 || name[0] == '\\' {
		return false
	}
	for _, c := range name {
		if c <= ' ' || c >= 0x7f {
			return false
		}
		switch c {
		case '(', ')', '{', '%', '*', '"', '\\', ']':
			return false
		}
	}
	return true
}
