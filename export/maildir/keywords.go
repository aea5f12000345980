package maildir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/srcfs"
	mdir "github.com/mailhaul/mailhaul/mailbox/maildir"
)

const keywordsFile = mdir.KeywordsFile

// readKeywords reads dir's dovecot-keywords. A missing file is no error
// (most folders have none); nil is returned then. notes say which names
// had to be changed to be sent as IMAP keywords.
func readKeywords(dir *srcfs.Dir) (k *mdir.Keywords, notes []string, err error) {
	f, err := dir.OpenFile(keywordsFile) // never a link: names would leak the target's text
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("maildir: read %s: %w", keywordsFile, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, mdir.MaxKeywordsFile))
	if err != nil {
		return nil, nil, fmt.Errorf("maildir: read %s: %w", keywordsFile, err)
	}
	k, notes = parseKeywords(data)
	return k, notes, nil
}

// parseKeywords parses a keywords file (mdir.ParseKeywords). A name that
// is not an IMAP atom is kept with its offending characters replaced, and
// a note says so: the archive holds IMAP flags.
func parseKeywords(data []byte) (*mdir.Keywords, []string) {
	k := mdir.ParseKeywords(data)
	var notes []string
	for i, name := range k {
		if name == "" {
			continue
		}
		if k[i] = export.KeywordAtom(name); k[i] != name {
			notes = append(notes, fmt.Sprintf("keyword %q (letter %c) is not an IMAP atom; kept as %q", name, 'a'+i, k[i]))
		}
	}
	return k, notes
}
