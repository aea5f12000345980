package mbox

import (
	"net/mail"
	"strconv"
	"strings"
	"time"
)

// fromLineTime parses the date of a "From " line, given what follows
// "From ": the envelope sender, then an asctime date. Writers differ, so
// it takes "Wed Nov 28 12:00:00 2026", double-spaced days ("Jul  8"),
// minutes without seconds, a zone name or a numeric offset before or after
// the year (Takeout writes "12:00:00 +0000 2026") and trailing words such
// as UUCP's "remote from host". The sender may be missing or hold spaces,
// so the date is searched for rather than expected at a fixed position.
// A date without a zone is UTC; the result is always in UTC.
func fromLineTime(rest []byte) (time.Time, bool) {
	f := strings.Fields(string(rest))
	for i := range f {
		switch {
		case weekday(f[i]) && i+1 < len(f) && month(f[i+1]) > 0:
			if t, ok := asctime(f[i+1:]); ok {
				return t, true
			}
		case month(f[i]) > 0 && i+2 < len(f) && strings.Contains(f[i+2], ":"):
			if t, ok := asctime(f[i:]); ok {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// asctime parses "Nov 28 12:00:00 [zone] 2026 [zone]".
func asctime(f []string) (time.Time, bool) {
	if len(f) < 4 {
		return time.Time{}, false
	}
	mon := month(f[0])
	day, err := strconv.Atoi(f[1])
	if err != nil || day < 1 || day > 31 {
		return time.Time{}, false
	}
	hour, minute, sec, ok := clock(f[2])
	if !ok {
		return time.Time{}, false
	}
	year, offset, zoned := 0, 0, false
	for _, tok := range f[3:min(len(f), 6)] {
		switch {
		case year == 0 && len(tok) == 4 && digits(tok):
			year, _ = strconv.Atoi(tok)
		case !zoned && len(tok) == 5 && (tok[0] == '+' || tok[0] == '-') && digits(tok[1:]):
			h, _ := strconv.Atoi(tok[1:3])
			m, _ := strconv.Atoi(tok[3:])
			offset, zoned = (h*60+m)*60, true
			if tok[0] == '-' {
				offset = -offset
			}
		case !zoned && zoneName(tok):
			offset, zoned = zoneOffsets[strings.ToUpper(tok)], true
		}
	}
	if year < 1900 {
		return time.Time{}, false
	}
	t := time.Date(year, mon, day, hour, minute, sec, 0, time.FixedZone("", offset))
	if t.Day() != day { // Feb 31 and the like
		return time.Time{}, false
	}
	return t.UTC(), true
}

// clock parses "hh:mm" or "hh:mm:ss".
func clock(s string) (h, m, sec int, ok bool) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, 0, 0, false
	}
	var n [3]int
	for i, p := range parts {
		if len(p) == 0 || len(p) > 2 || !digits(p) {
			return 0, 0, 0, false
		}
		n[i], _ = strconv.Atoi(p)
	}
	if n[0] > 23 || n[1] > 59 || n[2] > 60 {
		return 0, 0, 0, false
	}
	return n[0], n[1], n[2], true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func weekday(s string) bool {
	s = strings.TrimSuffix(s, ",")
	if len(s) < 3 {
		return false
	}
	switch strings.ToLower(s[:3]) {
	case "mon", "tue", "wed", "thu", "fri", "sat", "sun":
		return true
	}
	return false
}

var months = [...]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

// month returns the month an abbreviated name stands for, or 0.
func month(s string) time.Month {
	if len(s) != 3 {
		return 0
	}
	s = strings.ToLower(s)
	for i, m := range months {
		if s == m {
			return time.Month(i + 1)
		}
	}
	return 0
}

// zoneOffsets are the zone names seen in From lines. A name not listed
// but shaped like one (letters only) is taken as UTC: better an hour off
// than no date at all.
var zoneOffsets = map[string]int{
	"UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "WET": 0,
	"EST": -5 * 3600, "EDT": -4 * 3600, "CST": -6 * 3600, "CDT": -5 * 3600,
	"MST": -7 * 3600, "MDT": -6 * 3600, "PST": -8 * 3600, "PDT": -7 * 3600,
	"BST": 3600, "WEST": 3600, "CET": 3600, "MET": 3600, "CEST": 2 * 3600, "MEST": 2 * 3600,
	"EET": 2 * 3600, "EEST": 3 * 3600, "JST": 9 * 3600,
}

func zoneName(s string) bool {
	if len(s) == 0 || len(s) > 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// ReceivedTime is when the message arrived: the From line's date, else
// the Date field, else the date the oldest Received field ends with, else
// the zero time.
func ReceivedTime(fromLine string, h *Header) time.Time {
	if rest, ok := strings.CutPrefix(fromLine, "From "); ok {
		if t, ok := fromLineTime([]byte(rest)); ok {
			return t
		}
	}
	if t, err := mail.ParseDate(h.Date); err == nil {
		return t.UTC()
	}
	if i := strings.LastIndexByte(h.LastReceived, ';'); i >= 0 {
		if t, err := mail.ParseDate(strings.TrimSpace(h.LastReceived[i+1:])); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
