package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPasswordFromFileThenEnvironment(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(file, []byte("from-file\r\n"), 0o600)
	t.Setenv(passwordEnv, "from-env")
	if got, err := password(file); got != "from-file" || err != nil {
		t.Errorf("password(file) = %q, %v; want the file's, without its line ending", got, err)
	}
	if got, err := password(""); got != "from-env" || err != nil {
		t.Errorf("password(\"\") = %q, %v; want %s's", got, err, passwordEnv)
	}
	if _, err := password(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "--password-file") {
		t.Errorf("a missing password file: err %v; want one naming --password-file", err)
	}
}
