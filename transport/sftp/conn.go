package sftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/pkg/sftp"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/transport"
)

// Conn is one transfer's use of a connection from the endpoint's pool
// (pool.go), which other transfers may share; it implements
// transport.Conn.
type Conn struct {
	ep *Endpoint
	*link
	once sync.Once
}

// Close gives the connection back to the pool.
func (c *Conn) Close() error {
	c.once.Do(func() { c.ep.release(c.link) })
	return nil
}

func (c *Conn) Join(dir, name string) string { return path.Join(dir, name) }

// wrap names the operation and path, and sorts the cause: a broken
// connection (retried), permission, missing file, or a write the server
// refused while its disk is full.
func (c *Conn) wrap(op, p string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	err = fmt.Errorf("sftp: %s %s: %w", op, p, err)
	if c.lost(err) {
		c.broken.Store(true)
		return transport.ConnLost(err)
	}
	return err
}

// lost reports whether err comes from a broken connection rather than
// from the server's answer.
func (c *Conn) lost(err error) bool {
	var se *sftp.StatusError
	var ne net.Error
	switch {
	case errors.Is(err, sftp.ErrSSHFxConnectionLost), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), errors.As(err, &ne):
		return true
	case errors.As(err, &se), errors.Is(err, fs.ErrPermission), errors.Is(err, fs.ErrNotExist):
		return false
	}
	// Anything else counts as lost only if the connection is indeed gone;
	// the end of the connection can trail the error a little.
	select {
	case <-c.dead:
		return true
	case <-time.After(200 * time.Millisecond):
		return false
	}
}

// writeError explains a failed write. OpenSSH's sftp-server reports a full
// disk only as "Failure", so the free space decides.
func (c *Conn) writeError(p string, err error) error {
	return c.explainNoSpace(p, c.wrap("write", p, err))
}

// explainNoSpace marks a refused write or sync as a full disk when the
// free space says so.
func (c *Conn) explainNoSpace(p string, err error) error {
	if err != nil && !retry.IsRetryable(err) && c.statvfs {
		if st, serr := c.c.StatVFS(path.Dir(p)); serr == nil && st.FreeSpace() < 1<<20 {
			return retry.MarkPermanent(fmt.Errorf("%w (%d bytes free there): %w", transport.ErrNoSpace, st.FreeSpace(), err))
		}
	}
	return err
}

