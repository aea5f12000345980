package mbox

import (
	"fmt"
	"strings"

	"github.com/mailhaul/mailhaul/export"
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

func (s *flagSet) remove(flag string) {
	for i, f := range s.list {
		if strings.EqualFold(f, flag) {
			s.list = append(s.list[:i], s.list[i+1:]...)
			return
		}
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

// headerFlags turns the flag headers of mbox writers into IMAP flags:
// Status and X-Status (UW-IMAP, Dovecot, mutt), X-Keywords (Dovecot),
// X-Mozilla-Status and X-Mozilla-Keys (Thunderbird).
func headerFlags(h *headerInfo) *flagSet {
	s := &flagSet{}
	if strings.ContainsRune(h.status, 'R') {
		s.add(`\Seen`)
	}
	for _, c := range h.xStatus {
		switch c {
		case 'A':
			s.add(`\Answered`)
		case 'F':
			s.add(`\Flagged`)
		case 'T':
			s.add(`\Draft`)
		case 'D':
			s.add(`\Deleted`)
		}
	}
	if h.mozStatus&mozRead != 0 {
		s.add(`\Seen`)
	}
	if h.mozStatus&mozReplied != 0 {
		s.add(`\Answered`)
	}
	if h.mozStatus&mozMarked != 0 {
		s.add(`\Flagged`)
	}
	if h.mozStatus&mozForwarded != 0 {
		s.add("$Forwarded")
	}
	for _, k := range h.keywords {
		s.addKeyword(k)
	}
	return s
}
