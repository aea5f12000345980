package export

import (
	"testing"
	"time"
)

func TestParseCutoff(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no zoneinfo:", err)
	}
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2026-11-01T18:00:00Z", time.Date(2026, 11, 1, 18, 0, 0, 0, time.UTC)},
		{"2026-11-01T18:00:00.5+01:00", time.Date(2026, 11, 1, 17, 0, 0, 5e8, time.UTC)},
		{"2026-11-01", time.Date(2026, 11, 1, 0, 0, 0, 0, paris)},
		{"11/01/2026", time.Date(2026, 11, 1, 0, 0, 0, 0, paris)},
		{" 3/7/2025 ", time.Date(2025, 3, 7, 0, 0, 0, 0, paris)},
	}
	for _, tt := range tests {
		got, err := ParseCutoff(tt.in, paris)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseCutoff(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "2026-13-01", "13/01/2026", "2026-11-01 18:00"} {
		if _, err := ParseCutoff(bad, paris); err == nil {
			t.Errorf("ParseCutoff(%q) accepted a bad cutoff", bad)
		}
	}
}

func TestOptionsKeep(t *testing.T) {
	cut := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	o := Options{After: cut}
	if !o.Keep(cut) || !o.Keep(cut.Add(time.Second)) || o.Keep(cut.Add(-time.Second)) {
		t.Error("Keep must keep items received at or after the cutoff and drop older ones")
	}
	if !(Options{}).Keep(time.Time{}) {
		t.Error("with no cutoff everything is kept")
	}
}
