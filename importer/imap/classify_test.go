package imap

import (
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/importer/imap/appender"
)

func TestThrottled(t *testing.T) {
	tests := []struct {
		resp appender.Response
		thr  bool
		wait time.Duration
	}{
		{appender.Response{Status: "NO", Text: "Request is throttled. Suggested Backoff Time: 299961 milliseconds"}, true, 299961 * time.Millisecond},
		{appender.Response{Status: "NO", Code: "THROTTLED", Text: "slow down"}, true, 0},
		{appender.Response{Status: "NO", Code: "UNAVAILABLE", Text: "later"}, true, 0},
		{appender.Response{Status: "NO", Code: "OVERQUOTA", Text: "Account exceeded command or bandwidth limits"}, true, 0},
		{appender.Response{Status: "NO", Code: "OVERQUOTA", Text: "Mailbox is full"}, false, 0},
		{appender.Response{Status: "NO", Text: "Server busy, try again later"}, true, 0},
		{appender.Response{Status: "BAD", Text: "Command Argument Error. 11"}, false, 0},
		{appender.Response{Status: "NO", Code: "TOOBIG", Text: "too big"}, false, 0},
		{appender.Response{Status: "NO", Text: "Suggested Backoff Time: 99999999999 milliseconds"}, true, 0}, // absurd: not honoured
	}
	for _, tt := range tests {
		thr, wait := throttled(&tt.resp)
		if thr != tt.thr || wait != tt.wait {
			t.Errorf("throttled(%s) = %v, %s; want %v, %s", &tt.resp, thr, wait, tt.thr, tt.wait)
		}
	}
}
