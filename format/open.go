package format

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// FileReader is a Reader of an archive file.
type FileReader struct {
	*Reader
	f *os.File
}

// Open opens the archive at path for reading. Errors name the file.
func Open(path string, opt *ReaderOptions) (*FileReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("format: %w", err)
	}
	o := ReaderOptions{}
	if opt != nil {
		o = *opt
	}
	if o.Name == "" {
		o.Name = path
	}
	r, err := NewReader(f, &o)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &FileReader{Reader: r, f: f}, nil
}

// Close closes the reader and the file.
func (fr *FileReader) Close() error {
	fr.Reader.Close()
	return fr.f.Close()
}

// Verification is what Verify found in one archive.
type Verification struct {
	Path     string
	Manifest Manifest
	Summary  Summary
	SHA256   string // of the archive file as read
	// ChecksumFile is false when there was no .sha256 file beside the
	// archive to compare with.
	ChecksumFile bool
	// Notes are the reader's notes (a folder read under a safe path).
	Notes []string
}

// Verify reads the archive at path completely: the file's SHA-256 against
// its checksum file, the structure, every item's checksum, and the summary
// against what the archive holds. It returns the first problem found.
func Verify(ctx context.Context, path string) (*Verification, error) {
	want, err := ReadChecksumFile(path)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("format: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	tee := io.TeeReader(f, h)
	r, err := NewReader(tee, &ReaderOptions{Name: path})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	v := &Verification{Path: path, Manifest: r.Manifest(), ChecksumFile: !missing}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		v.Notes = append(v.Notes, e.Notes...)
		if e.Summary != nil {
			v.Summary = *e.Summary
		}
	}
	// The tar stream ends before the compressor's trailer and any bytes
	// after it; the file checksum covers every byte.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return nil, fmt.Errorf("format: %s: %w", path, err)
	}
	v.SHA256 = hex.EncodeToString(h.Sum(nil))
	if !missing && v.SHA256 != want {
		return v, &Error{Archive: path, Err: fmt.Errorf("%w: file SHA-256 %s, %s says %s", ErrChecksum, v.SHA256, filepath.Base(path)+ChecksumSuffix, want)}
	}
	return v, nil
}
