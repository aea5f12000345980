package srcfs

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export/exporttest"
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
	err = exporttest.Bounded(t, 5*time.Second, "opening a FIFO blocked", func() error {
		_, err := cur.OpenFile("fifo")
		return err
	})
	if !errors.Is(err, ErrNotRegular) {
		t.Errorf("fifo: %v, want ErrNotRegular", err)
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
