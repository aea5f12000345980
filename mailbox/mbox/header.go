package mbox

import (
	"bytes"
	"strconv"
	"strings"
)

// eachField calls fn with the name and unfolded value of each header
// field in hdr, in order, until fn returns false or the header ends. The
// value is valid only until fn returns. It is tolerant: lines that are not
// fields are skipped, so one broken line does not hide the fields after it.
func eachField(hdr []byte, fn func(name, value []byte) bool) {
	var folded []byte // one buffer for every folded value: no copy per line
	for len(hdr) > 0 {
		var line []byte
		line, hdr = cutLine(hdr)
		line = trimEOL(line)
		if len(line) == 0 {
			return // the blank line ending the header
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok || len(name) == 0 || name[0] == ' ' || name[0] == '\t' {
			continue
		}
		if len(hdr) > 0 && (hdr[0] == ' ' || hdr[0] == '\t') {
			// value aliases hdr and must not be appended to in place.
			folded = append(folded[:0], value...)
			for len(hdr) > 0 && (hdr[0] == ' ' || hdr[0] == '\t') {
				var cont []byte
				cont, hdr = cutLine(hdr)
				folded = append(append(folded, ' '), bytes.TrimSpace(trimEOL(cont))...)
			}
			value = folded
		}
		if !fn(bytes.TrimRight(name, " \t"), bytes.TrimSpace(value)) {
			return
		}
	}
}

// field returns the value of the first field called name.
func field(hdr []byte, name string) ([]byte, bool) {
	var v []byte
	found := false
	eachField(hdr, func(n, value []byte) bool {
		if found = bytes.EqualFold(n, []byte(name)); found {
			v = value
		}
		return !found
	})
	return v, found
}

// Header is what a message's header says to an mbox reader: identity,
// dates, flags in the headers mbox writers use, and Gmail's labels.
type Header struct {
	MessageID    string
	Date         string
	LastReceived string // the last (oldest) Received field
	Subject      string
	Status       string // Status: R read, O old
	HasStatus    bool   // a Status field, even an empty one
	XStatus      string // X-Status: A answered, F flagged, T draft, D deleted
	Keywords     []string
	MozStatus    uint64 // X-Mozilla-Status bits
	GmailLabels  string
	HasLabels    bool
	IMAPInternal bool // an X-IMAP or X-IMAPbase field
}

// Thunderbird's X-Mozilla-Status bits (nsMsgMessageFlags).
const (
	mozRead      = 0x1
	mozReplied   = 0x2
	mozMarked    = 0x4
	MozExpunged  = 0x8 // deleted and awaiting compaction: not a message any more
	mozForwarded = 0x1000
)

// ParseHeader reads the fields of hdr (a message's start, as
// Message.Header holds it) that Header describes.
func ParseHeader(hdr []byte) Header {
	var h Header
	eachField(hdr, func(name, value []byte) bool {
		switch strings.ToLower(string(name)) {
		case "message-id":
			if h.MessageID == "" {
				h.MessageID = msgID(value)
			}
		case "date":
			if h.Date == "" {
				h.Date = string(value)
			}
		case "received":
			h.LastReceived = string(value)
		case "subject":
			if h.Subject == "" {
				h.Subject = string(value)
			}
		case "status":
			h.Status += string(value)
			h.HasStatus = true
		case "x-status":
			h.XStatus += string(value)
		case "x-keywords", "x-mozilla-keys":
			h.Keywords = append(h.Keywords, strings.FieldsFunc(string(value), func(r rune) bool {
				return r == ',' || r == ' ' || r == '\t'
			})...)
		case "x-mozilla-status":
			if n, err := strconv.ParseUint(string(value), 16, 32); err == nil {
				h.MozStatus |= n
			}
		case "x-gmail-labels":
			if !h.HasLabels {
				h.GmailLabels, h.HasLabels = string(value), true
			}
		case "x-imap", "x-imapbase":
			h.IMAPInternal = true
		}
		return true
	})
	return h
}

// msgID returns a Message-ID without its angle brackets. A value without
// brackets is taken as is when it is one word; anything else yields "".
func msgID(v []byte) string {
	if i := bytes.IndexByte(v, '<'); i >= 0 {
		if j := bytes.IndexByte(v[i:], '>'); j > 1 {
			return string(v[i+1 : i+j])
		}
		return ""
	}
	if len(v) == 0 || bytes.ContainsAny(v, " \t") {
		return ""
	}
	return string(v)
}