func (c *Conn) List(ctx context.Context, p string) ([]transport.Listed, error) {
	fi, err := c.c.Stat(p)
	if err != nil {
		return nil, c.wrap("list", p, err)
	}
	if !fi.IsDir() {
		if !format.IsArchiveName(fi.Name()) {
			return nil, fmt.Errorf("sftp: %s: not an archive (*.tgz, *.tar.zst, *.tar)", p)
		}
		return []transport.Listed{{Path: p, Size: fi.Size()}}, nil
	}
	ents, err := c.c.ReadDirContext(ctx, p)
	if err != nil {
		return nil, c.wrap("list", p, err)
	}
	var out []transport.Listed
	for _, e := range ents {
		// As in transport/local: nothing named like an archive is passed
		// over in silence.
		if format.IsArchiveName(e.Name()) {
			l := transport.Listed{Path: path.Join(p, e.Name())}
			if e.Mode().IsRegular() {
				l.Size = e.Size()
			}
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// MkdirAll creates dir and its missing parents for the owner alone. SFTP
// as pkg/sftp speaks it sends no mode with mkdir, so sftp-server makes a
// directory under its umask (0755, usually); each one made here is set to
// 0700 at once, before anything goes into it.
func (c *Conn) MkdirAll(_ context.Context, dir string) error {
	return c.wrap("create directory", dir, c.mkdirAll(dir))
}

func (c *Conn) mkdirAll(dir string) error {
	fi, err := c.c.Stat(dir)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil:
		return &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if parent := path.Dir(dir); parent != dir {
		if err := c.mkdirAll(parent); err != nil {
			return err
		}
	}
	if err := c.c.Mkdir(dir); err != nil {
		// Another transfer may have made it meanwhile.
		if fi, serr := c.c.Stat(dir); serr == nil && fi.IsDir() {
			return nil
		}
		return err
	}
	return c.c.Chmod(dir, format.PrivateDir)
}

func (c *Conn) Size(_ context.Context, p string) (int64, error) {
	fi, err := c.c.Stat(p)
	if err != nil {
		return 0, c.wrap("stat", p, err)
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("sftp: %s: not a regular file", p)
	}
	return fi.Size(), nil
}

// ReadChecksum reads archive.sha256 over SFTP into a temporary local file
// so format's parser, the one `mailhaul verify` uses, reads it.
func (c *Conn) ReadChecksum(_ context.Context, archive string) (string, error) {
	name := archive + format.ChecksumSuffix
	f, err := c.c.Open(name)
	if err != nil {
		return "", c.wrap("open", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", c.wrap("read", name, err)
	}
	dir, err := os.MkdirTemp("", "mailhaul-sum-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	local := path.Join(dir, path.Base(archive))
	if err := os.WriteFile(local+format.ChecksumSuffix, b, 0o600); err != nil {
		return "", err
	}
	sum, err := format.ReadChecksumFile(local)
	if err != nil {
		return "", fmt.Errorf("sftp: %s: not a sha256sum line for %s", name, path.Base(archive))
	}
	return sum, nil
}

// WriteChecksum writes the line format.WriteChecksumFile writes, through a
// temporary name.
func (c *Conn) WriteChecksum(ctx context.Context, archive, sum string) error {
	name := archive + format.ChecksumSuffix
	tmp := name + ".tmp"
	f, err := c.c.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return c.wrap("create", tmp, err)
	}
	_, err = f.Write([]byte(sum + "  " + path.Base(archive) + "\n"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return c.writeError(tmp, err)
	}
	return c.Rename(ctx, tmp, name)
}

// reader downloads with WriteTo, which keeps many reads in flight; as a
// plain io.Reader it would wait a round trip per 32 KiB.
type reader struct {
	c *Conn
	f *sftp.File
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	if err == io.EOF {
		return n, err
	}
	return n, r.c.wrap("read", r.f.Name(), err)
}

func (r *reader) Send(w io.Writer) (int64, error) {
	ew := &errWriter{w: w}
	n, err := r.f.WriteTo(ew)
	if err != nil && ew.err != nil && errors.Is(err, ew.err) {
		// The writer's own error (a full local disk, the end of a
		// chunk): no sign of a lost connection.
		return n, fmt.Errorf("sftp: read %s: %w", r.f.Name(), err)
	}
	return n, r.c.wrap("read", r.f.Name(), err)
}

// errWriter remembers the error its writer gave.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

func (r *reader) Close() error { return r.f.Close() }

func (c *Conn) OpenRead(_ context.Context, p string, off int64) (io.ReadCloser, error) {
	f, err := c.c.Open(p)
	if err != nil {
		return nil, c.wrap("open", p, err)
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return nil, c.wrap("seek", p, err)
	}
	return &reader{c: c, f: f}, nil
}

// writer uploads with ReadFromWithConcurrency: many writes in flight
// whatever the reader is (the engine's reader meters, so pkg/sftp cannot
// see its size).
type writer struct {
	c   *Conn
	f   *sftp.File
	ctx context.Context // the transfer's, for the sync in Close
}

func (w *writer) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	return n, w.c.writeError(w.f.Name(), err)
}

func (w *writer) ReadFrom(r io.Reader) (int64, error) {
	n, err := w.f.ReadFromWithConcurrency(r, writesInFlight)
	return n, w.c.writeError(w.f.Name(), err)
}

// Close asks the server to fsync (when it offers fsync@openssh.com), so a
// renamed archive is on its disk, not only in its cache. On a connection
// other transfers use too, the file is closed first and synced by other
// means, so the shared session does not wait for the disk: by the hashing
// shell's sync when the server's takes file names, else through the side
// connection (pool.go). fsync flushes the file, whichever descriptor asks.
func (w *writer) Close() error {
	name := w.f.Name()
	if !w.c.fsync {
		return w.c.writeError(name, w.f.Close())
	}
	if !w.c.ep.shared(w.c.link) {
		err := w.f.Sync()
		if cerr := w.f.Close(); err == nil {
			err = cerr
		}
		return w.c.writeError(name, err)
	}
	if err := w.f.Close(); err != nil {
		return w.c.writeError(name, err)
	}
	var err error
	if h := &w.c.ep.hashing; h.command(w.ctx, w.c.ep) != "" && h.fileSync {
		// With the hashes, in one command (batch.go).
		if err = h.do(w.ctx, w.c.ep, &fileOp{path: name, sync: true}); err != nil {
			err = fmt.Errorf("sftp: sync %s: %w", name, err)
		}
	} else {
		err = w.c.ep.sync(w.ctx, name)
	}
	return w.c.explainNoSpace(name, err)
}

// Abort closes the file without syncing it: a transfer that failed leaves
// a partial file a later run checks anyway.
func (w *writer) Abort() error { return w.f.Close() }

// OpenWrite opens without O_APPEND: sftp-server ignores offsets on append
// handles, and resuming needs them.
func (c *Conn) OpenWrite(ctx context.Context, p string, off int64) (transport.Writer, error) {
	flags := os.O_WRONLY | os.O_CREATE
	if off == 0 {
		flags |= os.O_TRUNC
	}
	f, err := c.c.OpenFile(p, flags)
	if err != nil {
		return nil, c.wrap("create", p, err)
	}
	// sftp-server creates the file under its umask (0644, usually), and
	// pkg/sftp cannot send a mode with the open: the file is made the
	// owner's alone before a byte of mail goes into it (a resumed one too).
	if err := f.Chmod(format.PrivateFile); err != nil {
		f.Close()
		return nil, c.wrap("chmod", p, err)
	}
	if off > 0 {
		if err := f.Truncate(off); err != nil {
			f.Close()
			return nil, c.wrap("truncate", p, err)
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return nil, c.wrap("seek", p, err)
		}
	}
	return &writer{c: c, f: f, ctx: ctx}, nil
}

// OpenWriteAt opens a partial file OpenWrite made (and made private) for
// one chunk, written by another connection than the rest.
func (c *Conn) OpenWriteAt(ctx context.Context, p string, off int64) (transport.Writer, error) {
	f, err := c.c.OpenFile(p, os.O_WRONLY)
	if err != nil {
		return nil, c.wrap("open", p, err)
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return nil, c.wrap("seek", p, err)
	}
	return &writer{c: c, f: f, ctx: ctx}, nil
}

// Rename uses posix-rename@openssh.com, which replaces the target in one
// step; plain SFTP rename refuses an existing target, so without the
// extension the old file is removed first.
func (c *Conn) Rename(_ context.Context, from, to string) error {
	if c.posixRename {
		return c.wrap("rename", from, c.c.PosixRename(from, to))
	}
	if err := c.c.Remove(to); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return c.wrap("remove", to, err)
	}
	return c.wrap("rename", from, c.c.Rename(from, to))
}

func (c *Conn) Remove(_ context.Context, p string) error {
	err := c.c.Remove(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return c.wrap("remove", p, err)
}

func (c *Conn) FreeSpace(_ context.Context, dir string) (int64, bool) {
	if !c.statvfs {
		return 0, false
	}
	st, err := c.c.StatVFS(dir)
	if err != nil {
		return 0, false
	}
	return int64(st.FreeSpace()), true
}
