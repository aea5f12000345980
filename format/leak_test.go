package format

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// ended fails unless bw's writer goroutine has returned: one left waiting
// on its queue keeps the compression buffers for the life of the process.
func ended(t *testing.T, name string, bw *blockWriter) {
	t.Helper()
	select {
	case <-bw.done:
	case <-time.After(10 * time.Second):
		t.Errorf("%s: the block writer's goroutine still runs", name)
	}
}

// Close and abort end the compressor's goroutines whether the archive
// was written, half written, or its disk failed.
func TestCloseAndAbortEndTheCompressor(t *testing.T) {
	for _, tc := range []struct {
		name   string
		out    io.Writer
		finish func(*Writer)
	}{
		{"closed", io.Discard, func(w *Writer) { w.Close() }},
		{"aborted", io.Discard, func(w *Writer) { w.abort() }},
		{"closed after a write error", &brokenWriter{after: 1}, func(w *Writer) { w.Close() }},
		{"aborted after a write error", &brokenWriter{after: 1}, func(w *Writer) { w.abort() }},
		{"aborted twice, then closed", io.Discard, func(w *Writer) { w.abort(); w.abort(); w.Close() }},
	} {
		w, err := NewWriter(tc.out, testManifest(), &WriterOptions{Compression: Gzip, Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		bw := w.zw.(*crcWriter).blockWriter
		w.AddFolder(Folder{Path: "INBOX", Kind: FolderMail})
		body := append([]byte("Subject: x\r\n\r\n"), mixedData(gzipBlockSize+1000, 1)...) // a block in flight when it ends
		if err := w.AddItem(Item{Folder: "INBOX", SourceID: "1", Kind: KindMessage}, bytes.NewReader(body)); err != nil && tc.out == io.Discard {
			t.Fatal(err)
		}
		tc.finish(w)
		ended(t, tc.name, bw)
	}
	// The pure-Go zstd encoder (builds without cgo) uses the same block
	// writer.
	for _, broken := range []bool{false, true} {
		var out io.Writer = io.Discard
		if broken {
			out = &brokenWriter{after: 1}
		}
		zw, err := newZstdWriter(out, zstd.SpeedFastest, 2, 64<<10)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(mixedData(1<<20, 2))
		zw.Close()
		ended(t, "zstd", zw.(*closeAlso).WriteCloser.(*blockWriter))
	}
}
