//go:build cgo

// Package libzstd compresses a stream with the system's libzstd, using its
// multithreaded encoder: the one `zstd -T0` runs, so an archive is as small
// as zstd's own output and as fast to make.
//
// The Go bindings that exist each lack something an archive needs:
// DataDog/zstd cannot turn on the frame's content checksum, which catches
// a corrupted byte anywhere in the stream, and valyala/gozstd has no
// multithreading. This package is the few calls mailhaul uses.
package libzstd

/*
#cgo LDFLAGS: -lzstd
#include <zstd.h>

// compress runs one ZSTD_compressStream2 step over Go-owned buffers passed
// as plain pointers: libzstd copies the input it takes and keeps no
// pointer to either buffer after it returns.
static size_t compress(ZSTD_CCtx *c, char *dst, size_t dstCap, size_t *dstPos,
		const char *src, size_t srcSize, size_t *srcPos, ZSTD_EndDirective end) {
	ZSTD_outBuffer out = {dst, dstCap, 0};
	ZSTD_inBuffer in = {src, srcSize, 0};
	size_t r = ZSTD_compressStream2(c, &out, &in, end);
	*dstPos = out.pos;
	*srcPos = in.pos;
	return r;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"unsafe"
)

// Writer compresses what is written to it into one zstd frame on the
// underlying writer. Close must be called to end the frame; it also
// releases the native encoder and its worker threads, on every path.
type Writer struct {
	w       io.Writer
	cctx    *C.ZSTD_CCtx
	cleanup runtime.Cleanup
	out     []byte
	err     error // the first error; the frame is dead after it
	closed  bool
}

// Options choose how a Writer compresses.
type Options struct {
	Level int // 1 to 19; above, zstd's "ultra" windows reach 128 MiB
	// Workers are threads compressing beside the caller's goroutine; 0
	// compresses on the caller's.
	Workers int
	// JobSize is the input each worker compresses at a time; 0 takes
	// libzstd's, four windows. Memory is a few jobs per worker plus the
	// level's tables: about 11 MB a worker at level 4, 90 MB at level 19.
	JobSize int
}

// NewWriter starts a frame on w. The frame carries a content checksum.
func NewWriter(w io.Writer, o Options) (*Writer, error) {
	cctx := C.ZSTD_createCCtx()
	if cctx == nil {
		return nil, errors.New("libzstd: out of memory")
	}
	z := &Writer{w: w, cctx: cctx, out: make([]byte, int(C.ZSTD_CStreamOutSize()))}
	for _, p := range []struct {
		name  string
		param C.ZSTD_cParameter
		value int
	}{
		{"level", C.ZSTD_c_compressionLevel, o.Level},
		{"checksum", C.ZSTD_c_checksumFlag, 1},
		{"workers", C.ZSTD_c_nbWorkers, o.Workers},
		{"job size", C.ZSTD_c_jobSize, o.JobSize},
	} {
		if r := C.ZSTD_CCtx_setParameter(cctx, p.param, C.int(p.value)); C.ZSTD_isError(r) != 0 {
			C.ZSTD_freeCCtx(cctx)
			return nil, fmt.Errorf("libzstd: %s %d: %s", p.name, p.value, C.GoString(C.ZSTD_getErrorName(r)))
		}
	}
	// A Writer dropped without Close must not keep its threads.
	z.cleanup = runtime.AddCleanup(z, func(c *C.ZSTD_CCtx) { C.ZSTD_freeCCtx(c) }, cctx)
	return z, nil
}

// Write compresses p. libzstd blocks while all its workers are busy, so
// memory stays at its job buffers however fast the caller writes.
func (z *Writer) Write(p []byte) (int, error) {
	if z.closed {
		return 0, errors.New("libzstd: write after close")
	}
	n := 0
	for len(p) > 0 && z.err == nil {
		taken, _ := z.step(p, C.ZSTD_e_continue)
		p, n = p[taken:], n+taken
	}
	return n, z.err
}

// Close ends the frame, writes what remains and releases the encoder.
func (z *Writer) Close() error {
	if z.closed {
		return z.err
	}
	z.closed = true
	for z.err == nil {
		if _, remaining := z.step(nil, C.ZSTD_e_end); remaining == 0 {
			break
		}
	}
	z.cleanup.Stop()
	C.ZSTD_freeCCtx(z.cctx)
	z.cctx = nil
	return z.err
}

// Discard releases the encoder without ending the frame, for a stream
// that is thrown away: finishing what the workers hold would cost
// seconds at high levels for nothing.
func (z *Writer) Discard() {
	if z.closed {
		return
	}
	z.closed = true
	z.err = errors.New("libzstd: discarded")
	z.cleanup.Stop()
	C.ZSTD_freeCCtx(z.cctx)
	z.cctx = nil
}

// step runs one compression step over in, writes the output it made and
// returns how much of in was taken and libzstd's count of bytes still to
// flush (meaningful for ZSTD_e_end).
func (z *Writer) step(in []byte, end C.ZSTD_EndDirective) (taken int, remaining int) {
	var src *C.char
	if len(in) > 0 {
		src = (*C.char)(unsafe.Pointer(&in[0]))
	}
	var dstPos, srcPos C.size_t
	r := C.compress(z.cctx, (*C.char)(unsafe.Pointer(&z.out[0])), C.size_t(len(z.out)), &dstPos,
		src, C.size_t(len(in)), &srcPos, end)
	if C.ZSTD_isError(r) != 0 {
		z.err = fmt.Errorf("libzstd: %s", C.GoString(C.ZSTD_getErrorName(r)))
		return int(srcPos), 0
	}
	if dstPos > 0 {
		if _, err := z.w.Write(z.out[:dstPos]); err != nil {
			z.err = err
		}
	}
	return int(srcPos), int(r)
}
