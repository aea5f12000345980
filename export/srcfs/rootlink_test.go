package srcfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Issue 9 review: a source path whose last component is a link (bob's
// ~/Maildir pointing at alice's) is refused, naming the target; links
// among the parents, the administrator's path, are followed.
func TestRootThatIsALinkIsRefused(t *testing.T) {
	base := t.TempDir()
	alice := filepath.Join(base, "alice")
	os.MkdirAll(filepath.Join(alice, "Maildir", "cur"), 0o755)
	os.WriteFile(filepath.Join(alice, "mbox"), []byte("From x\n"), 0o600)
	bob := filepath.Join(base, "bob")
	os.MkdirAll(bob, 0o755)
	os.Symlink(filepath.Join(alice, "Maildir"), filepath.Join(bob, "Maildir"))
	os.Symlink(filepath.Join(alice, "mbox"), filepath.Join(bob, "mbox"))

	for _, p := range []string{filepath.Join(bob, "Maildir"), filepath.Join(bob, "Maildir") + "/"} {
		d, err := OpenRoot(p)
		if err == nil {
			d.Close()
			t.Fatalf("OpenRoot(%s) followed the link", p)
		}
		var le *LinkError
		if !errors.As(err, &le) || !strings.Contains(err.Error(), filepath.Join(alice, "Maildir")) {
			t.Errorf("OpenRoot(%s) = %v; want a LinkError naming the target", p, err)
		}
	}
	if f, err := OpenRootFile(filepath.Join(bob, "mbox")); err == nil {
		f.Close()
		t.Fatal("OpenRootFile followed the link")
	} else if !errors.Is(err, ErrSymlink) || !strings.Contains(err.Error(), "pass "+filepath.Join(alice, "mbox")) {
		t.Errorf("OpenRootFile(link) = %v", err)
	}
	if _, err := StatRoot(filepath.Join(bob, "mbox")); !errors.Is(err, ErrSymlink) {
		t.Errorf("StatRoot(link) = %v", err)
	}

	// A link above the last component is followed.
	via := filepath.Join(base, "via")
	os.Symlink(alice, via)
	d, err := OpenRoot(filepath.Join(via, "Maildir"))
	if err != nil {
		t.Fatalf("OpenRoot through a parent link: %v", err)
	}
	d.Close()
	f, err := OpenRootFile(filepath.Join(via, "mbox"))
	if err != nil {
		t.Fatalf("OpenRootFile through a parent link: %v", err)
	}
	f.Close()

	// A FIFO is refused without blocking.
	fifo := filepath.Join(base, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if f, err := OpenRootFile(fifo); err == nil || !errors.Is(err, ErrNotRegular) {
		if f != nil {
			f.Close()
		}
		t.Errorf("OpenRootFile(FIFO) = %v; want ErrNotRegular", err)
	}
}
