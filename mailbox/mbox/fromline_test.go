package mbox

import (
	"testing"
	"time"
)

func TestFromLineTime(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
	}
	tests := []struct {
		rest string // what follows "From "
		want time.Time
		ok   bool
	}{
		{"a@b Wed Nov 28 12:00:00 2026", utc(2026, 11, 28, 12, 0, 0), true},
		{"MAILER-DAEMON Fri Jul  8 12:08:34 2011", utc(2011, 7, 8, 12, 8, 34), true},
		{"- Tue Oct 02 00:26:47 2007", utc(2007, 10, 2, 0, 26, 47), true},
		{"1844347792267117879@xxx Wed Nov 28 12:00:00 +0000 2026", utc(2026, 11, 28, 12, 0, 0), true},
		{"a@b Wed Nov 28 12:00:00 +0130 2026", utc(2026, 11, 28, 10, 30, 0), true},
		{"a@b Wed Nov 28 12:00:00 2026 -0500", utc(2026, 11, 28, 17, 0, 0), true},
		{"a@b Wed Nov 28 12:00:00 PST 2026", utc(2026, 11, 28, 20, 0, 0), true},
		{"a@b Wed Nov 28 12:00:00 XYZ 2026", utc(2026, 11, 28, 12, 0, 0), true},
		{"a@b Wed Nov 28 12:00 2026", utc(2026, 11, 28, 12, 0, 0), true},
		{"a@b Wed Nov 28 12:00:00 2026 remote from uucp", utc(2026, 11, 28, 12, 0, 0), true},
		{`"john doe"@b wed nov 28 12:00:00 2026`, utc(2026, 11, 28, 12, 0, 0), true},
		{"Wed Nov 28 12:00:00 2026", utc(2026, 11, 28, 12, 0, 0), true},
		{"mon Fri Jul  8 12:08:34 2011", utc(2011, 7, 8, 12, 8, 34), true},
		{"a@b Nov 28 12:00:00 2026", utc(2026, 11, 28, 12, 0, 0), true},
		{"", time.Time{}, false},
		{"-", time.Time{}, false},
		{"Russia with love", time.Time{}, false},
		{"a@b Wed Nov 28 12:00:00", time.Time{}, false},      // no year
		{"a@b Wed Feb 31 12:00:00 2026", time.Time{}, false}, // no such day
		{"a@b Wed Nov 28 25:00:00 2026", time.Time{}, false},
		{"a@b Wed Nov 28 noon 2026", time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := fromLineTime([]byte(tt.rest))
		if ok != tt.ok || !got.Equal(tt.want) || ok && got.Location() != time.UTC {
			t.Errorf("fromLineTime(%q) = %v, %v; want %v, %v", tt.rest, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzFromLineTime(f *testing.F) {
	f.Add("a@b Wed Nov 28 12:00:00 2026")
	f.Add("1844347792267117879@xxx Wed Nov 28 12:00:00 +0000 2026")
	f.Add("a@b Nov 28 12:00 PST 2026 +0100")
	f.Fuzz(func(t *testing.T, rest string) {
		got, ok := fromLineTime([]byte(rest))
		if ok && (got.Year() < 1899 || got.Location() != time.UTC) {
			t.Errorf("fromLineTime(%q) = %v", rest, got)
		}
		if !ok && !got.IsZero() {
			t.Errorf("fromLineTime(%q) failed but returned %v", rest, got)
		}
	})
}

func TestIsSeparator(t *testing.T) {
	tests := []struct {
		line, next string
		want       bool
	}{
		{"From a@b Wed Nov 28 12:00:00 2026\n", "anything\n", true},
		{"From -\n", "Return-Path: <>\n", true},
		{"From \r\n", "From: a@b\r\n", true},
		{"From 1844347792267117879@xxx\n", "MIME-Version: 1.0\n", true},
		{"From -\n", "prose, not a field\n", false},
		{"From Russia with love\n", "Year: 1963\n", false},
		{"From -\n", "", false},
	}
	for _, tt := range tests {
		if got := isSeparator([]byte(tt.line), []byte(tt.next)); got != tt.want {
			t.Errorf("isSeparator(%q, %q) = %v, want %v", tt.line, tt.next, got, tt.want)
		}
	}
}
