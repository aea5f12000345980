package importer

import (
	"testing"
	"time"
)

func TestSelectKeep(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }
	s := Select{Folders: []string{"Archive/2025"}, After: day(10), Before: day(20)}
	for _, tt := range []struct {
		folder string
		at     time.Time
		want   bool
	}{
		{"Archive/2025", day(10), true},    // After is inclusive
		{"Archive/2025/Q1", day(15), true}, // below a chosen folder
		{"Archive/2025", day(20), false},   // Before is exclusive
		{"Archive/2025", day(9), false},    // too early
		{"Archive/20251", day(15), false},  // a sibling sharing the prefix
		{"INBOX", day(15), false},          // not chosen
	} {
		if got := s.Keep(tt.folder, tt.at); got != tt.want {
			t.Errorf("Keep(%q, %v) = %v, want %v", tt.folder, tt.at, got, tt.want)
		}
	}
	if !(Select{}).Keep("anything", time.Time{}) {
		t.Error("the zero Select must keep everything")
	}
}
