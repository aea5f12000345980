package pim

import (
	"bytes"
	"errors"
	"io"

	"github.com/mailhaul/mailhaul/internal/contentline"
)

// Errors for a file given as the wrong kind of collection: exporting it
// would give an empty address book or calendar and lose every item.
var (
	ErrContactsFile = errors.New("holds vCards (contacts), not calendar data")
	ErrCalendarFile = errors.New("holds iCalendar data (events, tasks), not vCards")
)

// fileKind is what a contact or calendar file's first line says it is.
type fileKind int

const (
	kindUnknown fileKind = iota // empty, or neither: the parsers report what they find
	kindVCard
	kindICalendar
)

// maxSniff bounds how far the first non-blank line is looked for.
const maxSniff = 64 << 10

// sniffKind reads the first non-blank line of r (after a byte order mark).
func sniffKind(r io.ReaderAt) fileKind {
	lr := contentline.NewReader(io.NewSectionReader(r, 0, maxSniff), maxSniff)
	for {
		l, err := lr.Next()
		if err != nil {
			return kindUnknown
		}
		// Trim drops the byte-order mark as well.
		if t := bytes.ToUpper(contentline.Trim(l.Text)); len(t) > 0 {
			switch {
			case bytes.Equal(t, []byte("BEGIN:VCARD")):
				return kindVCard
			case bytes.Equal(t, []byte("BEGIN:VCALENDAR")), bytes.Equal(t, []byte("BEGIN:VEVENT")),
				bytes.Equal(t, []byte("BEGIN:VTODO")), bytes.Equal(t, []byte("BEGIN:VJOURNAL")):
				return kindICalendar
			}
			return kindUnknown
		}
	}
}
