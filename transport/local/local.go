// Package local is the transport endpoint for a local folder, such as a
// drive carried by hand: `mailhaul copy` writes to it with the same
// temporary name, verification and resume as SFTP.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/transport"
)

// Endpoint is the local file system. It needs no connection; Connect
// returns a Conn that shares nothing.
type Endpoint struct{}

func (Endpoint) Connect(context.Context) (transport.Conn, error) { return Conn{}, nil }
func (Endpoint) String() string                                  { return "local" }

// Conn implements transport.Conn on local paths.
type Conn struct{}

func (Conn) Close() error                 { return nil }
func (Conn) Join(dir, name string) string { return filepath.Join(dir, name) }

func (Conn) List(ctx context.Context, p string) ([]transport.Listed, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, wrap(err)
	}
	if !fi.IsDir() {
		if !format.IsArchiveName(fi.Name()) {
			return nil, fmt.Errorf("local: %s: not an archive (*.tgz, *.tar.zst, *.tar)", p)
		}
		return []transport.Listed{{Path: p, Size: fi.Size()}}, nil
	}
	ents, err := os.ReadDir(p)
	if err != nil {
		return nil, wrap(err)
	}
	var out []transport.Listed
	for _, e := range ents {
		// Hidden or not, a file or not: nothing named like an archive is
		// passed over in silence. What is not a regular file fails its
		// transfer, named.
		if format.IsArchiveName(e.Name()) {
			l := transport.Listed{Path: filepath.Join(p, e.Name())}
			if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
				l.Size = fi.Size()
			}
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func (Conn) MkdirAll(_ context.Context, dir string) error {
	return wrap(os.MkdirAll(dir, format.PrivateDir))
}

func (Conn) Size(_ context.Context, p string) (int64, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return 0, wrap(err)
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("local: %s: not a regular file", p)
	}
	return fi.Size(), nil
}

func (Conn) ReadChecksum(_ context.Context, archive string) (string, error) {
	sum, err := format.ReadChecksumFile(archive)
	return sum, wrap(err)
}

func (Conn) WriteChecksum(_ context.Context, archive, sum string) error {
	if err := format.WriteChecksumFile(archive, sum); err != nil {
		return wrap(fmt.Errorf("%s%s: %w", archive, format.ChecksumSuffix, err))
	}
	return nil
}

func (Conn) OpenRead(_ context.Context, p string, off int64) (io.ReadCloser, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, wrap(err)
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return nil, wrap(err)
	}
	return f, nil
}

func (Conn) OpenWrite(_ context.Context, p string, off int64) (transport.Writer, error) {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, format.PrivateFile)
	if err != nil {
		return nil, wrap(err)
	}
	// A partial file an older version (or another tool) left readable to
	// others is made private before more of the archive goes into it.
	if err := f.Chmod(format.PrivateFile); err != nil {
		f.Close()
		return nil, wrap(err)
	}
	if err := f.Truncate(off); err != nil {
		f.Close()
		return nil, wrap(err)
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return nil, wrap(err)
	}
	return &writer{f: f}, nil
}

func (Conn) OpenWriteAt(_ context.Context, p string, off int64) (transport.Writer, error) {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return nil, wrap(err)
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return nil, wrap(err)
	}
	return &writer{f: f}, nil
}

// writer copies with a large buffer (the reader is wrapped for metering,
// so the kernel's copy_file_range cannot apply anyway) and syncs on Close:
// a drive may be unplugged right after the command ends.
type writer struct{ f *os.File }

func (w *writer) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	return n, wrap(err)
}

func (w *writer) ReadFrom(r io.Reader) (int64, error) {
	n, err := io.CopyBuffer(struct{ io.Writer }{w}, r, make([]byte, 1<<20))
	return n, err
}

func (w *writer) Abort() error { return wrap(w.f.Close()) }

func (w *writer) Close() error {
	err := w.f.Sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return wrap(err)
}

func (Conn) Sum(ctx context.Context, p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", wrap(err)
	}
	defer f.Close()
	sum, err := transport.HashReader(ctx, f)
	if err != nil {
		return "", fmt.Errorf("local: %s: %w", p, wrap(err))
	}
	return sum, nil
}

func (Conn) SegmentSums(ctx context.Context, p string, seg int64, n int) ([][32]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, wrap(err)
	}
	defer f.Close()
	sums, err := transport.HashSegments(ctx, f, seg, n)
	if err != nil {
		return nil, fmt.Errorf("local: %s: %w", p, wrap(err))
	}
	return sums, nil
}

func (Conn) Rename(_ context.Context, from, to string) error { return wrap(os.Rename(from, to)) }

func (Conn) Remove(_ context.Context, p string) error {
	err := os.Remove(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return wrap(err)
}

func (Conn) FreeSpace(_ context.Context, dir string) (int64, bool) { return statFree(dir) }

// statFree asks the file system for free space; tests replace it.
var statFree = freeSpace

// wrap prefixes the package name and marks a full disk as such, and a
// read-only file system (a write-protected drive) as permission denied, so
// the report names the cause and the engine does not retry. *PathError
// already names the file.
func wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case isNoSpace(err):
		return retry.MarkPermanent(fmt.Errorf("local: %w: %w", transport.ErrNoSpace, err))
	case isReadOnlyFS(err):
		return fmt.Errorf("local: %w: %w", fs.ErrPermission, err)
	}
	return fmt.Errorf("local: %w", err)
}
