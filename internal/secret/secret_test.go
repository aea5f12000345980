package secret

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadFileDropsTheLineEnding(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]string{"pw\n": "pw", "pw\r\n": "pw", "pw": "pw", " pw \n\n": " pw ", "": ""} {
		p := filepath.Join(dir, "s")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := ReadFile(p); err != nil || string(got) != want {
			t.Errorf("ReadFile(%q) = %q, %v; want %q", content, got, err, want)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file read")
	}
}
