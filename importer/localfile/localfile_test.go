package localfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestNamesAreDistinctAndStable(t *testing.T) {
	n := Names{Place: func(f string) string {
		if f == "a:b" {
			return "a_b"
		}
		return f
	}}
	for _, c := range []struct{ folder, want string }{
		{"a_b", "a_b"}, {"a:b", "a_b~2"}, {"a_b", "a_b"}, {"c", "c"}, {"a:b", "a_b~2"},
	} {
		if got := n.Get(c.folder); got != c.want {
			t.Errorf("Get(%q) = %q, want %q", c.folder, got, c.want)
		}
	}
}

func TestOpenDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	if root, err := OpenDir(dir, true); root != nil || err != nil {
		t.Fatalf("dry run of a missing directory: %v %v, want nil, nil", root, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a dry run made the directory")
	}
	root, err := OpenDir(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != DirMode {
		t.Errorf("made %v %v, want mode %v", fi.Mode(), err, DirMode)
	}
	if Exists(root, "x") || Exists(nil, "x") {
		t.Error("Exists of nothing")
	}
}
