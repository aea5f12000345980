package mbox

import (
	"testing"
	"time"
)

func TestReceivedTime(t *testing.T) {
	tests := []struct {
		name, from, header string
		want               time.Time
	}{
		{"From line", "From a@b Wed Nov 28 12:00:00 2026", "Date: Mon, 1 Jan 2001 00:00:00 +0000\n",
			time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)},
		{"Date field", "From - ", "Date: Fri, 23 Aug 2002 2:32:53 -0400\n",
			time.Date(2002, 8, 23, 6, 32, 53, 0, time.UTC)},
		{"oldest Received field", "From - ",
			"Received: from b by c; Wed, 7 May 2008 15:55:21 -0600\nReceived: from a\n\tby b; Wed, 7 May 2008 14:55:10 -0700\n",
			time.Date(2008, 5, 7, 21, 55, 10, 0, time.UTC)},
		{"nothing", "From - ", "Date: soon\n", time.Time{}},
	}
	for _, tt := range tests {
		h := ParseHeader([]byte(tt.header + "\n"))
		if got := ReceivedTime(tt.from, &h); !got.Equal(tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}
