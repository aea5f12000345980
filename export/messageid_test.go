package export

import (
	"runtime"
	"strings"
	"testing"
)

func TestMessageID(t *testing.T) {
	tests := []struct {
		name, msg, want string
	}{
		{"plain", "From: a\nMessage-ID: <abc@example.com>\n\nbody", "abc@example.com"},
		{"crlf", "From: a\r\nMessage-Id: <abc@example.com>\r\n\r\nbody", "abc@example.com"},
		{"case", "MESSAGE-ID:<x@y>\n\n", "x@y"},
		{"folded", "Message-ID:\n <folded@example.com>\nTo: b\n\n", "folded@example.com"},
		{"folded crlf", "Message-ID:\r\n\t<folded@example.com>\r\n\r\n", "folded@example.com"},
		{"comment", "Message-ID: <c@d> (generated)\n\n", "c@d"},
		{"no brackets", "Message-ID: bare@example.com\n\n", "bare@example.com"},
		{"junk", "Message-ID: two words\n\n", ""},
		{"unclosed", "Message-ID: <abc\n\n", ""},
		{"first wins", "Message-ID: <1@x>\nMessage-ID: <2@x>\n\n", "1@x"},
		{"in body only", "From: a\n\nMessage-ID: <body@x>\n", ""},
		{"missing", "From: a\nSubject: b\n\n", ""},
		{"no header end", "Message-ID: <cut@x>", "cut@x"},
		{"prefix name", "Message-IDs: <no@x>\n\n", ""},
		{"resent", "Resent-Message-ID: <no@x>\n\n", ""},
		{"empty", "", ""},
		{"mbox From line", "From a@b Thu Jan  1 00:00:00 2024\nMessage-ID: <m@x>\n\n", "m@x"},
		{"space inside", "Message-ID: <a b@x>\n\n", ""},
		{"folded inside", "Message-ID: <a\n b@x>\n\n", ""},
		{"too long", "Message-ID: <" + strings.Repeat("x", 1200) + ">\n\n", ""},
	}
	for _, tt := range tests {
		if got := MessageID([]byte(tt.msg)); got != tt.want {
			t.Errorf("%s: MessageID(%q) = %q; want %q", tt.name, tt.msg, got, tt.want)
		}
	}
}

func FuzzMessageID(f *testing.F) {
	for _, s := range []string{
		"Message-ID: <abc@example.com>\n\n", "Message-ID:\r\n <x@y>\r\n\r\n", "Message-ID: <\n", "message-id:a b\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		id := MessageID(b)
		if strings.ContainsAny(id, " \t\r\n\x00<>") || len(id) > maxMessageID {
			t.Fatalf("MessageID(%q) = %q: not a clean id", b, id)
		}
		if !strings.Contains(string(b), id) {
			t.Fatalf("MessageID(%q) = %q: not from the input", b, id)
		}
	})
}

// TestFoldedMessageIDCostIsLinear guards against copying the value once
// per continuation line, which a hostile header in the 256 KiB prefix
// would turn into gigabytes.
func TestFoldedMessageIDCostIsLinear(t *testing.T) {
	msg := []byte("Message-ID: <a@b>\n" + strings.Repeat(" \n", (256<<10)/2) + "\n")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got := MessageID(msg)
	runtime.ReadMemStats(&after)
	if got != "a@b" {
		t.Errorf("MessageID = %q, want a@b", got)
	}
	if n, limit := after.TotalAlloc-before.TotalAlloc, uint64(8*len(msg)); n > limit {
		t.Errorf("a %d-byte folded header allocated %d bytes, want at most %d", len(msg), n, limit)
	}
}
