package sftp

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/transport"
	"github.com/mailhaul/mailhaul/transport/local"
)

func itoa(i int) string { return strconv.Itoa(i) }

func localEP() transport.Endpoint { return local.Endpoint{} }

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// corruptBeforeCheck is an endpoint whose stored partial files get a byte
// flipped just before they are checked, as a faulty disk would.
type corruptBeforeCheck struct {
	transport.Endpoint
	t *testing.T
}

func (e corruptBeforeCheck) Connect(ctx context.Context) (transport.Conn, error) {
	c, err := e.Endpoint.Connect(ctx)
	return corruptConn{c, e.t}, err
}

type corruptConn struct {
	transport.Conn
	t *testing.T
}

func (c corruptConn) Sum(ctx context.Context, p string) (string, error) {
	if strings.HasSuffix(p, transport.PartialSuffix) {
		flipByte(c.t, p, 10)
	}
	return c.Conn.Sum(ctx, p)
}

func TestReadLineBoundedRefusesEndlessLines(t *testing.T) {
	r := bufio.NewReaderSize(strings.NewReader(strings.Repeat("x", 10000)+"\nnext\n"), 16)
	if _, err := readLineBounded(r, 5000); !errors.Is(err, errTooMuchOutput) {
		t.Errorf("a 10,000-byte line with a 5,000-byte bound: err %v, want errTooMuchOutput", err)
	}
	r = bufio.NewReaderSize(strings.NewReader("abc\nrest"), 16)
	if line, err := readLineBounded(r, 100); line != "abc\n" || err != nil {
		t.Errorf("readLineBounded = %q, %v; want the first line", line, err)
	}
	if line, err := readLineBounded(r, 100); line != "rest" || err != io.EOF {
		t.Errorf("last line without newline = %q, %v; want \"rest\", io.EOF", line, err)
	}
}
