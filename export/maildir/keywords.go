package maildir

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/srcfs"
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
// (most folders have none); nil is returned then. notes say which names
// had to be changed to be sent as IMAP keywords.
func readKeywords(dir *srcfs.Dir) (k *keywords, notes []string, err error) {
	f, err := dir.OpenFile(keywordsFile) // never a link: names would leak the target's text
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("maildir: read %s: %w", keywordsFile, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeywordsFile))
	if err != nil {
		return nil, nil, fmt.Errorf("maildir: read %s: %w", keywordsFile, err)
	}
	k, notes = parseKeywords(data)
	return k, notes, nil
}

// parseKeywords parses the "N name" lines of a keywords file. Lines that
// do not fit (a bad index, no name) are skipped: one bad line must not
// cost the folder its other keywords. A name that is not an IMAP atom is
// kept with its offending characters replaced, and a note says so.
func parseKeywords(data []byte) (*keywords, []string) {
	var (
		k     keywords
		notes []string
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxKeywordsFile)
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
		k[i] = export.KeywordAtom(string(name))
		if k[i] != string(name) {
			notes = append(notes, fmt.Sprintf("keyword %q (letter %c) is not an IMAP atom; kept as %q", name, 'a'+i, k[i]))
		}
	}
	return &k, notes
}
