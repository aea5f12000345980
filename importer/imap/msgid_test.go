package imap

import (
	"strings"
	"testing"
)

func TestHeaderMessageID(t *testing.T) {
	tests := []struct{ header, want string }{
		{"From: a\r\nMessage-ID: <1@x>\r\n\r\nbody", "<1@x>"},
		{"message-id:<2@x>\n\n", "<2@x>"},
		{"MESSAGE-ID: \r\n <3@\r\n\tx>  \r\n\r\n", "<3@x>"}, // folded, spaces dropped
		{"Subject: no id\r\n\r\nMessage-ID: <in-body@x>\r\n", ""},
		{"X-Message-ID: <not@x>\r\n\r\n", ""},
		{"Message-IDs: <4@x>\r\n", ""}, // another field's name
		{"Message-ID: <5@x>", "<5@x>"}, // no line end at all
		{"", ""},
	}
	for _, tt := range tests {
		if got := headerMessageID([]byte(tt.header)); got != tt.want {
			t.Errorf("headerMessageID(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}

func FuzzHeaderMessageID(f *testing.F) {
	f.Add([]byte("Message-ID: <1@x>\r\n\r\n"))
	f.Add([]byte("message-id:\n \n\t<a>\n"))
	f.Add([]byte("\r\n\r\nMessage-ID: <b>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		id := headerMessageID(b)
		if strings.ContainsAny(id, " \t\r\n") {
			t.Errorf("headerMessageID(%q) = %q: holds white space", b, id)
		}
		// The importer reads its own CRLF bytes, a server returns CRLF
		// too; both spellings of the same header must agree.
		crlfID := headerMessageID(crlf(b))
		if id != crlfID {
			t.Errorf("headerMessageID(%q) = %q but %q after CRLF normalisation", b, id, crlfID)
		}
	})
}
