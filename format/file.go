package format

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ArchiveName is the file name of an archive for user: "<user>.tgz" for a
// full export, "<user>.after-<cutoff>.tgz" for an incremental one, so a
// delta never replaces the archive it follows. A name starting with "."
// gets a "_" before it: a hidden archive is one that listings, file
// managers and backups pass over.
func ArchiveName(user string, after time.Time, c Compression) string {
	name := safeSegment(user)
	if strings.HasPrefix(name, ".") {
		name = "_" + name
	}
	if !after.IsZero() {
		name += ".after-" + after.UTC().Format("20060102T150405Z")
	}
	return name + c.Ext()
}

// IsArchiveName reports whether a file name looks like an archive.
func IsArchiveName(name string) bool {
	for _, ext := range []string{Gzip.Ext(), Zstd.Ext(), None.Ext()} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// Archives and what is extracted from them hold private mail: every such
// file mailhaul writes is its owner's alone, and so is every directory it
// creates for them (export, copy, pull, push's far side, extract).
const (
	PrivateFile fs.FileMode = 0o600
	PrivateDir  fs.FileMode = 0o700
)

// ChecksumSuffix is appended to an archive's name for its checksum file,
// which is in sha256sum's format.
const ChecksumSuffix = ".sha256"

// File is an archive being written to disk. It is written under a
// temporary name and renamed when Close has written the summary, so an
// archive with its final name is always complete. The checksum file is
// written from the bytes as they are written, without reading them back.
type File struct {
	*Writer
	path string
	tmp  *os.File
	buf  *bufio.Writer
	hash hash.Hash

	overwrite bool
}

// CreateOptions are the options of Create.
type CreateOptions struct {
	WriterOptions
	// Overwrite allows replacing an existing archive of the same name.
	Overwrite bool
}

// Create starts the archive for m.User in dir.
func Create(dir string, m Manifest, opt *CreateOptions) (*File, error) {
	var o CreateOptions
	if opt != nil {
		o = *opt
	}
	if o.Compression == "" {
		o.Compression = Gzip
	}
	final := filepath.Join(dir, ArchiveName(m.User, m.After, o.Compression))
	if !o.Overwrite {
		if _, err := os.Lstat(final); err == nil {
			return nil, fmt.Errorf("format: %s already exists (remove it or allow overwriting)", final)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("format: %w", err)
		}
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(final)+tempInfix+"*")
	if err != nil {
		return nil, fmt.Errorf("format: %w", err)
	}
	f := &File{path: final, tmp: tmp, hash: sha256.New(), overwrite: o.Overwrite}
	f.buf = bufio.NewWriterSize(io.MultiWriter(tmp, f.hash), 1<<20)
	if o.SpillDir == "" {
		o.SpillDir = dir
	}
	w, err := NewWriter(f.buf, m, &o.WriterOptions)
	if err != nil {
		f.Abort()
		return nil, err
	}
	f.Writer = w
	return f, nil
}

// tempInfix is in the name of an archive being written: "." + its final
// name + tempInfix + a random suffix.
const tempInfix = ".tmp-"

// IsTempName reports whether a file name is that of an archive being
// written, which a process killed while writing it leaves behind.
func IsTempName(name string) bool {
	i := strings.LastIndex(name, tempInfix) // the random part has none
	return strings.HasPrefix(name, ".") && i > 0 && IsArchiveName(name[1:i])
}

// Path is the archive's final path.
func (f *File) Path() string { return f.path }

// Close completes the archive: summary, flush, fsync, rename, checksum
// file. On error the temporary file is removed.
func (f *File) Close() error {
	err := f.Writer.Close()
	if err == nil {
		err = f.buf.Flush()
	}
	if err == nil {
		err = f.tmp.Sync()
	}
	if cerr := f.tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && !f.overwrite {
		// Another run may have finished the same archive meanwhile.
		if _, serr := os.Lstat(f.path); serr == nil {
			err = fmt.Errorf("%s appeared while it was being written", f.path)
		}
	}
	if err == nil {
		err = os.Rename(f.tmp.Name(), f.path)
	}
	if err == nil {
		err = WriteChecksumFile(f.path, hex.EncodeToString(f.hash.Sum(nil)))
	}
	if err != nil {
		os.Remove(f.tmp.Name())
		return fmt.Errorf("format: finish %s: %w", f.path, err)
	}
	return nil
}

// Abort discards an unfinished archive.
func (f *File) Abort() {
	if f.Writer != nil {
		f.Writer.abort()
	}
	f.tmp.Close()
	os.Remove(f.tmp.Name())
}

// WriteChecksumFile writes archive's checksum file ("<hex>  <name>\n", as
// sha256sum writes it), through a temporary name.
func WriteChecksumFile(archive, sum string) error {
	line := sum + "  " + filepath.Base(archive) + "\n"
	tmp := archive + ChecksumSuffix + ".tmp"
	if err := os.WriteFile(tmp, []byte(line), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, archive+ChecksumSuffix)
}

// ReadChecksumFile returns the hex SHA-256 recorded for archive.
func ReadChecksumFile(archive string) (string, error) {
	b, err := os.ReadFile(archive + ChecksumSuffix)
	if err != nil {
		return "", err
	}
	sum, name, ok := strings.Cut(strings.TrimSpace(string(b)), " ")
	name = strings.TrimPrefix(strings.TrimSpace(name), "*")
	if !ok || len(sum) != 64 || name != filepath.Base(archive) {
		return "", fmt.Errorf("format: %s%s: not a sha256sum line for %s", archive, ChecksumSuffix, filepath.Base(archive))
	}
	if _, err := hex.DecodeString(sum); err != nil {
		return "", fmt.Errorf("format: %s%s: %w", archive, ChecksumSuffix, err)
	}
	return strings.ToLower(sum), nil
}
