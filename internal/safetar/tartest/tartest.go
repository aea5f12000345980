// Package tartest crafts tar streams, valid or hostile, and compresses
// them, for the tests of safetar and of the readers built on it.
package tartest

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Entry is one entry of a crafted stream.
type Entry struct {
	Name string
	Type byte // 0 means a regular file
	Body []byte
	Link string
}

// Craft writes ents as a PAX tar stream with modification time mod. A
// regular file's size is its body's; other types have no data.
func Craft(t testing.TB, mod time.Time, ents ...Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		typ := e.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.Name, Typeflag: typ, Mode: 0o644, Linkname: e.Link, ModTime: mod, Format: tar.FormatPAX}
		switch typ {
		case tar.TypeReg:
			hdr.Size = int64(len(e.Body))
		case tar.TypeXGlobalHeader:
			hdr = &tar.Header{Name: e.Name, Typeflag: typ, PAXRecords: map[string]string{"comment": "x"}}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("craft %s: %v", e.Name, err)
		}
		if _, err := tw.Write(e.Body); err != nil {
			t.Fatalf("craft %s: %v", e.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Compress compresses plain with the codec named "gzip" or "zstd", at
// the packages' default levels; any other name returns plain as it is.
func Compress(t testing.TB, codec string, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var zw io.WriteCloser
	switch codec {
	case "gzip":
		zw = gzip.NewWriter(&buf)
	case "zstd":
		var err error
		if zw, err = zstd.NewWriter(&buf); err != nil {
			t.Fatal(err)
		}
	default:
		return plain
	}
	if _, err := zw.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
