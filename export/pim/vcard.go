package pim

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/mailhaul/mailhaul/internal/contentline"
)

// VCard is one top-level vCard found by SplitVCards.
type VCard struct {
	Index int // 1-based position among the file's top-level cards
	Line  int // 1-based line of its BEGIN:VCARD
	// Offset is where Raw starts in the input.
	Offset int64
	// Raw holds the card's bytes exactly as in the file, from BEGIN:VCARD
	// through the line ending of its END:VCARD. It is reused after the
	// callback returns.
	Raw []byte
	// Unterminated is set when the input ended before the card's
	// END:VCARD; Raw then runs to the end of the input.
	Unterminated bool
}

// SplitVCards reads a stream of vCards and calls fn with each top-level
// card, holding only one card in memory. It splits raw lines at
// BEGIN:VCARD and END:VCARD, counting nesting so a vCard 2.1 AGENT card
// stays inside its parent, and never re-encodes anything.
//
// Non-blank text outside cards is skipped and reported once through
// problem; a card over MaxObjectSize is skipped and reported with Lost
// set. problem may be nil. An error from fn or from reading r stops the
// split and is returned.
func SplitVCards(ctx context.Context, r io.Reader, fn func(VCard) error, problem func(SplitProblem)) error {
	if problem == nil {
		problem = func(SplitProblem) {}
	}
	var (
		card       []byte
		depth      int
		tooLarge   bool
		cur        VCard
		index      int
		stray      int
		firstStray int
	)
	emit := func() error {
		if tooLarge {
			problem(SplitProblem{Line: cur.Line, What: fmt.Sprintf("card %d", cur.Index), Lost: true,
				Reason: fmt.Sprintf("larger than %d MiB, not exported", MaxObjectSize>>20)})
			return nil
		}
		cur.Raw = card
		return fn(cur)
	}
	for l, err := range contentline.Lines(ctx, r, MaxObjectSize+1) {
		if err != nil {
			return err
		}
		text := l.Text
		if l.Number == 1 {
			text = bytes.TrimPrefix(text, bom)
		}
		if depth == 0 {
			if !isBeginVCard(text) {
				if len(contentline.Trim(text)) > 0 {
					if stray == 0 {
						firstStray = l.Number
					}
					stray++
				}
				continue
			}
			index++
			cur = VCard{Index: index, Line: l.Number, Offset: l.Start + int64(len(l.Text)-len(text))}
			card, tooLarge, depth = card[:0], false, 1
		} else if opensNestedVCard(text) {
			depth++
		} else if isEndVCard(text) {
			depth--
		}
		if !tooLarge {
			if l.Truncated || len(card)+len(text)+len(l.EOL) > MaxObjectSize {
				tooLarge = true
				card = card[:0]
			} else {
				card = append(append(card, text...), l.EOL...)
			}
		}
		if depth == 0 {
			if err := emit(); err != nil {
				return err
			}
		}
	}
	if depth > 0 {
		cur.Unterminated = true
		if err := emit(); err != nil {
			return err
		}
	}
	if stray > 0 {
		problem(SplitProblem{Line: firstStray, What: "text outside vCards",
			Reason: fmt.Sprintf("%d non-blank line(s) outside BEGIN:VCARD/END:VCARD ignored", stray)})
	}
	return nil
}

func isBeginVCard(text []byte) bool {
	return bytes.EqualFold(contentline.Trim(text), []byte("BEGIN:VCARD"))
}
func isEndVCard(text []byte) bool {
	return bytes.EqualFold(contentline.Trim(text), []byte("END:VCARD"))
}

// opensNestedVCard reports whether a line inside a card starts a nested
// card: a bare BEGIN:VCARD, or vCard 2.1's "AGENT:BEGIN:VCARD" where the
// agent's card starts on the property line itself.
func opensNestedVCard(text []byte) bool {
	if isBeginVCard(text) {
		return true
	}
	t := contentline.Trim(text)
	if len(t) < 6 || !bytes.EqualFold(t[:5], []byte("AGENT")) || (t[5] != ':' && t[5] != ';') {
		return false
	}
	i := bytes.IndexByte(t, ':')
	return i >= 0 && isBeginVCard(t[i+1:])
}
