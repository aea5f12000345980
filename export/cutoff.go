package export

import (
	"fmt"
	"strings"
	"time"
)

// ParseCutoff reads an --after value: RFC 3339 ("2026-11-01T18:00:00Z"),
// a date ("2026-11-01"), or Zimbra's "MM/DD/YYYY" (as in zmmailbox's
// "after:11/01/2026" queries). Dates without a time mean midnight in loc,
// as Zimbra's own search does in the server's zone.
func ParseCutoff(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02", "01/02/2006", "1/2/2006"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("export: cutoff %q: want RFC 3339 (2026-11-01T18:00:00Z), YYYY-MM-DD or MM/DD/YYYY", s)
}
