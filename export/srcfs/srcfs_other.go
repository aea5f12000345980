//go:build !unix

package srcfs

import (
	"io/fs"
	"os"
)

// Without openat, each level is checked with Lstat before it is opened:
// a link swapped in between the two is not caught here.

func (d *Dir) openDir(name string) (*Dir, error) {
	p := d.join(name)
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, &fs.PathError{Op: "open", Path: p, Err: ErrSymlink}
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	return &Dir{f: f, path: p}, nil
}

func (d *Dir) openFile(name string) (*os.File, error) {
	p := d.join(name)
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if err := CheckEntry(fi.Mode()); err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	return os.Open(p)
}

func openRoot(path string, dir bool) (*os.File, error) {
	if err := linkError(path); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err == nil && !fi.IsDir() && !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "open", Path: path, Err: notRegular{fi.Mode()}}
	}
	return os.Open(path)
}

func (d *Dir) lstat(name string) (fs.FileInfo, error) { return os.Lstat(d.join(name)) }
