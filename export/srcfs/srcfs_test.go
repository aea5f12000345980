package srcfs

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestNeverLeavesTheSource(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(outside, []byte("secret"), 0o600)
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "dir", "cur"), 0o755)
	os.WriteFile(filepath.Join(root, "dir", "cur", "msg"), []byte("mail"), 0o600)
	os.Symlink(outside, filepath.Join(root, "dir", "cur", "link"))
	os.Symlink(filepath.Dir(outside), filepath.Join(root, "linkdir"))
	os.Symlink("dir", filepath.Join(root, "innerlink"))
	if err := syscall.Mkfifo(filepath.Join(root, "dir", "cur", "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}

	d, err := OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cur, err := d.OpenDir("dir/cur")
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	f, err := cur.OpenFile("msg")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "mail" {
		t.Errorf("read %q", b)
	}
	if _, err := cur.OpenFile("link"); !errors.Is(err, ErrSymlink) {
		t.Errorf("link to a file outside: %v, want ErrSymlink", err)
	}
	for _, rel := range []string{"linkdir", "innerlink/cur"} {
		if _, err := d.OpenDir(rel); !errors.Is(err, ErrSymlink) {
			t.Errorf("OpenDir(%s): %v, want ErrSymlink", rel, err)
		}
	}
	// A FIFO opened as a file must neither block nor be read.
	done := make(chan error, 1)
	go func() { _, err := cur.OpenFile("fifo"); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) {
			t.Errorf("fifo: %v, want ErrNotRegular", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("opening a FIFO blocked")
	}
	names := map[string]os.FileMode{}
	es, err := cur.ReadDir()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		names[e.Name()] = e.Type()
	}
	if CheckEntry(names["link"]) != ErrSymlink || !errors.Is(CheckEntry(names["fifo"]), ErrNotRegular) || CheckEntry(names["msg"]) != nil {
		t.Errorf("CheckEntry of the listing: %v", names)
	}
	// Listing twice gives the same entries (ReadDir rewinds).
	if es2, _ := cur.ReadDir(); len(es2) != len(es) {
		t.Errorf("second ReadDir: %d entries, first %d", len(es2), len(es))
	}
}
