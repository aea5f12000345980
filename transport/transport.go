// Package transport moves archives (each with its .sha256) between places:
// local folders (a mounted drive) and SFTP servers. Every archive is written
// under a temporary name, checked against its .sha256 by reading the bytes
// that arrived, and only then renamed; an interrupted transfer resumes from
// the last boundary both sides agree on. See README.md for why.
//
// The engine (Run) is the same for every pair of places; a place is an
// Endpoint, and each concurrent transfer gets its own Conn to it.
package transport

import (
	"context"
	"io"

	"github.com/mailhaul/mailhaul/report"
)

// Endpoint is a place archives are kept. Connect is called once per
// concurrent transfer and again after a lost connection; the Conns it
// returns may share one network connection (see transport/sftp's pool).
type Endpoint interface {
	Connect(ctx context.Context) (Conn, error)
	// String names the place for messages and reports, without secrets.
	String() string
}

// Conn is one connection to an Endpoint. Paths are in the endpoint's own
// syntax; Join builds them. Errors name the path and the cause.
type Conn interface {
	// List returns the archives at p: p itself when it names an archive
	// file, otherwise the archives directly inside the directory p, with
	// their sizes as listed (for progress; the transfer asks again).
	List(ctx context.Context, p string) ([]Listed, error)
	Join(dir, name string) string
	MkdirAll(ctx context.Context, dir string) error
	// Size returns the size of the file p; an error wrapping
	// fs.ErrNotExist when there is none.
	Size(ctx context.Context, p string) (int64, error)
	// ReadChecksum returns the hex SHA-256 in archive's .sha256 file.
	ReadChecksum(ctx context.Context, archive string) (string, error)
	// WriteChecksum writes archive's .sha256 file, through a temporary name.
	WriteChecksum(ctx context.Context, archive, sum string) error
	// OpenRead opens p for reading from offset off.
	OpenRead(ctx context.Context, p string, off int64) (io.ReadCloser, error)
	// OpenWrite opens p for writing at offset off, creating it, and cuts
	// it to off bytes: what lies beyond a verified boundary is not trusted.
	OpenWrite(ctx context.Context, p string, off int64) (Writer, error)
	// OpenWriteAt opens p, which OpenWrite made, for writing at offset
	// off without cutting it: several connections write one archive's
	// chunks at once.
	OpenWriteAt(ctx context.Context, p string, off int64) (Writer, error)
	// Sum returns the hex SHA-256 of the bytes stored in p, computed from
	// the stored bytes (not from what was sent).
	Sum(ctx context.Context, p string) (string, error)
	// SegmentSums returns the SHA-256 of each of the first n segments of
	// size seg of p, from the stored bytes.
	SegmentSums(ctx context.Context, p string, seg int64, n int) ([][32]byte, error)
	// Rename renames from to to, replacing to.
	Rename(ctx context.Context, from, to string) error
	Remove(ctx context.Context, p string) error
	// FreeSpace returns the bytes available in dir, if the place can tell.
	FreeSpace(ctx context.Context, dir string) (int64, bool)
	Close() error
}

// Writer receives one file's bytes.
type Writer interface {
	io.Writer
	// ReadFrom copies r to the file; places that pipeline writes do it here.
	io.ReaderFrom
	// Close makes the written bytes durable (fsync where the place has it)
	// and closes the file.
	Close() error
	// Abort closes the file without making it durable: the transfer
	// failed, and a later one checks what it left before trusting it; or
	// it wrote one chunk of an archive whose first handle's Close syncs
	// the whole file (fsync covers every descriptor's writes).
	Abort() error
}

// Sender is implemented by readers that are fastest when they push the data
// themselves (pkg/sftp pipelines reads only in WriteTo): the engine then
// calls Send instead of reading.
type Sender interface {
	Send(w io.Writer) (int64, error)
}

// Listed is an archive a listing found.
type Listed struct {
	Path string
	Size int64
}

// Job is one archive to move: Src on the source endpoint to Dst on the
// destination (the final name; the .sha256 travels with it).
type Job struct {
	Name string `json:"name"`
	Src  string `json:"src"`
	Dst  string `json:"dst"`
	// Listed is the size the listing gave, for progress totals.
	Listed int64 `json:"-"`
}

// result is j's line in the report, before anything is known.
func (j Job) result() report.TransferFile {
	return report.TransferFile{Name: j.Name, Src: j.Src, Dst: j.Dst}
}

// PartialSuffix marks an archive still arriving; it is renamed to its final
// name only when complete and verified.
const PartialSuffix = ".partial"
