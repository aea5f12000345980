package imap

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mailhaul/mailhaul/importer/imap/appender"
)

// backoffText is Office 365's throttling answer, which has no response
// code: "Request is throttled. Suggested Backoff Time: 299961 milliseconds".
var backoffText = regexp.MustCompile(`(?i)backoff time:\s*(\d+)\s*milli`)

// throttled recognises an answer refusing work because of load, and the
// pause the server asks for (0 when it names none).
func throttled(r *appender.Response) (bool, time.Duration) {
	text := strings.ToLower(r.Text)
	var wait time.Duration
	m := backoffText.FindStringSubmatch(r.Text)
	if m != nil {
		if ms, err := strconv.ParseInt(m[1], 10, 64); err == nil && ms >= 0 && ms < 24*3600*1000 {
			wait = time.Duration(ms) * time.Millisecond
		}
	}
	switch r.Code {
	case "THROTTLED", "UNAVAILABLE", "INUSE":
		return true, wait
	case "OVERQUOTA":
		// Gmail's bandwidth limit uses OVERQUOTA too; a full mailbox does
		// not say "limit".
		return strings.Contains(text, "limit") || strings.Contains(text, "bandwidth"), wait
	}
	if m != nil || strings.Contains(text, "throttl") || strings.Contains(text, "try again later") {
		return true, wait
	}
	return false, 0
}
