// Package srcfs opens the files of an export source without ever leaving
// it: an export run as root over users' own directories must not read
// /etc/shadow because a user linked it into their Maildir. Below the root
// the administrator named, no symbolic link is followed (each level is
// opened relative to its parent with O_NOFOLLOW, so swapping a directory
// for a link between listing and opening does not help either), and only
// regular files are opened: FIFOs, sockets and devices are refused before
// any open, and again after it (O_NONBLOCK, then fstat), since opening a
// FIFO can block forever and opening a device can act on it.
package srcfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ErrSymlink is returned for a symbolic link below the root.
var ErrSymlink = errors.New("symbolic link, not followed")

// ErrNotRegular is wrapped by the error for a FIFO, socket or device.
var ErrNotRegular = errors.New("not a regular file")

// notRegular names the kind of file refused.
type notRegular struct{ mode fs.FileMode }

func (e notRegular) Error() string {
	return ErrNotRegular.Error() + " (" + Kind(e.mode) + "), not opened"
}
func (e notRegular) Unwrap() error { return ErrNotRegular }

// Kind names a file type for people: "named pipe", "socket", "device".
func Kind(m fs.FileMode) string {
	switch t := m.Type(); {
	case t&fs.ModeSymlink != 0:
		return "symbolic link"
	case t&fs.ModeNamedPipe != 0:
		return "named pipe"
	case t&fs.ModeSocket != 0:
		return "socket"
	case t&fs.ModeCharDevice != 0:
		return "character device"
	case t&fs.ModeDevice != 0:
		return "block device"
	case t.IsDir():
		return "directory"
	case t.IsRegular():
		return "regular file"
	}
	return "file of type " + m.Type().String()
}

// CheckEntry says why a listed entry must not be opened as a file: nil
// for a regular file, ErrSymlink, or an ErrNotRegular error. A directory
// gives an ErrNotRegular error too.
func CheckEntry(typ fs.FileMode) error {
	switch {
	case typ&fs.ModeSymlink != 0:
		return ErrSymlink
	case !typ.IsRegular():
		return notRegular{typ}
	}
	return nil
}

// Dir is an open directory of the source.
type Dir struct {
	f    *os.File
	path string
}

// LinkError refuses a source path whose last component is a symbolic
// link. The directories above it are the administrator's path and are
// followed; the last component may be the user's own (/home/bob/Maildir
// is bob's to replace with a link to alice's Maildir), so it is not.
type LinkError struct {
	Path, Target string
}

func (e *LinkError) Error() string {
	return e.Path + " is a symbolic link to " + e.Target +
		"; the last component of a source path is never followed (its owner may have pointed it anywhere): pass " +
		e.Target + " itself if it is trusted"
}

// Unwrap makes a LinkError an ErrSymlink.
func (e *LinkError) Unwrap() error { return ErrSymlink }

// linkError returns a *LinkError when path itself is a symbolic link.
func linkError(path string) error {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return nil
	}
	target, err := os.Readlink(path)
	if err != nil {
		target = "(unreadable: " + err.Error() + ")"
	}
	return &LinkError{Path: path, Target: target}
}

// OpenRoot opens the source's root directory. Links among its parent
// directories are followed (the administrator named them); a link as its
// last component is refused with a *LinkError, and nothing below is
// followed either.
func OpenRoot(path string) (*Dir, error) {
	path = filepath.Clean(path)
	f, err := openRoot(path, true)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.IsDir() {
		err = &fs.PathError{Op: "open", Path: path, Err: errors.New("not a directory")}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Dir{f: f, path: path}, nil
}

// OpenRootFile opens a source that is one file (an mbox, a contacts or
// calendar file), with OpenRoot's rule for links, and only if it is a
// regular file: opened without blocking and checked after the open, so a
// FIFO swapped in after a stat can neither block the export nor be read.
func OpenRootFile(path string) (*os.File, error) {
	path = filepath.Clean(path)
	f, err := openRoot(path, false)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = &fs.PathError{Op: "open", Path: path, Err: notRegular{fi.Mode()}}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// StatRoot describes a source path as OpenRoot would find it: a
// *LinkError if its last component is a link.
func StatRoot(path string) (fs.FileInfo, error) {
	path = filepath.Clean(path)
	if err := linkError(path); err != nil {
		return nil, err
	}
	return os.Lstat(path)
}

// Path is the directory's path, for messages and for Export's callers.
func (d *Dir) Path() string { return d.path }

// Close closes the directory.
func (d *Dir) Close() error { return d.f.Close() }

// ReadDir lists the directory sorted by name, as os.ReadDir does; each
// call lists it afresh. Entry types are those of the entries themselves
// (lstat), never of link targets.
func (d *Dir) ReadDir() ([]os.DirEntry, error) {
	if _, err := d.f.Seek(0, 0); err != nil {
		return nil, err
	}
	des, err := d.f.ReadDir(-1)
	slices.SortFunc(des, func(a, b os.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return des, err
}

// OpenDir opens the directory at rel, a "/"-separated path below d, one
// level at a time, never through a symbolic link.
func (d *Dir) OpenDir(rel string) (*Dir, error) {
	cur := d
	for level := range strings.SplitSeq(rel, "/") {
		if level == "" || level == "." {
			continue
		}
		next, err := cur.openDir(level)
		if cur != d {
			cur.Close()
		}
		if err != nil {
			return nil, err
		}
		cur = next
	}
	if cur == d { // rel named d itself: a second handle, closed on its own
		f, err := d.openDir(".")
		if err != nil {
			return nil, err
		}
		return f, nil
	}
	return cur, nil
}

// OpenFile opens the regular file name (one level, no "/") in d for
// reading. A symbolic link gives ErrSymlink, anything but a regular file
// an ErrNotRegular error; in both cases nothing was read from it.
func (d *Dir) OpenFile(name string) (*os.File, error) {
	f, err := d.openFile(name)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, &fs.PathError{Op: "stat", Path: d.join(name), Err: err}
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: d.join(name), Err: notRegular{fi.Mode()}}
	}
	return f, nil
}

// Lstat describes name in d without following a link.
func (d *Dir) Lstat(name string) (fs.FileInfo, error) { return d.lstat(name) }

func (d *Dir) join(name string) string {
	if name == "." {
		return d.path
	}
	return d.path + "/" + name
}
