package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Tests of issue 9's export items: what the export command refuses, skips
// and prints.

// writeMaildirMsg writes one message file below root.
func writeMaildirMsg(t *testing.T, root, rel string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	body := "From: a@example.com\nMessage-ID: <" + filepath.Base(rel) + "@x>\nSubject: s\n\nbody\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A folder name on disk holding ESC and CR must not reach the terminal raw:
// it could erase or forge the lines the administrator reads (issue 9, 13).
func TestExportWarningsEscapeControlCharacters(t *testing.T) {
	src := t.TempDir()
	writeMaildirMsg(t, src, "cur/1700000001.M1P1.host:2,S")
	evil := ".Evil\x1b[2K\rforged"
	writeMaildirMsg(t, src, evil+"/cur/1700000002.M2P2.host:2,S")
	code, stdout, stderr := mailhaul(t, "export", "maildir", "--user", "alice@example.org", "--src", src, "--out", t.TempDir())
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if strings.ContainsAny(stdout+stderr, "\x1b\r") {
		t.Errorf("output holds raw control characters:\n%q\n%q", stdout, stderr)
	}
	if !strings.Contains(stderr, `Evil\x1b[2K\x0dforged`) {
		t.Errorf("the warning must name the folder with its controls escaped; stderr:\n%q", stderr)
	}
}
