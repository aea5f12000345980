package mbox

import (
	"strings"
	"testing"
)

// carried are the system flags an mbox header can say.
var carried = []string{`\Seen`, `\Answered`, `\Flagged`, `\Draft`, `\Deleted`}

// flagSet builds a flag set mbox can carry from bits (one per system
// flag) and a space-separated keyword list; keywords mbox cannot write
// (FlagFields' lost) and duplicates are left out.
func flagSet(bits uint8, keywords string) Flags {
	var f Flags
	for i, fl := range carried {
		if bits&(1<<i) != 0 {
			f.Add(fl)
		}
	}
	for _, k := range strings.Fields(keywords) {
		if IsKeyword(k) && !strings.ContainsFunc(k, func(r rune) bool { return r <= ' ' || r == ',' || r >= 0x7f }) {
			f.Add(k)
		}
	}
	return f
}

// TestSetFlagsReadsBack: what SetFlags writes is what MessageFlags reads,
// whatever the header said before, Gmail labels included (they name the
// folder, but once a writer has set the flags they no longer add any).
func TestSetFlagsReadsBack(t *testing.T) {
	for _, tc := range []struct {
		hdr   string
		flags Flags
	}{
		{"X-Gmail-Labels: Starred,Opened,Important\nSubject: x\n\nbody\n", nil},
		{"X-Gmail-Labels: Inbox,Unread,Category Personal,Mine\n\n", Flags{`\Seen`}},
		{"X-Gmail-Labels: Drafts\r\nStatus: RO\r\n\r\n", Flags{`\Flagged`, "$Label1"}},
		{"X-Mozilla-Status: 0007\nX-Mozilla-Keys: a b\nSubject: y\n", Flags{`\Answered`}},
	} {
		out, lost := SetFlags([]byte(tc.hdr), tc.flags)
		if len(lost) > 0 {
			t.Fatalf("%q: lost %q", tc.hdr, lost)
		}
		if got := MessageFlags(out); !SameFlags(tc.flags, got) {
			t.Errorf("SetFlags(%q, %q) reads back as %q:\n%s", tc.hdr, tc.flags, got, out)
		}
	}
}

// FuzzSetFlagsReadsBack: MessageFlags(SetFlags(h, f)) == f for any header
// h and any flags f an mbox can carry.
func FuzzSetFlagsReadsBack(f *testing.F) {
	f.Add([]byte("X-Gmail-Labels: Starred,Opened,Important\nSubject: x\n\nbody\n"), uint8(0), "")
	f.Add([]byte("Status: RO\nX-Status: AF\nX-Keywords: a b\n\n"), uint8(0x1f), "$Label1 Junk")
	f.Add([]byte("X-Mozilla-Status: 1007\r\nX-Gmail-Labels: Drafts,Category Updates\r\n"), uint8(2), "x")
	f.Add([]byte("Subject: a\n folded\n\tmore\nX-Keywords: k\n continued\n\n"), uint8(4), "k")
	f.Fuzz(func(t *testing.T, hdr []byte, bits uint8, keywords string) {
		want := flagSet(bits, keywords)
		out, lost := SetFlags(hdr, want)
		if len(lost) > 0 {
			t.Fatalf("lost %q of %q", lost, want)
		}
		if got := MessageFlags(out); !SameFlags(want, got) {
			t.Errorf("SetFlags(%q, %q) reads back as %q:\n%q", hdr, want, got, out)
		}
	})
}
