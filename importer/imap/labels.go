package imap

import (
	"errors"
	"slices"

	"github.com/mailhaul/mailhaul/format"
)

// placed hands one to the message e in its folder and then, once per
// other folder its labels name (format.Item.Labels: Gmail's labels, the
// message stored once in the archive), a copy of it in that folder. Each
// copy is an item of its own to everything after: its key holds its
// target mailbox (itemKey), so the journal sends each copy exactly once
// however often the import runs, and the import selection (--folder)
// keeps or leaves out each copy by its folder. An IMAP target has no
// labels, so a copy per folder is how they are kept; the bytes are read
// from the archive once and spooled for the copies.
func (im *job) placed(e *format.Entry, one func(*format.Entry) error) error {
	if len(e.Item.Labels) == 0 {
		return one(e)
	}
	sp, err := im.spooler.read(e.Body)
	if errors.Is(err, format.ErrDamagedItem) {
		// prepare reports it, once, in its folder.
		bad := *e
		bad.Body = errReader{err}
		return one(&bad)
	}
	if err != nil {
		return err
	}
	defer sp.close()
	folders := []string{e.Item.Folder}
	for _, l := range e.Item.Labels {
		if !slices.Contains(folders, l) {
			folders = append(folders, l)
		}
	}
	for _, f := range folders {
		it := *e.Item
		it.Folder, it.Labels = f, nil
		if f != e.Item.Folder {
			it.Role = "" // the folder's record, already read, has it
		}
		body, err := sp.open()
		if err != nil {
			return err
		}
		c := *e
		c.Item, c.Body = &it, body
		if err := one(&c); err != nil {
			return err
		}
	}
	return nil
}

// errReader fails every read with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
