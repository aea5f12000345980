//go:build unix

package srcfs

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

func (d *Dir) openDir(name string) (*Dir, error) {
	fd, err := openat(int(d.f.Fd()), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if err != nil {
		return nil, d.pathErr(name, err)
	}
	return &Dir{f: os.NewFile(uintptr(fd), d.join(name)), path: d.join(name)}, nil
}

func (d *Dir) openFile(name string) (*os.File, error) {
	// O_NONBLOCK: a FIFO swapped in after the listing opens at once
	// instead of blocking; fstat then refuses it.
	fd, err := openat(int(d.f.Fd()), name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC)
	if err != nil {
		return nil, d.pathErr(name, err)
	}
	return os.NewFile(uintptr(fd), d.join(name)), nil
}

// openRoot opens path without following a link as its last component
// (O_NOFOLLOW makes that check and the open one step), and without
// blocking on a FIFO.
func openRoot(path string, dir bool) (*os.File, error) {
	flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC
	if dir {
		flags |= unix.O_DIRECTORY
	}
	var fd int
	var err error
	for {
		if fd, err = unix.Open(path, flags, 0); err != unix.EINTR {
			break
		}
	}
	if err != nil {
		if lerr := linkError(path); lerr != nil {
			return nil, lerr
		}
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	if !dir {
		// Reads block as usual once open: a regular file ignores
		// O_NONBLOCK, and anything else is refused by the caller.
		if err := unix.SetNonblock(fd, false); err != nil {
			unix.Close(fd)
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
	}
	return os.NewFile(uintptr(fd), path), nil
}

func (d *Dir) lstat(name string) (fs.FileInfo, error) {
	return os.Lstat(d.join(name)) // for reporting only: no content is read
}

func openat(dirfd int, name string, flags int) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// pathErr names what went wrong: O_NOFOLLOW reports a link as ELOOP
// (EMLINK on FreeBSD, EFTYPE on NetBSD), which means ErrSymlink here when
// the entry is indeed a link.
func (d *Dir) pathErr(name string, err error) error {
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EMLINK) || errors.Is(err, unix.ENOTDIR) {
		if fi, lerr := os.Lstat(d.join(name)); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			err = ErrSymlink
		}
	}
	return &fs.PathError{Op: "open", Path: d.join(name), Err: err}
}
