package convert

import (
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // text parts in other charsets
)

// MaxParts bounds the parts read from one blob.
const MaxParts = 1000

// MaxAttachment bounds one attached file (a contact's photo, a file
// attached to an appointment) and MaxItemAttachments all of one item's:
// they are held in memory, and again base64-encoded, to be written into
// the card or calendar, so an item holds about four times its budget at
// its peak. Files past the budget are noted, not carried. Zimbra's own
// limits (message and contact image sizes) are far smaller.
const (
	MaxAttachment      = 16 << 20
	MaxItemAttachments = 16 << 20
)

// budget counts the attachment bytes one item has read so far.
type budget struct{ used int64 }

// read reads one attachment; tooLarge reports one that would pass
// MaxAttachment or the item's MaxItemAttachments, left unread.
func (b *budget) read(r io.Reader) (data []byte, tooLarge bool, err error) {
	limit := min(int64(MaxAttachment), MaxItemAttachments-b.used)
	data, err = io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(data)) > limit {
		return nil, true, nil
	}
	b.used += int64(len(data))
	return data, false, nil
}

// attachedPart is one part of a Zimbra blob, its body decoded from its
// transfer encoding (and, for text, to UTF-8).
type attachedPart struct {
	header      message.Header
	contentType string
	field       string // Content-Disposition field= (contact attachments)
	filename    string
	body        io.Reader
}

// eachPart streams the parts of a multipart blob to fn, numbered from 1
// as Zimbra names them; a blob that is not multipart is its own part 1.
func eachPart(r io.Reader, fn func(part string, p attachedPart) error) error {
	e, err := message.Read(r)
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return fmt.Errorf("blob: %w", err)
	}
	mr := e.MultipartReader()
	if mr == nil {
		return fn("1", describe(e))
	}
	defer mr.Close()
	for i := 1; ; i++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
			return fmt.Errorf("blob: part %d: %w", i, err)
		}
		if i > MaxParts {
			return fmt.Errorf("blob: more than %d parts", MaxParts)
		}
		if err := fn(strconv.Itoa(i), describe(p)); err != nil {
			return err
		}
	}
}

func describe(e *message.Entity) attachedPart {
	p := attachedPart{header: e.Header, body: e.Body}
	p.contentType, _, _ = e.Header.ContentType()
	if _, params, err := e.Header.ContentDisposition(); err == nil {
		p.field, p.filename = params["field"], params["filename"]
	}
	return p
}
