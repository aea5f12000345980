package imapconn

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

func TestParseUIDSet(t *testing.T) {
	tests := []struct {
		in   string
		want string // fmt of the UIDs, or "error"
	}{
		{"7", "[7]"},
		{"4:6,9", "[4 5 6 9]"},
		{"6:4", "[6 5 4]"}, // servers may write a range either way
		{"4294967295", "[4294967295]"},
		{"4294967294:4294967295", "[4294967294 4294967295]"},
		{"", "error"},
		{"0", "error"},
		{"1:0", "error"},
		{"1:", "error"},
		{"a", "error"},
		{"1,,2", "error"},
		{"4294967296", "error"},
		{"-1", "error"},
		{"1:*", "error"}, // * never appears in APPENDUID
		{"1:4294967295", "error"},
	}
	for _, tt := range tests {
		got, err := ParseUIDSet(tt.in)
		s := fmt.Sprint(got)
		if err != nil {
			s = "error"
		}
		if s != tt.want {
			t.Errorf("ParseUIDSet(%q) = %s (%v), want %s", tt.in, s, err, tt.want)
		}
	}
}

func FuzzParseUIDSet(f *testing.F) {
	for _, s := range []string{"1", "4:6,9", "6:4", "1:100001", "4294967295:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		uids, err := ParseUIDSet(s)
		if err != nil {
			return
		}
		if len(uids) == 0 || len(uids) > maxUIDSet {
			t.Fatalf("ParseUIDSet(%q): %d UIDs", s, len(uids))
		}
		// Written back one by one, the set must mean the same UIDs.
		parts := make([]string, len(uids))
		for i, u := range uids {
			if u == 0 {
				t.Fatalf("ParseUIDSet(%q) holds UID 0", s)
			}
			parts[i] = strconv.FormatUint(uint64(u), 10)
		}
		again, err := ParseUIDSet(strings.Join(parts, ","))
		if err != nil || fmt.Sprint(again) != fmt.Sprint(uids) {
			t.Errorf("ParseUIDSet(%q) = %v, but its expansion parses as %v, %v", s, uids, again, err)
		}
	})
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		in, want  string // want: String() of the result, or "invalid"
		appendUID string
	}{
		{"OK [APPENDUID 38505 3955] APPEND completed", "OK [APPENDUID 38505 3955] APPEND completed", "{38505 [3955]}"},
		{"ok [appenduid 1 2:3] done", "OK [APPENDUID 1 2:3] done", "{1 [2 3]}"},
		{"NO [TRYCREATE] no such mailbox", "NO [TRYCREATE] no such mailbox", ""},
		{"NO Request is throttled.", "NO Request is throttled.", ""},
		{"BAD", "BAD ", ""},
		{"NO [unclosed code", "NO [unclosed code", ""},
		{"OK [APPENDUID x 1] bad validity", "OK [APPENDUID x 1] bad validity", ""},
		{"OK [APPENDUID 1] no set", "OK [APPENDUID 1] no set", ""},
		{"FETCH (UID 1)", "invalid", ""},
		{"", "invalid", ""},
	}
	for _, tt := range tests {
		r, ok := ParseStatus(tt.in)
		got := "invalid"
		if ok {
			got = r.String()
		}
		if got != tt.want {
			t.Errorf("ParseStatus(%q) = %q, want %q", tt.in, got, tt.want)
			continue
		}
		if !ok {
			continue
		}
		au, ok := r.AppendUID()
		gotAU := ""
		if ok {
			gotAU = fmt.Sprint(au)
		}
		if gotAU != tt.appendUID {
			t.Errorf("ParseStatus(%q).AppendUID() = %q, want %q", tt.in, gotAU, tt.appendUID)
		}
	}
}

func FuzzParseStatus(f *testing.F) {
	f.Add("OK [APPENDUID 38505 3955:3956] done")
	f.Add("NO [TRYCREATE")
	f.Add("BYE [ALERT] bye")
	f.Fuzz(func(t *testing.T, s string) {
		r, ok := ParseStatus(s)
		if !ok {
			return
		}
		switch r.Status {
		case "OK", "NO", "BAD", "BYE", "PREAUTH":
		default:
			t.Fatalf("ParseStatus(%q): status %q", s, r.Status)
		}
		_ = r.String()
		if au, ok := r.AppendUID(); ok && (len(au.UIDs) == 0 || len(au.UIDs) > maxUIDSet) {
			t.Errorf("ParseStatus(%q): APPENDUID with %d UIDs", s, len(au.UIDs))
		}
	})
}

func TestParseCaps(t *testing.T) {
	caps := ParseCaps("IMAP4rev1 literal+ MULTIAPPEND APPENDLIMIT=35651584 AUTH=PLAIN auth=XOAUTH2 UTF8=ACCEPT")
	for _, want := range []string{"IMAP4REV1", "LITERAL+", "MULTIAPPEND", "APPENDLIMIT", "AUTH=PLAIN", "AUTH=XOAUTH2", "UTF8=ACCEPT"} {
		if _, ok := caps[want]; !ok {
			t.Errorf("ParseCaps: %s missing from %v", want, caps)
		}
	}
	if caps["APPENDLIMIT"] != "35651584" {
		t.Errorf("APPENDLIMIT = %q, want 35651584", caps["APPENDLIMIT"])
	}
}

// FuzzReadLine feeds arbitrary server output to the line reader: it must
// end with an error or lines, never hang, panic, or keep an over-long line.
func FuzzReadLine(f *testing.F) {
	f.Add([]byte("* 1 FETCH (BODY[] {5}\r\nhello)\r\nm1 OK done\r\n"))
	f.Add([]byte("* OK {99999999999}\r\n"))
	f.Add([]byte("+ \r\n{3}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := &Conn{r: bufio.NewReaderSize(bytes.NewReader(b), 16<<10)}
		for i := 0; i <= len(b); i++ {
			line, err := c.ReadLine()
			if err != nil {
				return
			}
			if len(line) > MaxLine {
				t.Fatalf("line of %d bytes", len(line))
			}
		}
		t.Fatalf("more lines than bytes from %q", b)
	})
}
