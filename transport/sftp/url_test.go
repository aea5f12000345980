package sftp

import (
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Target
	}{
		{"sftp://alice@example.org/srv/mail", Target{User: "alice", Host: "example.org", Port: 22, Path: "/srv/mail"}},
		{"sftp://bob@10.0.0.1:2222/~/in", Target{User: "bob", Host: "10.0.0.1", Port: 2222, Path: "in"}},
		{"sftp://bob@[::1]:2200", Target{User: "bob", Host: "::1", Port: 2200, Path: "."}},
		{"sftp://carol@h/~/", Target{User: "carol", Host: "h", Port: 22, Path: "."}},
	} {
		got, err := ParseURL(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"sftp://alice:secret@h/x", "http://h/x", "sftp:///x", "sftp://a@h:99999/x", "sftp://a@h/x?y=1"} {
		_, err := ParseURL(bad)
		if err == nil {
			t.Errorf("ParseURL(%q) accepted it", bad)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseURL error shows the password: %v", err)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"sftp://a@h/x", "sftp://a@h:22/~/x", "sftp://[::1]/", "sftp://a:b@h/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseURL(s)
		if err != nil {
			return
		}
		if tg.Port < 1 || tg.Port > 65535 || tg.Host == "" || tg.Path == "" {
			t.Errorf("ParseURL(%q) = %+v: port, host and path must be set", s, tg)
		}
		if _, has := strings.CutPrefix(tg.String(), "sftp://"); !has {
			t.Errorf("String() = %q", tg.String())
		}
	})
}

func TestParseSumsIgnoresBanners(t *testing.T) {
	h := strings.Repeat("ab", 32)
	out := "Welcome to the server\n" + h + "  -\nnot a sum\n" + h + "  file\n"
	if got := parseSums([]byte(out)); len(got) != 2 || got[0] != h {
		t.Errorf("parseSums = %q, want two sums", got)
	}
}

func TestShellQuote(t *testing.T) {
	if got, want := shellQuote(`a'b c`), `'a'\''b c'`; got != want {
		t.Errorf("shellQuote = %s, want %s", got, want)
	}
}
