package imap

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
)

// spool holds one message ready to send: its bytes with every line ending
// made CRLF (IMAP requires it and servers count sizes that way), their
// SHA-256, and whether they hold NUL bytes. Small messages stay in memory;
// larger ones go to a temporary file so memory stays flat whatever the
// message size.
type spool struct {
	mem  []byte
	file *os.File
	size int64
	sum  [32]byte
	nul  bool
	head []byte // the first bytes, enough for the header fields we read
}

const (
	spoolMemMax = 1 << 20  // bigger messages spill to disk
	headMax     = 32 << 10 // header bytes kept for Message-ID
)

// readSpool reads r to its end, normalising line endings. dir holds spill
// files ("" for the system's temporary directory).
func readSpool(r io.Reader, dir string) (*spool, error) {
	s := &spool{}
	h := sha256.New()
	var mem bytes.Buffer
	var out io.Writer = &mem
	buf := make([]byte, 32<<10)
	conv := make([]byte, 0, 2*len(buf)+1)
	prevCR := false
	emit := func(b []byte) error {
		h.Write(b)
		s.size += int64(len(b))
		if len(s.head) < headMax {
			s.head = append(s.head, b[:min(len(b), headMax-len(s.head))]...)
		}
		if s.file == nil && mem.Len()+len(b) > spoolMemMax {
			f, err := os.CreateTemp(dir, "mailhaul-spool-*")
			if err != nil {
				return err
			}
			os.Remove(f.Name()) // unlinked: gone however the run ends
			if _, err := f.Write(mem.Bytes()); err != nil {
				f.Close()
				return err
			}
			s.file, out = f, f
			mem = bytes.Buffer{}
		}
		_, err := out.Write(b)
		return err
	}
	for {
		n, rerr := r.Read(buf)
		conv = conv[:0]
		for _, c := range buf[:n] {
			switch {
			case c == '\n' && !prevCR:
				conv = append(conv, '\r', '\n')
			case c != '\n' && prevCR:
				conv = append(conv, '\n', c) // a bare CR ends a line too
			default:
				conv = append(conv, c)
			}
			if c == 0 {
				s.nul = true
			}
			prevCR = c == '\r'
		}
		if err := emit(conv); err != nil {
			s.close()
			return nil, fmt.Errorf("spool: %w", err)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			s.close()
			return nil, rerr
		}
	}
	if prevCR {
		if err := emit([]byte{'\n'}); err != nil {
			s.close()
			return nil, fmt.Errorf("spool: %w", err)
		}
	}
	copy(s.sum[:], h.Sum(nil))
	if s.file == nil {
		s.mem = mem.Bytes()
	}
	return s, nil
}

// open returns a reader of the whole message from its start.
func (s *spool) open() (io.Reader, error) {
	if s.file != nil {
		return io.NewSectionReader(s.file, 0, s.size), nil
	}
	return bytes.NewReader(s.mem), nil
}

// memBytes is what the spool holds in memory.
func (s *spool) memBytes() int64 { return int64(len(s.mem)) }

func (s *spool) close() {
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
	s.mem = nil
}
