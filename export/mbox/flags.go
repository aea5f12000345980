package mbox

import (
	"fmt"
	"strings"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/mailbox/mbox"
)

// flagSet collects IMAP flags in order, without duplicates. Keywords are
// case-insensitive in IMAP, so "$Label1" and "$label1" are one.
type flagSet struct {
	list  []string
	notes []string
}

func (s *flagSet) has(flag string) bool {
	for _, f := range s.list {
		if strings.EqualFold(f, flag) {
			return true
		}
	}
	return false
}

func (s *flagSet) add(flag string) {
	if !s.has(flag) {
		s.list = append(s.list, flag)
	}
}

// addKeyword adds a keyword, made into a valid IMAP atom if it is not one
// (with a note saying so).
func (s *flagSet) addKeyword(k string) {
	k = strings.TrimSpace(k)
	if k == "" {
		return
	}
	atom := export.KeywordAtom(k)
	if atom != k {
		s.notes = append(s.notes, fmt.Sprintf("keyword %q is not an IMAP atom; kept as %q", k, atom))
	}
	s.add(atom)
}

// itemFlags makes the flags an mbox message carries (mailbox/mbox) into
// the item's: keywords that are not IMAP atoms are made atoms, with a note.
func itemFlags(raw mbox.Flags) *flagSet {
	s := &flagSet{}
	for _, f := range raw {
		if mbox.IsKeyword(f) {
			s.addKeyword(f)
		} else {
			s.add(f)
		}
	}
	return s
}
