package pim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/emersion/go-vcard"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/contentline"
	"github.com/mailhaul/mailhaul/internal/nopanic"
)

// AddContacts exports the vCard file at path as the address book name (the
// file's base name without extension when name is ""): one folder, then
// one contact item per top-level card, holding that card's bytes.
//
// A card go-vcard cannot parse is still exported unchanged, with a
// warning. A card without UID gets a stable generated one, inserted as a
// UID line before its END:VCARD. A UID names one card in the address
// book: a later, different card with a used UID gets a new one (noted and
// warned), an identical copy is exported once (SkipDuplicate, warned). A
// missing or unreadable file is an error, and so is an iCalendar file
// (ErrCalendarFile); an empty one gives an empty address book.
func AddContacts(ctx context.Context, sink export.Sink, name, path string, opt export.Options) error {
	name = defaultName(name, path)
	f, fi, err := openFile(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if sniffKind(f) == kindICalendar {
		return fmt.Errorf("pim: %s %w", path, ErrCalendarFile)
	}
	if err := sink.AddFolder(format.Folder{Kind: format.FolderContacts, Path: name, DisplayName: name}); err != nil {
		return err
	}
	c := contactExport{sink: sink, folder: name, file: filepath.Base(path), mtime: fi.ModTime().UTC(),
		opt: opt}
	problem := func(p SplitProblem) {
		fp := format.Problem{Folder: name, Item: c.file + " " + p.What + fmt.Sprintf(" (line %d)", p.Line), Reason: p.Reason}
		if p.Lost {
			sink.AddError(fp)
		} else {
			sink.AddWarning(fp)
		}
	}
	if err := SplitVCards(ctx, f, c.add, problem); err != nil {
		var se sinkError
		if errors.As(err, &se) {
			return se.err
		}
		if ctx.Err() != nil {
			return err
		}
		return fmt.Errorf("pim: read %s: %w", path, err)
	}
	return nil
}

// sinkError marks an error from the sink, which ends the export as is.
type sinkError struct{ err error }

func (e sinkError) Error() string { return e.err.Error() }
func (e sinkError) Unwrap() error { return e.err }

type contactExport struct {
	sink   export.Sink
	folder string
	file   string
	mtime  time.Time
	opt    export.Options
	ids    sourceIDs
	uids   uidOwners
}

func (c *contactExport) add(card VCard) error {
	what := fmt.Sprintf("%s card %d (line %d)", c.file, card.Index, card.Line)
	raw := card.Raw
	var notes []string

	top := outerCardLines(raw)
	var parsed vcard.Card
	perr := nopanic.Run(func() (err error) {
		parsed, err = vcard.NewDecoder(bytes.NewReader(top)).Decode()
		return err
	})
	var uid, rev string
	generated := false
	if perr == nil {
		uid, rev = strings.TrimSpace(parsed.Value(vcard.FieldUID)), parsed.Value(vcard.FieldRevision)
	} else {
		uid, rev = scanValue(top, "UID"), scanValue(top, "REV")
		notes = append(notes, "go-vcard cannot parse this card: "+perr.Error())
		c.sink.AddWarning(format.Problem{Folder: c.folder, Item: what,
			Reason: fmt.Sprintf("vcard: %v; exported unchanged", perr)})
	}
	if card.Unterminated {
		notes = append(notes, "no END:VCARD before the end of the file")
	}
	if uid == "" {
		var err error
		if uid, err = generateUID(c.folder, bytes.NewReader(raw)); err != nil {
			return err
		}
		if at, ok := outerUIDLine(raw, true); ok {
			raw = replaceSpan(raw, at, "UID:"+uid)
		} else {
			raw = insertBeforeLastLine(raw, "UID:"+uid, card.Unterminated)
		}
		notes = append(notes, "uid generated")
		generated = true
	}
	// Decided before the cutoff, so a delta gives a card the UID the full
	// export gave it.
	sum, _ := digest16(bytes.NewReader(raw))
	v, err := c.uids.claim(c.folder, uid, sum, what, generated, func() io.Reader { return bytes.NewReader(raw) })
	if err != nil {
		return err
	}
	switch {
	case v.duplicate:
		c.sink.AddSkipped(SkipDuplicate, 1)
		c.sink.AddWarning(format.Problem{Folder: c.folder, Item: what, Reason: v.note})
		return nil
	case v.newUID != "":
		at, ok := outerUIDLine(raw, false)
		if !ok {
			return fmt.Errorf("pim: %s: UID line not found", what)
		}
		raw = replaceSpan(raw, at, "UID:"+v.newUID)
		uid = v.newUID
		notes = append(notes, v.note)
		if v.warn {
			c.sink.AddWarning(format.Problem{Folder: c.folder, Item: what, Reason: v.note})
		}
	}

	received := c.mtime
	if t, ok := ParseStamp(rev); ok {
		received = t
	}
	// The SourceID is handed out before the cutoff is applied, so that a
	// delta gives each contact the same one as the full export.
	it := format.Item{Kind: format.KindContact, Folder: c.folder, Received: received, UID: uid,
		SourceID: c.ids.next(c.file, uid, card.Index), Notes: notes}
	if err := addState(c.sink, c.opt, it, bytes.NewReader(raw)); err != nil {
		return err
	}
	if !c.opt.Keep(received) {
		c.sink.AddSkipped(export.SkipBeforeCutoff, 1)
		return nil
	}
	if err := export.AddItem(c.sink, it, what, bytes.NewReader(raw)); err != nil {
		return sinkError{err}
	}
	return nil
}

// insertBeforeLastLine returns card with line added before its last line
// (END:VCARD), in the card's own line ending; in an unterminated card the
// line goes at the end instead.
func insertBeforeLastLine(card []byte, line string, atEnd bool) []byte {
	eol := lineEnding(card)
	body := bytes.TrimSuffix(bytes.TrimSuffix(card, []byte("\n")), []byte("\r"))
	at := bytes.LastIndexByte(body, '\n') + 1
	if atEnd {
		at = len(card)
		if at > 0 && card[at-1] != '\n' {
			line = eol + line
		}
	}
	out := make([]byte, 0, len(card)+len(line)+len(eol))
	out = append(out, card[:at]...)
	out = append(out, line...)
	out = append(out, eol...)
	return append(out, card[at:]...)
}

// outerUIDLine finds the outer card's first UID property (with an empty
// value when empty is set: "UID:" must take a generated UID, as a second
// UID line would make the card invalid).
func outerUIDLine(card []byte, empty bool) (span, bool) {
	u := contentline.NewUnfolder(bytes.NewReader(card), len(card)+1)
	var depth cardDepth
	for {
		l, err := u.Next()
		if err != nil {
			return span{}, false
		}
		if !depth.step(l.Text) && depth == 1 {
			if p := contentline.Split(l.Text); p.Is("UID") && (!empty || len(bytes.TrimSpace(p.Value)) == 0) {
				return span{start: l.Start, end: l.End}, true
			}
		}
	}
}

// cardDepth follows a card's nesting line by line: 1 in the outer card,
// more in a nested (AGENT) card.
type cardDepth int

// step moves past the line text and reports whether it began or ended a
// card; the first line is taken as the outer card's BEGIN.
func (d *cardDepth) step(text []byte) bool {
	switch {
	case *d == 0:
		*d = 1
	case opensNestedVCard(text):
		*d++
	case isEndVCard(text):
		*d--
	default:
		return false
	}
	return true
}

// replaceSpan returns b with the line at s replaced by line, keeping the
// replaced line's ending.
func replaceSpan(b []byte, s span, line string) []byte {
	old := b[s.start:s.end]
	eol := ""
	switch {
	case bytes.HasSuffix(old, []byte("\r\n")):
		eol = "\r\n"
	case bytes.HasSuffix(old, []byte("\n")):
		eol = "\n"
	}
	out := make([]byte, 0, len(b)-len(old)+len(line)+len(eol))
	out = append(out, b[:s.start]...)
	out = append(out, line...)
	out = append(out, eol...)
	return append(out, b[s.end:]...)
}

// outerCardLines returns card without the lines of any nested (AGENT)
// card, so a parser sees the outer card's own UID and REV; for the usual
// card without nesting it returns card itself.
func outerCardLines(card []byte) []byte {
	lr := contentline.NewReader(bytes.NewReader(card), len(card)+1)
	var out []byte
	var depth cardDepth
	nested := false
	for {
		l, err := lr.Next()
		if err != nil {
			break
		}
		before := depth
		depth.step(l.Text)
		// A nested card's BEGIN, its lines and its END.
		inner := max(before, depth) > 1
		nested = nested || inner
		if !inner {
			out = append(append(out, l.Text...), l.EOL...)
		}
	}
	if !nested {
		return card
	}
	return out
}

// scanValue finds the first property called name among a card's unfolded
// lines, for cards go-vcard refuses. It does not unescape the value.
func scanValue(card []byte, name string) string {
	u := contentline.NewUnfolder(bytes.NewReader(card), len(card)+1)
	for {
		l, err := u.Next()
		if err != nil {
			return ""
		}
		p := contentline.Split(l.Text)
		if p.Is(name) {
			return strings.TrimSpace(string(p.Value))
		}
	}
}
