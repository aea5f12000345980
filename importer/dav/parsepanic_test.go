package dav

import (
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/format"
)

// go-ical panics on a parameter with nothing after its '='; the checks
// that parse objects answer instead of panicking.
func TestParserPanicsContained(t *testing.T) {
	bad := []byte("BEGIN:VCALENDAR\r\nX-A;P=\r\nEND:VCALENDAR\r\n")
	if uid := objectUID(bad); uid != "" {
		t.Errorf("objectUID = %q", uid)
	}
	if out, ok := meaning(bad); ok || out != nil {
		t.Errorf("meaning = %q, %v", out, ok)
	}
	if why := diagnose(format.KindEvent, bad); !strings.HasPrefix(why, "does not parse: parser panic") {
		t.Errorf("diagnose = %q", why)
	}
}
